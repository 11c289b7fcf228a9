"""What the morning report is made of, computed from the ledger: the review sample, early
warnings and agent metrics. Everything is by call date (the date the call started)."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from engine.actions.ledger import Ledger, now
from engine.nightly.config import LEVELS, NightlyConfig, WarningRule


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(week: str) -> list[date]:
    """The seven days of an ISO week such as 2026-W48."""
    monday = date.fromisocalendar(int(week[:4]), int(week.split("W")[1]), 1)
    return [monday + timedelta(days=i) for i in range(7)]


def _calls_between(ledger: Ledger, first: date, last: date):
    return ledger.db.execute(
        "SELECT * FROM calls WHERE substr(started_at, 1, 10) BETWEEN ? AND ? ORDER BY call_id",
        (first.isoformat(), last.isoformat()),
    ).fetchall()


# -- sampling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A registered review sample."""

    kind: str  # "daily" or "weekly"
    period: str  # 2026-11-23 or 2026-W48
    calls: tuple[str, ...]
    invalid_calls: tuple[str, ...]  # found invalid by the machine: all go to callback
    rates: dict
    seed: int
    drawn_at: str


def draw_sample(
    ledger: Ledger, config: NightlyConfig, kind: str, period: str, by: str = "nightly"
) -> Sample:
    """Draw (once) and register the review sample of a day or a week.

    Valid sales only, stratified by agent so none is skipped, at the configured rate or
    the higher one for agents flagged by failed calls; seeded by (seed, period, agent), so
    the same night always gives the same sample. Drawing again returns the registered one.
    """
    days = [date.fromisoformat(period)] if kind == "daily" else week_days(period)
    calls = _calls_between(ledger, days[0], days[-1])
    invalid = tuple(c["call_id"] for c in calls if c["valid"] == 0)
    existing = ledger.db.execute(
        "SELECT * FROM samplings WHERE kind = ? AND period = ?", (kind, period)
    ).fetchone()
    if existing is not None:
        return Sample(
            kind,
            period,
            tuple(json.loads(existing["calls"])),
            invalid,
            json.loads(existing["rates"]),
            existing["seed"],
            existing["drawn_at"],
        )
    # Agents flagged by failed calls of the period or before it: by the calls' date (when a
    # flag was recorded says when a night ran, the next morning or much later on a re-run).
    flagged = {
        r["agent_id"]
        for r in ledger.db.execute(
            "SELECT DISTINCT f.agent_id FROM agent_flags f JOIN calls c ON c.call_id = "
            "f.call_id WHERE f.active = 1 AND substr(c.started_at, 1, 10) <= ?",
            (days[-1].isoformat(),),
        )
    }
    base = config.daily_rate if kind == "daily" else config.weekly_rate
    by_agent: dict[str, list[str]] = defaultdict(list)
    for call in calls:
        if call["valid"] == 1:
            by_agent[call["agent_id"] or "?"].append(call["call_id"])
    chosen: list[str] = []
    for agent, ids in sorted(by_agent.items()):
        rate = max(base, config.flagged_rate) if agent in flagged else base
        count = min(len(ids), max(1, round(rate * len(ids))))
        chosen.extend(random.Random(f"{config.seed}:{period}:{agent}").sample(sorted(ids), count))
    rates = {"base": base, "flagged_agents": sorted(flagged), "flagged_rate": config.flagged_rate}
    stamp = now()
    with ledger.transaction():
        ledger.db.execute(
            "INSERT INTO samplings(kind, period, drawn_at, drawn_by, rates, seed, "
            "calls) VALUES (?,?,?,?,?,?,?)",
            (kind, period, stamp, by, json.dumps(rates), config.seed, json.dumps(sorted(chosen))),
        )
    return Sample(kind, period, tuple(sorted(chosen)), invalid, rates, config.seed, stamp)


# -- early warning --------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    warning_id: str
    level: str
    count: int
    threshold: int
    category: str
    window_days: int
    responsible: str
    # False when a re-run finds it was raised for this night before (at this level or a
    # higher one): reported as already raised, never sent again.
    new: bool = True
    first_raised_at: str | None = None  # when an earlier run raised it for this night


def evaluate_warnings(ledger: Ledger, config: NightlyConfig, day: date) -> list[Alert]:
    """Every warning whose count in its window reaches a level, at its highest level."""
    alerts = []
    for rule in config.warnings:
        count = _count(ledger, rule, day)
        reached = [(level, n) for level, n in rule.levels if count >= n]
        if reached:
            level, threshold = reached[-1]
            alerts.append(
                Alert(
                    rule.id,
                    level,
                    count,
                    threshold,
                    f"{rule.kind}: {rule.value}",
                    rule.window_days,
                    rule.responsible,
                )
            )
    return sorted(alerts, key=lambda a: (-LEVELS.index(a.level), a.warning_id))


def mark_alerts(ledger: Ledger, day: date, alerts: list[Alert]) -> list[Alert]:
    """The alerts, each marked new, or not when the night already raised it at this level or
    a higher one (see `keep_alerts`)."""
    marked = []
    for alert in alerts:
        higher = LEVELS[LEVELS.index(alert.level):]
        before = ledger.db.execute(
            f"SELECT MIN(raised_at) FROM alerts_raised WHERE warning_id = ? AND night = ? "
            f"AND level IN ({','.join('?' * len(higher))})",
            (alert.warning_id, day.isoformat(), *higher),
        ).fetchone()[0]
        marked.append(replace(alert, new=before is None, first_raised_at=before))
    return marked


def keep_alerts(ledger: Ledger, day: date, alerts: list[Alert]) -> None:
    """Keep in the ledger that the night raised these alerts: once its report is written,
    so a run that fails before never counts as having told anyone."""
    stamp = now()
    with ledger.transaction():
        for alert in alerts:
            ledger.db.execute(
                "INSERT INTO alerts_raised(warning_id, night, level, count, threshold, "
                "raised_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (alert.warning_id, day.isoformat(), alert.level, alert.count, alert.threshold,
                 stamp),
            )


def night_as_of(ledger: Ledger, day: date) -> str:
    """The moment a night's report shows the ledger as of: when the night was first
    reported, so a re-run shows it as it was (decisions and closures made since left out);
    now for a night reported for the first time. To the second: what happened in the
    report's own second counts as after it."""
    row = ledger.db.execute("SELECT reported_at FROM nights WHERE night = ?",
                            (day.isoformat(),)).fetchone()
    return row[0] if row is not None else now()


def note_reported(ledger: Ledger, day: date, as_of: str) -> None:
    """The night's report is written as of `as_of` (kept from its first run on)."""
    with ledger.transaction():
        ledger.db.execute("INSERT INTO nights(night, reported_at) VALUES (?, ?) "
                          "ON CONFLICT(night) DO NOTHING", (day.isoformat(), as_of))


def _count(ledger: Ledger, rule: WarningRule, day: date) -> int:
    first = day - timedelta(days=rule.window_days - 1)
    if rule.kind == "rule":
        return ledger.db.execute(
            "SELECT COUNT(*) FROM findings f JOIN calls c ON c.call_id = f.call_id "
            "WHERE f.rule_id = ? AND f.active = 1 AND f.waiver IS NULL "
            "AND substr(c.started_at, 1, 10) BETWEEN ? AND ?",
            (rule.value, first.isoformat(), day.isoformat()),
        ).fetchone()[0]
    column = "violations" if rule.kind == "standard" else "signals"
    return sum(1 for c in _calls_between(ledger, first, day) if rule.value in json.loads(c[column]))


# -- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentMetrics:
    agent_id: str
    calls: int
    sales: int
    valid: int
    invalid: int
    complaints: int

    @property
    def validity_rate(self) -> float | None:
        return self.valid / self.sales if self.sales else None

    @property
    def invalid_rate(self) -> float | None:
        return self.invalid / self.sales if self.sales else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.calls if self.calls else None


def agent_metrics(ledger: Ledger, first: date, last: date) -> list[AgentMetrics]:
    """Per agent over the days, worst invalid rate first: counted by SQLite over the
    started_at range (the covering index calls_started_valid), not call by call."""
    low, high = first.isoformat(), (last + timedelta(days=1)).isoformat()
    rows = ledger.db.execute(
        "SELECT coalesce(agent_id, '?'), count(*), count(valid), coalesce(sum(valid = 1), 0), "
        "coalesce(sum(valid = 0), 0), coalesce(sum(instr(signals, '\"complaint_risk\"') > 0), 0) "
        "FROM calls WHERE started_at >= ? AND started_at < ? GROUP BY 1", (low, high))
    found = [AgentMetrics(*r) for r in rows]
    return sorted(found, key=lambda m: (-(m.invalid_rate or 0), -m.invalid, m.agent_id))


@dataclass(frozen=True)
class DayTotals:
    calls: int
    sales: int
    valid: int
    invalid: int
    no_sale: int
    by_standard: dict[str, int]
    by_rule: dict[str, int]
    signals: dict[str, int]

    @property
    def validity_rate(self) -> float | None:
        return self.valid / self.sales if self.sales else None


def totals(ledger: Ledger, first: date, last: date) -> DayTotals:
    calls = _calls_between(ledger, first, last)
    standards: Counter = Counter()
    signals: Counter = Counter()
    for call in calls:
        standards.update(json.loads(call["violations"]))
        signals.update(json.loads(call["signals"]))
    rules = Counter(
        dict(
            ledger.db.execute(
                "SELECT f.rule_id, COUNT(DISTINCT f.call_id) FROM findings f JOIN calls c "
                "ON c.call_id = f.call_id WHERE f.active = 1 AND f.waiver IS NULL AND "
                "substr(c.started_at, 1, 10) BETWEEN ? AND ? GROUP BY f.rule_id",
                (first.isoformat(), last.isoformat()),
            ).fetchall()
        )
    )
    valid = sum(1 for c in calls if c["valid"] == 1)
    invalid = sum(1 for c in calls if c["valid"] == 0)
    return DayTotals(
        len(calls),
        valid + invalid,
        valid,
        invalid,
        len(calls) - valid - invalid,
        dict(standards.most_common()),
        dict(rules.most_common()),
        dict(signals.most_common()),
    )


def weekly_trend(ledger: Ledger, day: date, weeks: int) -> list[tuple[str, DayTotals]]:
    """Totals of the last `weeks` ISO weeks up to `day` (its own week up to that day only:
    the later days' calls are not part of that night), oldest first."""
    result = []
    for back in range(weeks - 1, -1, -1):
        days = week_days(iso_week(day - timedelta(weeks=back)))
        result.append((iso_week(days[0]), totals(ledger, days[0], min(days[-1], day))))
    return result


def rule_precision(ledger: Ledger, as_of: str | None = None) -> list[tuple[str, int, int, float]]:
    """Per rule, from human reviews (those recorded by `as_of`, when given):
    (rule, upheld, overturned, precision)."""
    rows = ledger.db.execute(
        "SELECT rule_id, SUM(verdict = 'upheld'), SUM(verdict = "
        "'overturned') FROM reviews WHERE ? IS NULL OR at <= ? GROUP BY rule_id "
        "ORDER BY rule_id",
        (as_of, as_of),
    )
    return [(r, up, down, up / (up + down)) for r, up, down in rows if up + down]


def callbacks_due(ledger: Ledger, day: date, as_of: str) -> list:
    """The callback orders a night's report lists: due by the next day, for calls up to the
    night, open as of `as_of` (closed since: still listed; withdrawn by a re-audit: not)."""
    return ledger.db.execute(
        "SELECT k.* FROM callbacks k JOIN calls c ON c.call_id = k.call_id "
        "WHERE k.due_date <= ? AND substr(c.started_at, 1, 10) <= ? "
        "AND k.status != 'superseded' AND (k.status = 'open' OR k.closed_at >= ?) "
        "ORDER BY k.due_date, k.id",
        ((day + timedelta(days=1)).isoformat(), day.isoformat(), as_of),
    ).fetchall()


def blacklist_pending(ledger: Ledger, day: date, as_of: str) -> list:
    """The blacklist proposals awaiting a manager as of a night: for calls up to the night,
    pending then (decided since: still listed)."""
    return ledger.db.execute(
        "SELECT b.* FROM blacklist b JOIN calls c ON c.call_id = b.call_id "
        "WHERE substr(c.started_at, 1, 10) <= ? AND (b.status = 'pending' OR "
        "(b.decided_at IS NOT NULL AND b.decided_at >= ? AND b.status != 'withdrawn')) "
        "ORDER BY b.id",
        (day.isoformat(), as_of),
    ).fetchall()
