"""callaudit's engine: transcripts in, YAML rules compiled, findings with evidence out."""

__version__ = "0.1.0"
