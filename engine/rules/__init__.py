"""The rule language: YAML rule packs compiled into frozen rules (docs/rules.md)."""
