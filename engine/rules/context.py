"""What rules see of one call while it is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.findings import Finding
from engine.model import Call
from engine.rules.matchers import Hit

if TYPE_CHECKING:
    from engine.rules.catalogue import Resolution
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
    # The pack's `sale_made` did not hold but its `sale_possible` did: the sale rules run,
    # and the verdict says the sale is uncertain.
    sale_uncertain: bool = False
    # Findings made so far on this call, read by the `found:` condition (rules that use it
    # run after all the others).
    findings: list[Finding] = field(default_factory=list)
    # The call's product as the catalogue completed it (None: the pack has no catalogue);
    # `call.product` is then the effective product.
    product: Resolution | None = None

    def hits_of(self, matcher: str, by: str | None = None) -> list[Hit]:
        found = self.hits.get(matcher, [])
        if by is None:
            return found
        return [h for h in found if self.call.turns[h.turn].speaker == by]
