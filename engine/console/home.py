"""Tonight at a glance: the last night's figures, the weekly trend, the alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from engine.actions.ledger import Ledger


@dataclass(frozen=True)
class NightFigures:
    night: date
    calls: int
    sales: int
    valid: int
    invalid: int
    callbacks_due: int
    blacklist_pending: int
    alerts: tuple[tuple[str, str, int, int], ...]  # (warning id, level, count, threshold)

    @property
    def validity(self) -> float | None:
        return self.valid / self.sales if self.sales else None

    @property
    def callbacks_due_by(self) -> date:
        return self.night + timedelta(days=1)


def last_night(ledger: Ledger) -> date | None:
    """The latest night with audited calls."""
    row = ledger.db.execute("SELECT max(started_at) FROM calls").fetchone()
    return date.fromisoformat(row[0][:10]) if row and row[0] else None


def _range(first: date, last: date) -> tuple[str, str]:
    """started_at bounds for the nights FIRST..LAST (ISO times sort as text; the
    calls_started index answers `started_at >= ? AND started_at < ?`)."""
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def night_figures(ledger: Ledger, night: date) -> NightFigures:
    low, high = _range(night, night)
    calls, sales, valid, invalid = ledger.db.execute(
        "SELECT count(*), count(valid), coalesce(sum(valid = 1), 0), coalesce(sum(valid = 0), 0) "
        "FROM calls WHERE started_at >= ? AND started_at < ?", (low, high)).fetchone()
    # Worked the morning after the night: those due by then.
    due = ledger.db.execute("SELECT count(*) FROM callbacks WHERE status = 'open' AND "
                            "due_date <= ?", ((night + timedelta(days=1)).isoformat(),)
                            ).fetchone()[0]
    pending = ledger.db.execute("SELECT count(*) FROM blacklist WHERE status = 'pending'"
                                ).fetchone()[0]
    alerts = tuple((r[0], r[1], r[2], r[3]) for r in ledger.db.execute(
        "SELECT warning_id, level, count, threshold FROM alerts_raised WHERE night = ? "
        "ORDER BY warning_id, level", (night.isoformat(),)))
    return NightFigures(night, calls, sales, valid, invalid, due, pending, alerts)


@dataclass(frozen=True)
class WeekPoint:
    first: date
    sales: int
    valid: int

    @property
    def validity(self) -> float | None:
        return self.valid / self.sales if self.sales else None


def weekly_validity(ledger: Ledger, last: date, weeks: int = 6) -> list[WeekPoint]:
    """Validity per 7-day week ending on LAST, oldest first."""
    points = []
    for back in range(weeks - 1, -1, -1):
        end = last - timedelta(days=7 * back)
        start = end - timedelta(days=6)
        low, high = _range(start, end)
        sales, valid = ledger.db.execute(
            "SELECT count(valid), coalesce(sum(valid = 1), 0) FROM calls "
            "WHERE started_at >= ? AND started_at < ?", (low, high)).fetchone()
        points.append(WeekPoint(start, sales, valid))
    return points


def violations_of(ledger: Ledger, night: date) -> dict[str, int]:
    """Calls of the night violating each standard."""
    low, high = _range(night, night)
    counts: dict[str, int] = {}
    for (violations,) in ledger.db.execute(
            "SELECT violations FROM calls WHERE started_at >= ? AND started_at < ? AND valid = 0",
            (low, high)):
        for standard in json.loads(violations):
            counts[standard] = counts.get(standard, 0) + 1
    return counts
