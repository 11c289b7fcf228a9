"""The console's agents: rates per agent over a range of nights, one agent's weekly trend
and calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.actions.ledger import Ledger
from engine.console.calls import PAGE_SIZE, CallPage, _row

COMPLAINT = '"complaint_risk"'  # as it stands in calls.signals (a JSON list)


def _range(first: date, last: date) -> tuple[str, str]:
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class AgentWeek:
    first: date
    calls: int
    sales: int
    valid: int
    complaints: int

    @property
    def validity(self) -> float | None:
        return self.valid / self.sales if self.sales else None


def agent_weeks(ledger: Ledger, agent_id: str, last: date, weeks: int = 8) -> list[AgentWeek]:
    """The agent's 7-day weeks ending on LAST, oldest first (needs an index on
    calls(agent_id, started_at) in a large ledger)."""
    points = []
    for back in range(weeks - 1, -1, -1):
        end = last - timedelta(days=7 * back)
        start = end - timedelta(days=6)
        low, high = _range(start, end)
        calls, sales, valid, complaints = ledger.db.execute(
            "SELECT count(*), count(valid), coalesce(sum(valid = 1), 0), "
            "coalesce(sum(instr(signals, ?) > 0), 0) FROM calls WHERE agent_id = ? AND "
            "started_at >= ? AND started_at < ?", (COMPLAINT, agent_id, low, high)).fetchone()
        points.append(AgentWeek(start, calls, sales, valid, complaints))
    return points


def agent_last_night(ledger: Ledger, agent_id: str) -> date | None:
    row = ledger.db.execute("SELECT max(started_at) FROM calls WHERE agent_id = ?",
                            (agent_id,)).fetchone()
    return date.fromisoformat(row[0][:10]) if row and row[0] else None


def agent_calls(ledger: Ledger, agent_id: str, page: int = 1,
                size: int = PAGE_SIZE) -> CallPage:
    page = max(page, 1)
    rows = ledger.db.execute(
        "SELECT call_id, started_at, agent_id, phone, call_type, valid, violations, signals "
        "FROM calls WHERE agent_id = ? ORDER BY started_at DESC, call_id LIMIT ? OFFSET ?",
        (agent_id, size + 1, (page - 1) * size)).fetchall()
    return CallPage([_row(r) for r in rows[:size]], page, len(rows) > size)
