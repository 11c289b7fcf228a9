"""Waivers: a rule set aside for named calls, agents or products, always with a reason.

    waivers:
      - rule: fee-not-stated
        products: [FREE0]
        reason: FREE0 是免费产品，没有资费可说明
        by: 王经理
        until: 2027-06-30

A waived finding is still reported (marked with its waiver) but does not make the call
invalid. A waiver that matched nothing in a run is reported too, so stale ones get removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.model import CALL_TYPES, Call
from engine.rules.problems import Location, suggest
from engine.rules.yamlsource import Node

WAIVER_KEYS = frozenset({"rule", "reason", "by", "until", "calls", "agents", "products",
                         "call_types"})
SCOPES = ("calls", "agents", "products", "call_types")


@dataclass(frozen=True)
class Waiver:
    """One rule set aside for a scope, with who decided and why."""

    rule_id: str
    reason: str
    location: Location
    by: str = ""
    until: date | None = None  # the last day it applies; None: until removed
    calls: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    call_types: frozenset[str] = frozenset()

    def applies_to(self, call: Call) -> bool:
        """Every scope given must match; a call without a date is never past `until`."""
        started = call.started_at
        if self.until is not None and started is not None and started.date() > self.until:
            return False
        product = call.product.code if call.product else None
        checks = (
            (self.calls, call.call_id),
            (self.agents, call.agent_id),
            (self.products, product),
            (self.call_types, call.call_type),
        )
        return all(not scope or value in scope for scope, value in checks)

    @property
    def label(self) -> str:
        return f"{self.reason} ({self.location})"


def compile_waivers(node: Node) -> list[Waiver]:
    """The waivers of one file; each needs a rule, a reason and at least one scope."""
    waivers = []
    for item in node.items("waivers"):
        fields = item.mapping("a waiver", WAIVER_KEYS, frozenset({"rule", "reason"}))
        if fields is None or "rule" not in fields or "reason" not in fields:
            continue
        rule_id, reason = fields["rule"].text("rule"), fields["reason"].text("reason")
        scopes = {key: frozenset(fields[key].texts(key)) for key in SCOPES if key in fields}
        if not scopes:
            item.error("a waiver must say which calls it covers",
                       f"add one of: {', '.join(SCOPES)} (to turn a rule off everywhere, "
                       "give the rule status: deprecated)")
            continue
        bad_types = sorted(scopes.get("call_types", frozenset()) - set(CALL_TYPES))
        if bad_types:
            fields["call_types"].error(f"unknown call type {bad_types[0]!r}",
                                       suggest(bad_types[0], CALL_TYPES, "call types"))
            continue
        until = _until(fields["until"]) if "until" in fields else None
        if rule_id is None or reason is None or ("until" in fields and until is None):
            continue
        waivers.append(Waiver(
            rule_id=rule_id,
            reason=reason,
            location=item.location,
            by=(fields["by"].text("by") or "") if "by" in fields else "",
            until=until,
            **scopes,
        ))
    return waivers


def _until(node: Node) -> date | None:
    value = node.scalar_value()
    if isinstance(value, date):
        return value
    node.error("until must be a date like 2027-06-30", "write the last day the waiver applies")
    return None
