"""The web console: `callaudit serve` (docs/console.md)."""
