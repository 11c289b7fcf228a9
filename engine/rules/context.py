"""What rules see of one call while it is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from engine.model import Call
from engine.rules.matchers import Hit
from engine.text.acts import ActReader, Dialogue
from engine.text.normalize import NormalizedTurn


@dataclass
class CallContext:
    """One call, normalised, with every matcher's hits; built once and read by every rule."""

    call: Call
    turns: list[NormalizedTurn]
    hits: dict[str, list[Hit]]
    sale_made: bool = False
    # Evidence of the pack's sale condition, so "no sale" rules can point at the turn.
    sale_evidence: tuple[Hit, ...] = field(default_factory=tuple)
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
        found = self.hits.get(matcher, [])
        if by is None:
            return found
        return [h for h in found if self.call.turns[h.turn].speaker == by]
