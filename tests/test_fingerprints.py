"""A finding's fingerprint names it in the ledger across runs and releases: if the way it
is computed changed, every finding of a re-audited call would look new and its follow-up
actions would be taken twice. These values were computed by the first release's code."""

from __future__ import annotations

from engine.findings import Evidence, fingerprint


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
