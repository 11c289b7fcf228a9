"""The nightly audit: the job QA runs from cron and reads every morning (config, sampling,
early warnings, agent metrics, the day's report)."""
