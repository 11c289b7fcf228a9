"""What the web console shows, read from the ledger: one module per area, plain functions
returning dataclasses, no web framework (webconsole/ renders them)."""
