"""The closed menu of rule kinds, in one explicit registry.

A compliance officer picks a kind and fills in its parameters (docs/rules.md):

* ``forbidden``       — the matcher must never match (forbidden phrasing, customer signals).
* ``required``        — when the condition holds, the matcher must match (disclosures).
* ``precedence``      — before the trigger matches, another matcher must have matched
                        (identity checked before the pitch; acceptance before activation).
* ``condition``       — the condition itself is the violation.
* ``fee_check``       — amounts the agent states must equal the product's monthly fee.
* ``trial_end_check`` — a stated trial end date must equal the call date + trial days.

A new kind is a module here with a Rule subclass and a ``KIND`` entry, added to the dict
below; nothing is discovered by name.
"""

from __future__ import annotations

from engine.rules.kinds import (
    condition,
    fee_check,
    forbidden,
    precedence,
    required,
    trial_end_check,
)
from engine.rules.kinds.base import Rule, RuleKind

RULE_KINDS: dict[str, RuleKind] = {
    "forbidden": forbidden.KIND,
    "required": required.KIND,
    "precedence": precedence.KIND,
    "condition": condition.KIND,
    "fee_check": fee_check.KIND,
    "trial_end_check": trial_end_check.KIND,
}

__all__ = ["RULE_KINDS", "Rule", "RuleKind"]
