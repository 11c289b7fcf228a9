"""callaudit.yaml: one file for the nightly job, validated like rule files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.rules.base import SIGNALS, STANDARDS
from engine.rules.problems import Location, Problem, RulePackError
from engine.rules.yamlsource import Node, parse, read_source
from engine.transcripts.remote import is_url

LEVELS = ("notice", "warning", "critical")  # ascending
WINDOWS = {"day": 1, "7d": 7, "30d": 30}

DEFAULT_CONFIG = """\
# callaudit workspace configuration. Every callaudit command run in this folder or in one
# below it uses it; `callaudit nightly --date YYYY-MM-DD` runs a night. Each key is
# described in callaudit's docs/workspace.md. Paths are relative to this file.

# Where the call platform drops transcripts: one folder per day (transcripts/2026-11-23/),
# or any files, of which the night's calls are those started on the date. A storage URL
# works the same way (s3://bucket/calls, with s3fs installed).
transcripts: transcripts
rules: rules                    # the rule packs (zh-CN/, en-US/) and actions.yaml
database: callaudit-ledger.db   # the ledger: callbacks, blacklist, do-not-call, trials
reports: reports                # one folder per night: reports/2026-11-23/
mask_phone_numbers: true        # in every report; false shows full numbers
retention_days: 365             # `callaudit purge` removes the words of older calls
on_empty_night: fail            # no transcripts for the date: fail (exit 6) or warn (exit 0)
# Recordings instead of (or beside) transcripts: one folder per day (recordings/2026-11-23/),
# transcribed into the night's transcripts folder before the audit. A day folder of
# transcripts: that holds recordings is transcribed the same way without this key.
# recordings: recordings

# Human review, as the centre's practice: 10% of valid sales daily for the listening
# review, 5% weekly for quality supervisors; agents flagged by failed calls get more.
sampling:
  daily_rate: 0.10
  weekly_rate: 0.05
  flagged_agent_rate: 0.30
  seed: 7                       # same night, same seed: the same sample

# Early warning (投诉预警): when a category passes a level within its window, the alert
# goes to the person responsible, into the report and alerts.json.
warnings:
  - id: complaint-risk
    category: {signal: complaint_risk}
    window: 7d
    levels: {notice: 2, warning: 5, critical: 10}
    responsible: 投诉处理组
  - id: consent-violations
    category: {standard: consent}
    window: day
    levels: {notice: 3, warning: 6, critical: 12}
    responsible: 质检组长
  - id: opt-outs
    category: {signal: opt_out}
    window: day
    levels: {notice: 5, warning: 10, critical: 20}
    responsible: 外呼经理

report:
  trend_weeks: 6                # weeks of history in the trend chart
"""


@dataclass(frozen=True)
class WarningRule:
    """A threshold on a category of findings over a window, with levels."""

    id: str
    kind: str  # "standard", "signal" or "rule"
    value: str
    window_days: int
    levels: tuple[tuple[str, int], ...]  # (level, threshold), ascending
    responsible: str
    location: Location


@dataclass(frozen=True)
class NightlyConfig:
    path: Path
    transcripts: Path | str  # a folder, or a storage URL (s3://bucket/calls/)
    rules: Path
    database: Path
    reports: Path
    mask: bool = True
    daily_rate: float = 0.10
    weekly_rate: float = 0.05
    flagged_rate: float = 0.30
    seed: int = 7
    warnings: tuple[WarningRule, ...] = ()
    trend_weeks: int = 6
    retention_days: int = 365
    on_empty_night: str = "fail"  # a night with no transcripts: "fail" (exit 6) or "warn"
    # Where the call platform stores recordings, one folder per day (recordings/2026-11-23/):
    # each night transcribes its own into the night's transcripts before the audit.
    recordings: Path | None = None
    # recordings: how the platform lays out a call (docs/workspace.md, `recordings`).
    pair: tuple[str, str] | None = None  # the agent's and the customer's file names
    call_records: Path | None = None  # the platform's call-record CSV
    call_record_columns: tuple[tuple[str, str], ...] = ()  # (our name, the CSV's column)
    problems: tuple[Problem, ...] = field(default=(), compare=False)


KEYS = frozenset(
    {
        "transcripts",
        "retention_days",
        "rules",
        "database",
        "reports",
        "mask_phone_numbers",
        "sampling",
        "warnings",
        "report",
        "on_empty_night",
        "recordings",
    }
)


def load_config(path: Path) -> NightlyConfig:
    """Read and validate callaudit.yaml; every problem collected, then RulePackError."""
    source = read_source(path, "the config", "run `callaudit init` to write a commented default")
    root = parse(source)
    fields = root.mapping("callaudit.yaml", KEYS) if root is not None else None
    fields = fields or {}
    base = path.resolve().parent

    def folder(key: str, default: str) -> Path:
        value = fields[key].text(key) if key in fields else default
        return (base / Path(value or default).expanduser()).resolve()

    def transcripts() -> Path | str:
        value = fields["transcripts"].text("transcripts") if "transcripts" in fields else None
        return value if is_url(value) else folder("transcripts", "transcripts")

    sampling = (
        fields["sampling"].mapping(
            "sampling", frozenset({"daily_rate", "weekly_rate", "flagged_agent_rate", "seed"})
        )
        if "sampling" in fields
        else {}
    )
    sampling = sampling or {}

    def rate(key: str, default: float) -> float:
        if key not in sampling:
            return default
        value = sampling[key].number(key)
        if value is not None and value > 1:
            sampling[key].error(
                f"{key} must be a fraction from 0 to 1, not {value}", "write 10% as 0.10"
            )
        return default if value is None else value

    report = (
        fields["report"].mapping("report", frozenset({"trend_weeks"})) if "report" in fields else {}
    )
    report = report or {}
    config = NightlyConfig(
        path=path,
        transcripts=transcripts(),
        rules=folder("rules", "rules"),
        database=folder("database", "callaudit-ledger.db"),
        reports=folder("reports", "reports"),
        mask=(fields["mask_phone_numbers"].boolean("mask_phone_numbers") is not False)
        if "mask_phone_numbers" in fields
        else True,
        daily_rate=rate("daily_rate", 0.10),
        weekly_rate=rate("weekly_rate", 0.05),
        flagged_rate=rate("flagged_agent_rate", 0.30),
        seed=(sampling["seed"].integer("seed", 0, 2**31) or 0) if "seed" in sampling else 7,
        warnings=tuple(_warnings(fields["warnings"])) if "warnings" in fields else (),
        trend_weeks=(report["trend_weeks"].integer("trend_weeks", 1, 52) or 6)
        if "trend_weeks" in report
        else 6,
        retention_days=(fields["retention_days"].integer("retention_days", 1, 36500) or 365)
        if "retention_days" in fields
        else 365,
        on_empty_night=(fields["on_empty_night"].choice("on_empty_night", ("fail", "warn"))
                        or "fail") if "on_empty_night" in fields else "fail",
    )
    # `recordings:` is the recordings' folder, or a mapping: folder, pair, call_records.
    if "recordings" in fields and fields["recordings"].is_mapping():
        where, pair, records, columns = _recordings(fields["recordings"], base)
        config = replace(config, recordings=where, pair=pair, call_records=records,
                         call_record_columns=columns)
    elif "recordings" in fields:
        config = replace(config, recordings=folder("recordings", "recordings"))
    errors = [p for p in source.problems if p.level == "error"]
    if errors:
        raise RulePackError(errors)
    return config


def _recordings(node: Node, base: Path) -> tuple[
        Path | None, tuple[str, str] | None, Path | None, tuple[tuple[str, str], ...]]:
    from engine.audio.transcribe import CALL_RECORD_COLUMNS, parse_pair

    f = node.mapping("recordings", frozenset({"folder", "pair", "call_records"})) or {}
    where = None
    if "folder" in f and (name := f["folder"].text("folder")) is not None:
        where = (base / Path(name).expanduser()).resolve()
    pair = None
    if "pair" in f:
        text = f["pair"].text("pair")
        try:
            pair = parse_pair(text) if text is not None else None
        except ValueError as exc:
            f["pair"].error(str(exc), 'write e.g. "{call_id}_A.wav,{call_id}_C.wav"')
    records: Path | None = None
    columns: tuple[tuple[str, str], ...] = ()
    if "call_records" in f:
        r = f["call_records"].mapping("call_records", frozenset({"file", "columns"})) or {}
        if "file" in r and (name := r["file"].text("file")) is not None:
            records = (base / Path(name).expanduser()).resolve()
        if "columns" in r:
            mapped = r["columns"].mapping("columns", frozenset(CALL_RECORD_COLUMNS)) or {}
            columns = tuple((ours, theirs) for ours, value in mapped.items()
                            if (theirs := value.text(ours)) is not None)
    return where, pair, records, columns


def _warnings(node: Node) -> list[WarningRule]:
    found = []
    for item in node.items("warnings"):
        f = item.mapping(
            "a warning",
            frozenset({"id", "category", "window", "levels", "responsible"}),
            frozenset({"id", "category", "window", "levels"}),
        )
        if not f or not {"id", "category", "window", "levels"} <= set(f):
            continue
        category = f["category"].mapping("category", frozenset({"standard", "signal", "rule"}))
        if not category or len(category) != 1:
            f["category"].error(
                "category must be one of: standard, signal, rule", "write e.g. {standard: consent}"
            )
            continue
        ((kind, value_node),) = category.items()
        options = {"standard": STANDARDS, "signal": SIGNALS}.get(kind)
        value = value_node.choice(kind, options) if options else value_node.text(kind)
        window = f["window"].choice("window", tuple(WINDOWS))
        levels_map = f["levels"].mapping("levels", frozenset(LEVELS)) or {}
        levels = tuple(
            (name, levels_map[name].integer(name, 1)) for name in LEVELS if name in levels_map
        )
        if any(n is None for _, n in levels):
            continue
        if [n for _, n in levels] != sorted(n for _, n in levels):
            f["levels"].error("levels must rise: notice ≤ warning ≤ critical")
            continue
        identifier = f["id"].text("id")
        if value is None or window is None or identifier is None or not levels:
            continue
        found.append(
            WarningRule(
                identifier,
                kind,
                value,
                WINDOWS[window],
                tuple((n, int(t)) for n, t in levels),
                (f["responsible"].text("responsible") or "") if "responsible" in f else "",
                item.location,
            )
        )
    return found
