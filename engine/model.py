"""The call as the audit sees it: a transcript with its metadata, whatever format it came in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from engine.frozen import fills_dict

Speaker = Literal["agent", "customer", "unknown"]
CallType = Literal["sale", "second_confirmation", "callback"]
Language = Literal["zh", "en"]

SPEAKERS: tuple[str, ...] = ("agent", "customer", "unknown")
CALL_TYPES: tuple[str, ...] = ("sale", "second_confirmation", "callback")
LANGUAGES: tuple[str, ...] = ("zh", "en")

# Characters no identifier may hold (engine/transcripts/record.py): C0 and C1 controls (a
# bell, a terminal escape, a character a spreadsheet refuses), line and paragraph
# separators, and the bidirectional embeddings, overrides and isolates that make text
# read differently on screen.
NOT_IN_IDS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with those characters written as escapes (\\x1b), safe to print."""
    return NOT_IN_IDS.sub(escaped, text) if NOT_IN_IDS.search(text) else text


def escaped(match: re.Match[str]) -> str:
    """The matched character as Python writes it in a string: \\x07, \\n, \\u202e."""
    return match[0].encode("unicode_escape").decode("ascii")


@dataclass(frozen=True)
class Product:
    """The product offered on the call, as the call platform knows it."""

    code: str | None = None
    name: str | None = None
    monthly_fee: float | None = None
    currency: str | None = None
    trial_days: int = 0  # 0: no free trial
    # The fields the call's metadata gave (None: not known, e.g. a Product made in code);
    # the product catalogue fills in only the others (engine/rules/catalogue.py).
    given: frozenset[str] | None = field(default=None, compare=False)

    @property
    def has_trial(self) -> bool:
        return self.trial_days > 0


@fills_dict  # 30 a call while reading: see engine/frozen.py
@dataclass(frozen=True, init=False)
class Turn:
    """One stretch of speech by one speaker."""

    speaker: Speaker
    text: str
    start: float | None = None  # seconds from the start of the call
    end: float | None = None
    confidence: float | None = None  # speech-recognition confidence, when known


@dataclass(frozen=True)
class SourceRef:
    """Where a record came from, so every message can name it."""

    path: str
    line: int | None = None  # 1-based line (JSONL record, dialogue line, CSV row)
    # JSON Lines: the byte offset of the record's line in the file, so one call can be
    # read back without parsing the file (the console's call page). Not part of its name.
    offset: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True)
class Call:
    """A call transcript in the interchange format (docs/transcripts.md)."""

    call_id: str
    turns: tuple[Turn, ...]
    call_type: CallType = "sale"
    agent_id: str | None = None
    customer_phone: str | None = None
    started_at: datetime | None = None
    language: Language = "zh"
    product: Product | None = None
    related_call_id: str | None = None
    source: SourceRef | None = field(default=None, compare=False)
    # Fields the interchange format does not define; kept so nothing is lost on the way through.
    extra: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def has_trial(self) -> bool:
        return self.product is not None and self.product.has_trial


@dataclass(frozen=True)
class Rejected:
    """A record the loaders could not turn into a call; listed, never silently dropped."""

    source: SourceRef
    reason: str  # what is wrong, one plain sentence
    hint: str  # what to do about it
    call_id: str | None = None
    excerpt: str = ""  # the start of the offending record, for the rejects file

    def __str__(self) -> str:
        who = f" (call {self.call_id})" if self.call_id else ""
        # Reasons quote the input (a speaker label, a column name): escaped for a terminal.
        return printable(f"{self.source}{who}: {self.reason} — {self.hint}")
