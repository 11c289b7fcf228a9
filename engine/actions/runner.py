"""Each audited call through the action policy and into the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from engine.actions.ledger import ChangeReport, Ledger, Prepared
from engine.actions.policy import ActionPolicy
from engine.audit import CallAudit
from engine.model import Call


@dataclass
class FollowUp:
    """The policy and the ledger, used together for every call of a run."""

    policy: ActionPolicy
    ledger: Ledger

    def __post_init__(self) -> None:
        # Imported here: durable-rules takes ~0.2 s to import and audits without a ledger
        # (every `callaudit audit --no-ledger`, every bench run) never use it.
        from engine.actions.durable_policy import PolicyRunner, call_facts

        self._call_facts = call_facts
        self.runner = PolicyRunner(self.policy)
        self._action_of = {r.id: r.action for r in self.policy.rules}

    def unchanged(self, call: Call, pack_hash: str, digest: str | None = None) -> bool:
        """The ledger holds this call with the same transcript, rules and policy
        (`digest`: the call's content hash, when it is already known)."""
        return self.ledger.already_audited(call, pack_hash, self.policy.content_hash, digest)

    def apply(self, audit: CallAudit, prepared: Prepared | None = None) -> ChangeReport:
        """Run the policy over the call's facts and record what it decided (`prepared`:
        what the ledger stores of the call, when a worker already worked it out)."""
        known = self.ledger.facts_for(audit.call)
        facts = self._call_facts(audit, self.policy.outcome_names, known)
        fired = [(rule_id, self._action_of[rule_id]) for rule_id in self.runner.fired(facts)]
        return self.ledger.record(audit, fired, self.policy, prepared)
