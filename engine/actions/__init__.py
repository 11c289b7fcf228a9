"""Follow-up actions: the policy (rules/actions.yaml) run by durable-rules, and the ledger
that remembers callbacks, the blacklist, do-not-call entries and trial obligations."""
