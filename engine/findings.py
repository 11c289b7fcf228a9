"""What the audit says about a call: findings with evidence, and one verdict per call."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from engine.frozen import fills_dict

FINDING_SCHEMA = "callaudit.finding/1"
VERDICT_SCHEMA = "callaudit.verdict/1"
REJECT_SCHEMA = "callaudit.reject/1"


@fills_dict  # made many times a call: see engine/frozen.py
@dataclass(frozen=True, order=True, init=False)
class Evidence:
    """A quoted stretch of one turn, in the speaker's own words."""

    turn: int  # 0-based index into the call's turns
    speaker: str
    char_start: int  # span of `quote` inside `text`
    char_end: int
    quote: str
    text: str  # the whole turn, as transcribed
    start: float | None  # seconds into the call
    end: float | None


@fills_dict
@dataclass(frozen=True, init=False)
class Finding:
    """One rule violated (or one customer signal) on one call, with its evidence."""

    call_id: str
    rule_id: str
    standard: str
    severity: str
    message: str
    evidence: tuple[Evidence, ...]
    rule_source: str  # file:line:col of the rule that found it
    detail: str = ""  # kind-specific facts, e.g. the stated and the real fee
    fingerprint: str = ""  # stable across re-runs: de-duplicates follow-up actions
    waiver: str | None = None  # the waiver's reason and place when the rule is set aside here

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        first = self.evidence[0] if self.evidence else None
        return (self.call_id, first.turn if first else -1, first.char_start if first else -1,
                self.rule_id)


def fingerprint(call_id: str, rule_id: str, evidence: tuple[Evidence, ...]) -> str:
    """The same rule on the same words of the same call always gives the same id."""
    return fingerprint_of_spans(
        call_id, rule_id, [(e.turn, e.char_start, e.char_end) for e in evidence]
    )


def fingerprint_of_spans(
    call_id: str, rule_id: str, spans: Iterable[tuple[int, int, int]]
) -> str:
    """`fingerprint` from the evidence's (turn, char_start, char_end), as the auditor has
    them before it makes the Evidence."""
    joined = b"".join([b"\0%d:%d:%d" % span for span in spans])
    return hashlib.sha256(f"{call_id}\0{rule_id}".encode() + joined).digest()[:10].hex()


@dataclass(frozen=True)
class Verdict:
    """The audit's word on one call."""

    call_id: str
    valid: bool | None  # None: no sale or continuation was made, nothing to be valid
    violations: tuple[str, ...]  # validity standards broken (sorted)
    signals: tuple[str, ...]  # opt_out, complaint_risk
    rule_pack: str  # name@version
    rule_pack_hash: str
    findings: int  # how many findings (waived ones not counted)
    sale_made: bool
    outcomes: tuple[str, ...] = ()  # the pack's named outcomes that hold on this call
    notes: tuple[str, ...] = ()  # what limited the audit (e.g. turns with no known speaker)
    # Judged as a sale on the pack's weaker signs (`sale_possible`) alone: worth a look.
    sale_uncertain: bool = False
