"""What the audit says about a call: findings with evidence, and one verdict per call."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FINDING_SCHEMA = "callaudit.finding/1"
VERDICT_SCHEMA = "callaudit.verdict/1"
REJECT_SCHEMA = "callaudit.reject/1"


# Evidence and Finding are made many times a call. A frozen dataclass's generated __init__
# calls object.__setattr__ once per field, which made building them ~4% of an audit; their
# own __init__ fills the instance's __dict__ instead (2.7x faster). They stay frozen: setting
# a field afterwards still raises. tests/test_findings.py checks that each __init__
# takes exactly the class's fields, in order, with their defaults.


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

    def __init__(self, turn: int, speaker: str, char_start: int, char_end: int, quote: str,
                 text: str, start: float | None, end: float | None) -> None:
        fields = self.__dict__
        fields["turn"] = turn
        fields["speaker"] = speaker
        fields["char_start"] = char_start
        fields["char_end"] = char_end
        fields["quote"] = quote
        fields["text"] = text
        fields["start"] = start
        fields["end"] = end


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

    def __init__(self, call_id: str, rule_id: str, standard: str, severity: str, message: str,
                 evidence: tuple[Evidence, ...], rule_source: str, detail: str = "",
                 fingerprint: str = "", waiver: str | None = None) -> None:
        fields = self.__dict__
        fields["call_id"] = call_id
        fields["rule_id"] = rule_id
        fields["standard"] = standard
        fields["severity"] = severity
        fields["message"] = message
        fields["evidence"] = evidence
        fields["rule_source"] = rule_source
        fields["detail"] = detail
        fields["fingerprint"] = fingerprint
        fields["waiver"] = waiver

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        first = self.evidence[0] if self.evidence else None
        return (self.call_id, first.turn if first else -1, first.char_start if first else -1,
                self.rule_id)


def fingerprint(call_id: str, rule_id: str, evidence: tuple[Evidence, ...]) -> str:
    """The same rule on the same words of the same call always gives the same id."""
    spans = b"".join([b"\0%d:%d:%d" % (e.turn, e.char_start, e.char_end) for e in evidence])
    return hashlib.sha256(f"{call_id}\0{rule_id}".encode() + spans).digest()[:10].hex()


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
