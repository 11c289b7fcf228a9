"""Findings as data: their fingerprints and how they are built.

A finding's fingerprint names it in the ledger across runs and releases: if the way it is
computed changed, every finding of a re-audited call would look new and its follow-up
actions would be taken twice. The pinned values were computed by the first release's code.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from engine.audit import PackChooser, audit_call
from engine.findings import Evidence, Finding, fingerprint
from engine.frozen import fills_dict
from engine.model import Call, Turn
from engine.text.numbers import StatedAmount
from engine.transcripts import load_calls
from tests.conftest import REPO


def test_fingerprints_keep_their_values():
    evidence = (
        Evidence(3, "agent", 5, 9, "quote", "text", 1.0, 2.0),
        Evidence(12, "agent", 0, 14, "quote", "text", None, None),
    )
    assert fingerprint("C20261123-0009", "zh.identity.no_identity", evidence) == \
        "61a1bc6d3977f5bc5cdb"
    assert fingerprint("x", "r", ()) == "62ae2a4d944ffa09383b"


def test_only_the_call_rule_and_spans_count():
    said = (Evidence(1, "agent", 2, 3, "a", "xay", 0.0, 1.0),)
    same_spans = (Evidence(1, "customer", 2, 3, "b", "xby", 5.0, 6.0),)
    other_span = (Evidence(1, "agent", 2, 4, "ay", "xay", 0.0, 1.0),)
    assert fingerprint("c", "r", said) == fingerprint("c", "r", same_spans)
    assert fingerprint("c", "r", said) != fingerprint("c", "r", other_span)
    assert fingerprint("c", "r", said) != fingerprint("c", "r2", said)
    assert fingerprint("c", "r", said) != fingerprint("c2", "r", said)


def test_the_auditor_fingerprints_each_finding_by_its_evidence():
    """The auditor computes fingerprints from its marks, before it makes the Evidence: the
    result must be what `fingerprint` gives for the finding's evidence."""
    chooser = PackChooser(REPO / "rules")
    samples = sorted((REPO / "transcripts" / "samples").glob("calls_*.jsonl"))
    findings = [f for call in load_calls(samples) if isinstance(call, Call)
                for f in audit_call(chooser.for_call(call), call).findings]
    assert len({f.call_id for f in findings}) > 5
    for finding in findings:
        assert finding.fingerprint == fingerprint(
            finding.call_id, finding.rule_id, finding.evidence
        ), finding.rule_id


@pytest.mark.parametrize("cls", [Evidence, Finding, Turn, StatedAmount])
def test_the_dict_filling_inits_take_every_field_and_keep_the_class_frozen(cls):
    """Evidence, Finding, Turn and StatedAmount fill their fields themselves
    (engine/frozen.py, for speed): every field must be taken, in order, with its default,
    and set."""
    declared = [(f.name, f.default) for f in dataclasses.fields(cls)]
    taken = [(p.name, dataclasses.MISSING if p.default is inspect.Parameter.empty
              else p.default)
             for p in list(inspect.signature(cls.__init__).parameters.values())[1:]]
    assert taken == declared
    made = cls(*range(len([d for d in declared if d[1] is dataclasses.MISSING])))
    assert list(vars(made)) == [name for name, _ in declared]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, declared[0][0], 5)
    assert dataclasses.replace(made) == made
    assert hash(made) == hash(dataclasses.replace(made))


def test_fills_dict_refuses_classes_it_would_get_wrong():
    @dataclasses.dataclass(frozen=True)
    class HasItsOwnInit:
        a: int

    @dataclasses.dataclass(init=False)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, init=False)
    class MadeByFactory:
        a: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, init=False)
    class KeywordOnly:
        a: int = dataclasses.field(default=0, kw_only=True)

    @dataclasses.dataclass(frozen=True, init=False)
    class NamesItsSelf:
        _self: int

    for cls in (HasItsOwnInit, NotFrozen, MadeByFactory, KeywordOnly, NamesItsSelf):
        with pytest.raises(TypeError, match=cls.__name__):
            fills_dict(cls)


def test_fills_dict_keeps_keyword_calls_and_defaults():
    assert Turn(text="hello", speaker="agent", end=2.0) == Turn("agent", "hello", None, 2.0)
    with pytest.raises(TypeError):
        Turn("agent")  # text has no default
    with pytest.raises(TypeError):
        Turn("agent", "hello", colour="red")  # type: ignore[call-arg]
