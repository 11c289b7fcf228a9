"""What every rule has, whatever its kind: identity, standard, words for people, examples."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from engine.model import Call
from engine.rules.problems import Location

# The four validity standards, double confirmation and forbidden phrasing make a sale invalid.
VALIDITY_STANDARDS: tuple[str, ...] = (
    "identity",
    "comprehension",
    "script",
    "consent",
    "double_confirmation",
    "forbidden_phrase",
)
# Customer signals do not make a sale invalid; they feed do-not-call and the blacklist.
SIGNALS: tuple[str, ...] = ("opt_out", "complaint_risk")
STANDARDS: tuple[str, ...] = VALIDITY_STANDARDS + SIGNALS
SEVERITIES: tuple[str, ...] = ("info", "minor", "major", "critical")  # ascending
STATUSES: tuple[str, ...] = ("active", "experimental", "deprecated")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Example:
    """A short call kept with the rule: `rules test` checks the rule fires (or not) on it."""

    call: Call
    violating: bool
    location: Location


@dataclass(frozen=True)
class RuleInfo:
    """The fields every rule kind shares."""

    id: str
    kind: str
    standard: str
    severity: str
    message: str  # what is wrong, as the finding will say it
    rationale: str  # why it matters: the standard or regulation, in the officer's words
    location: Location
    description: str = ""
    status: str = "active"
    since: str = ""
    examples: tuple[Example, ...] = ()

    @cached_property
    def source(self) -> str:
        """Where the rule is written, as findings name it (file:line:col)."""
        return str(self.location)


class Mark(NamedTuple):
    """A span of a turn's original text, the unit of evidence (ordered by turn, then
    position)."""

    turn: int
    start: int
    end: int


@dataclass(frozen=True)
class Draft:
    """What a rule kind reports; the auditor turns it into a Finding."""

    evidence: tuple[Mark, ...]
    detail: str = ""  # kind-specific facts, e.g. "stated 10 per month; the fee is 5"
