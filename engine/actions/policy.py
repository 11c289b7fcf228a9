"""The action policy: what each audited call triggers, as officers write it.

    actions:
      - id: callback-invalid-call
        action: callback
        when:
          all:
            - call_type: [sale, second_confirmation, callback]
            - violation: [identity, comprehension, script, consent, double_confirmation]
        due_working_days: {critical: 1, major: 2, minor: 3, info: 5}

Compiled once into frozen dataclasses (with file:line), then into a durable-rules ruleset
(engine/actions/durable_policy.py). A closed menu of actions and of conditions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from engine.model import CALL_TYPES
from engine.rules.base import SEVERITIES, SIGNALS, VALIDITY_STANDARDS
from engine.rules.problems import Location, RulePackError, suggest
from engine.rules.yamlsource import Node, parse, read_source

ACTIONS: dict[str, str] = {
    "callback": "order a callback of the invalid call, due by its worst severity",
    "dnc": "put the number on the do-not-call list at once (no approval)",
    "blacklist": "propose the number for the blacklist; a manager approves or rejects",
    "agent_recheck": "flag the agent for more frequent sampling",
    "trial_open": "open a second-confirmation obligation due before the trial ends",
    "trial_confirmation": "close, extend or keep open the trial obligation of the related sale",
    "callback_result": "close the callback order of the related call when this callback is valid",
}
POLICY_KEYS = frozenset({"version", "working_days", "holidays", "actions"})
ACTION_KEYS = frozenset({"id", "action", "when", "description", "due_working_days"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Facts about the ledger the policy may ask about (filled in per call before it runs).
LEDGER_FACTS = ("related_trial_open", "related_callback_open", "on_dnc", "blacklisted")


# -- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """A fact field equal to a value (the leaves of every condition)."""

    field: str
    value: int | str


@dataclass(frozen=True)
class NotFact:
    """A fact field not equal to a value."""

    field: str
    value: int | str


@dataclass(frozen=True)
class AtLeast:
    """A numeric fact field at least a value."""

    field: str
    value: int


@dataclass(frozen=True)
class Below:
    """A numeric fact field below a value (the negation of AtLeast)."""

    field: str
    value: int


@dataclass(frozen=True)
class AllOf:
    items: tuple[object, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[object, ...]


Cond = Fact | NotFact | AtLeast | Below | AllOf | AnyOf


def negate(cond: Cond) -> Cond:
    """`not`, pushed down to the leaves (durable-rules has no negation of a group)."""
    if isinstance(cond, Fact):
        return NotFact(cond.field, cond.value)
    if isinstance(cond, NotFact):
        return Fact(cond.field, cond.value)
    if isinstance(cond, AtLeast):
        return Below(cond.field, cond.value)
    if isinstance(cond, Below):
        return AtLeast(cond.field, cond.value)
    if isinstance(cond, AllOf):
        return AnyOf(tuple(negate(i) for i in cond.items))
    return AllOf(tuple(negate(i) for i in cond.items))


@dataclass(frozen=True)
class ActionRule:
    """One line of the policy: when it holds, the action is taken."""

    id: str
    action: str
    when: Cond
    location: Location
    description: str = ""
    due_working_days: tuple[tuple[str, int], ...] = ()  # severity -> working days


@dataclass(frozen=True)
class ActionPolicy:
    """The compiled policy file."""

    path: str
    content_hash: str
    rules: tuple[ActionRule, ...]
    working_days: frozenset[int]  # 0 = Monday
    holidays: frozenset[str]  # ISO dates
    outcome_names: tuple[str, ...]  # pack outcomes the policy reads

    def due_days(self, rule_id: str, severity: str) -> int:
        rule = next(r for r in self.rules if r.id == rule_id)
        table = dict(rule.due_working_days)
        return table.get(severity, table.get("info", 5))


def load_policy(path: str | Path) -> ActionPolicy:
    """Compile rules/actions.yaml; every problem collected, then RulePackError."""
    path = Path(path)
    source = read_source(path, "the action policy",
                         "give a UTF-8 YAML file, e.g. rules/actions.yaml")
    root = parse(source)
    fields = (
        root.mapping("the action policy", POLICY_KEYS, frozenset({"actions"})) if root else None
    )
    outcomes: list[str] = []
    rules: list[ActionRule] = []
    days = frozenset(range(5))
    holidays: frozenset[str] = frozenset()
    if fields:
        if "working_days" in fields:
            names = fields["working_days"].texts("working_days")
            for day in (d for d in names if d not in WEEKDAYS):
                fields["working_days"].error(f"unknown day '{day}'", suggest(day, WEEKDAYS, "days"))
            days = frozenset(WEEKDAYS.index(d) for d in names if d in WEEKDAYS)
        if "holidays" in fields:
            holidays = frozenset(str(_date_text(n)) for n in fields["holidays"].items("holidays"))
        seen: set[str] = set()
        for node in fields["actions"].items("actions") if "actions" in fields else ():
            rule = _action_rule(node, outcomes, seen)
            if rule is not None:
                rules.append(rule)
    errors = [p for p in source.problems if p.level == "error"]
    if errors:
        raise RulePackError(errors)
    digest = "sha256:" + hashlib.sha256(source.text.encode("utf-8")).hexdigest()
    return ActionPolicy(
        str(path), digest, tuple(rules), days, holidays, tuple(dict.fromkeys(outcomes))
    )


def _date_text(node: Node) -> str:
    value = node.scalar_value()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    node.error("a holiday must be a date like 2027-01-01")
    return ""


def _action_rule(node: Node, outcomes: list[str], seen: set[str]) -> ActionRule | None:
    fields = node.mapping("an action", ACTION_KEYS, frozenset({"id", "action", "when"}))
    if fields is None or not {"id", "action", "when"} <= set(fields):
        return None
    rule_id = fields["id"].text("id")
    action = fields["action"].choice("action", tuple(ACTIONS))
    when = _condition(fields["when"], outcomes)
    if rule_id in seen:
        fields["id"].error(f"action id '{rule_id}' is used twice", "give each action its own id")
        return None
    due: tuple[tuple[str, int], ...] = ()
    if "due_working_days" in fields:
        table = fields["due_working_days"].mapping("due_working_days", frozenset(SEVERITIES)) or {}
        due = tuple((k, v.integer(k, 0, 60) or 0) for k, v in table.items())
    elif action == "callback":
        fields["action"].error(
            "a callback action needs 'due_working_days'",
            "give working days by severity: {critical: 1, major: 2, ...}",
        )
    if rule_id is None or action is None or when is None:
        return None
    seen.add(rule_id)
    description = (
        (fields["description"].text("description") or "") if "description" in fields else ""
    )
    return ActionRule(rule_id, action, when, node.location, description, due)


CONDITION_KINDS = (
    "all",
    "any",
    "not",
    "call_type",
    "violation",
    "signal",
    "valid",
    "has_trial",
    "outcome",
    "severity_at_least",
    "ledger",
)


def _condition(node: Node, outcomes: list[str]) -> Cond | None:
    if not node.is_mapping() or len(node.node.value) != 1:
        node.error(
            "a condition must be one 'kind: value' entry", f"kinds: {', '.join(CONDITION_KINDS)}"
        )
        return None
    fields = node.mapping("a condition", frozenset(CONDITION_KINDS))
    if not fields:
        return None
    ((kind, value),) = fields.items()
    if kind in ("all", "any"):
        items = [_condition(item, outcomes) for item in value.items(kind)]
        if not items or any(i is None for i in items):
            return None
        return (AllOf if kind == "all" else AnyOf)(tuple(items))
    if kind == "not":
        inner = _condition(value, outcomes)
        return negate(inner) if inner is not None else None
    if kind == "call_type":
        return _any_of(value, kind, CALL_TYPES, lambda v: Fact("call_type", v))
    if kind == "violation":
        return _any_of(value, kind, VALIDITY_STANDARDS, lambda v: Fact(f"v_{v}", 1))
    if kind == "signal":
        return _any_of(value, kind, SIGNALS, lambda v: Fact(f"s_{v}", 1))
    if kind == "ledger":
        return _any_of(value, kind, LEDGER_FACTS, lambda v: Fact(f"k_{v}", 1))
    if kind == "outcome":
        names = value.texts("outcome")
        outcomes.extend(names)
        return AnyOf(tuple(Fact(f"o_{n}", 1) for n in names)) if names else None
    if kind == "severity_at_least":
        chosen = value.choice("severity_at_least", SEVERITIES)
        return AtLeast("worst", SEVERITIES.index(chosen)) if chosen else None
    if kind == "valid":
        raw = value.scalar_value()
        if raw not in (True, False, None) or not value.is_scalar():
            value.error("valid must be true, false or null (no sale made)")
            return None
        return Fact("valid", {True: 1, False: 0, None: -1}[raw])
    flag = value.boolean(kind)
    return Fact("has_trial", int(flag)) if flag is not None else None


def _any_of(node: Node, what: str, options: tuple[str, ...], leaf) -> Cond | None:
    items = [node] if node.is_scalar() else list(node.items(what))
    values = [item.choice(what, options) for item in items]
    if not values or any(v is None for v in values):
        return None
    return AnyOf(tuple(leaf(v) for v in values))
