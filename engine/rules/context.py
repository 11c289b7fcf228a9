"""What rules see of one call while it is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from engine.findings import Finding
from engine.model import Call
from engine.rules.matchers import Hit
from engine.rules.similar import ExampleHit, ExampleMatchers
from engine.text.acts import ActReader, Dialogue
from engine.text.normalize import NormalizedTurn

if TYPE_CHECKING:
    from engine.rules.catalogue import Resolution


@dataclass
class CallContext:
    """One call, normalised, with every matcher's hits; built once and read by every rule."""

    call: Call
    turns: list[NormalizedTurn]
    hits: dict[str, list[Hit]]
    sale_made: bool = False
    # Evidence of the pack's sale condition, so "no sale" rules can point at the turn.
    sale_evidence: tuple[Hit, ...] = field(default_factory=tuple)
    # The pack's `sale_made` did not hold but its `sale_possible` did: the sale rules run,
    # and the verdict says the sale is uncertain.
    sale_uncertain: bool = False
    # Findings made so far on this call, read by the `found:` condition (rules that use it
    # run after all the others).
    findings: list[Finding] = field(default_factory=list)
    # The call's product as the catalogue completed it (None: the pack has no catalogue);
    # `call.product` is then the effective product.
    product: Resolution | None = None
    # The pack's `like:` matchers: scored only when a rule asks for one (hits_of).
    by_example: ExampleMatchers | None = None
    example_hits: dict[str, list[ExampleHit]] = field(default_factory=dict)
    # The pack's dialogue-act reader; the call's acts and answers are read once, when a
    # rule first asks (`dialogue`).
    acts: ActReader | None = None

    @cached_property
    def dialogue(self) -> Dialogue:
        """Each turn's act types and each customer turn's answer link (read on first use)."""
        if self.acts is None:
            raise RuntimeError("this call was read without a dialogue-act reader")
        return self.acts.read(self.turns, [t.speaker for t in self.call.turns])

    def hits_of(self, matcher: str, by: str | None = None) -> list[Hit]:
        if (self.by_example is not None and matcher in self.by_example.models
                and matcher not in self.example_hits):
            self.score_examples(matcher)
        found = self.hits.get(matcher, [])
        if by is None:
            return found
        return [h for h in found if self.call.turns[h.turn].speaker == by]

    def score_examples(self, matcher: str) -> list[ExampleHit]:
        """Score a `like:` matcher on the call (once) and add its hits to its phrase hits:
        a clause it matches by example counts unless a phrase of it matched there already."""
        known = self.example_hits.get(matcher)
        if known is not None or self.by_example is None:
            return known or []
        speakers = [t.speaker for t in self.call.turns]
        found = self.by_example.find(matcher, self.turns, speakers)
        phrase_hits = self.hits.get(matcher, [])
        added = [
            e for e in found
            if not any(h.turn == e.turn and h.start < e.end and e.start < h.end
                       for h in phrase_hits)
        ]
        self.example_hits[matcher] = added
        if added:
            merged = sorted([*phrase_hits, *(Hit(e.turn, e.start, e.end) for e in added)])
            self.hits[matcher] = merged
        return added
