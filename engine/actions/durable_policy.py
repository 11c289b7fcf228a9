"""The action policy, run by durable-rules over each audited call's facts.

Measured limits of durable-rules 2.0.28 this module respects (shared/docs/LIBRARIES.md):
rulesets are registered once per process and reused (dropping one is unsafe and a new one
per call leaks); each call's fact is asserted with an id and retracted afterwards, on one
session, so no state accumulates; an exception inside an action is swallowed into the
returned state, so it is checked; a fact that matches no rule raises
MessageNotHandledException, which simply means "no action".

Each fact stands alone (asserted, then retracted), so what fires is a function of the
fact's fields: a night's calls fall into a few hundred combinations, and each combination
is put to durable-rules once and its answer kept (durable-rules took ~0.3 ms a call).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import durable.engine

from engine.actions.policy import (
    LEDGER_FACTS,
    ActionPolicy,
    AllOf,
    AnyOf,
    AtLeast,
    Below,
    Cond,
    Fact,
    NotFact,
)
from engine.audit import CallAudit
from engine.rules.base import SEVERITIES, SIGNALS, VALIDITY_STANDARDS


class PolicyError(RuntimeError):
    """An action failed inside durable-rules (a bug, never the officer's file)."""


def to_durable(cond: Cond) -> dict[str, Any]:
    """A condition in durable-rules' JSON form (operators wrap the field: {"$gte": {f: v}})."""
    if isinstance(cond, Fact):
        return {cond.field: cond.value}
    if isinstance(cond, NotFact):
        return {"$neq": {cond.field: cond.value}}
    if isinstance(cond, AtLeast):
        return {"$gte": {cond.field: cond.value}}
    if isinstance(cond, Below):
        return {"$lt": {cond.field: cond.value}}
    if isinstance(cond, AllOf):
        items = [to_durable(i) for i in cond.items]
        return items[0] if len(items) == 1 else {"$and": items}
    if isinstance(cond, AnyOf):
        items = [to_durable(i) for i in cond.items]
        return items[0] if len(items) == 1 else {"$or": items}
    raise TypeError(f"not a policy condition: {cond!r}")


def call_facts(audit: CallAudit, outcome_names: tuple[str, ...],
               ledger: Mapping[str, bool]) -> dict[str, Any]:
    """The flat fact one call contributes: every field any rule may test has a value."""
    call, verdict = audit.call, audit.verdict
    active = [f for f in audit.findings if f.waiver is None]
    worst = max((SEVERITIES.index(f.severity) for f in active), default=-1)
    fact: dict[str, Any] = {
        "id": call.call_id,
        "call_type": call.call_type,
        "valid": {True: 1, False: 0, None: -1}[verdict.valid],
        "has_trial": int(call.has_trial),
        "worst": worst,
    }
    fact.update({f"v_{s}": int(s in verdict.violations) for s in VALIDITY_STANDARDS})
    fact.update({f"s_{s}": int(s in verdict.signals) for s in SIGNALS})
    fact.update({f"o_{o}": int(o in verdict.outcomes) for o in outcome_names})
    fact.update({f"k_{k}": int(bool(ledger.get(k))) for k in LEDGER_FACTS})
    return fact


class PolicyRunner:
    """One durable-rules host per process; one ruleset per distinct policy, registered once."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _host: ClassVar[durable.engine.Host | None] = None
    _registered: ClassVar[set[str]] = set()
    # ruleset -> ids of the rules the last fact fired (filled by the actions durable runs)
    _sinks: ClassVar[dict[str, list[str]]] = {}
    KEPT_ANSWERS = 4096  # distinct facts whose answers are kept (a night sees hundreds)

    def __init__(self, policy: ActionPolicy) -> None:
        self.policy = policy
        self.ruleset = "policy_" + policy.content_hash.split(":")[-1][:16]
        with self._lock:
            if PolicyRunner._host is None:
                PolicyRunner._host = durable.engine.Host()
            if self.ruleset not in PolicyRunner._registered:
                PolicyRunner._host.set_rulesets({self.ruleset: self._definition()})
                PolicyRunner._registered.add(self.ruleset)
                PolicyRunner._sinks[self.ruleset] = []
        self._sink = PolicyRunner._sinks[self.ruleset]
        self._answers: dict[tuple[tuple[str, Any], ...], list[str]] = {}

    def _definition(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for rule in self.policy.rules:
            rules[rule.id] = {"all": [{"m": to_durable(rule.when)}],
                              "run": _recorder(self.ruleset, rule.id)}
        return rules

    def fired(self, fact: dict[str, Any]) -> list[str]:
        """The ids of the policy rules this fact triggers, in policy order."""
        key = tuple(sorted((k, v) for k, v in fact.items() if k != "id"))
        answer = self._answers.get(key)
        if answer is None:
            answer = self._ask(fact)
            if len(self._answers) < self.KEPT_ANSWERS:
                self._answers[key] = answer
        return list(answer)

    def _ask(self, fact: dict[str, Any]) -> list[str]:
        """durable-rules' answer for one fact: asserted, its actions run, then retracted."""
        host = PolicyRunner._host
        assert host is not None
        with self._lock:
            self._sink.clear()
            try:
                state = host.assert_fact(self.ruleset, fact)
            except durable.engine.MessageNotHandledException:
                return []  # matched no rule: nothing was kept, nothing to retract
            host.retract_fact(self.ruleset, fact)
            if isinstance(state, dict) and state.get("exception"):
                raise PolicyError(f"an action failed in durable-rules: {state['exception']}")
            fired = set(self._sink)
        return [r.id for r in self.policy.rules if r.id in fired]


def _recorder(ruleset: str, rule_id: str):
    def run(c: Any) -> None:
        PolicyRunner._sinks[ruleset].append(rule_id)

    return run
