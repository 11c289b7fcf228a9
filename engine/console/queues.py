"""The console's queues: blacklist proposals, callbacks, the review sample. Each is a page of
rows, filtered by night (the call's start date), agent, rule, standard and severity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from engine.actions.ledger import Ledger

PAGE_SIZE = 50
BLACKLIST_STATUSES = ("pending", "approved", "rejected", "withdrawn")
CALLBACK_STATUSES = ("open", "done", "superseded", "closed")
# What a callback's result may be (as `callbacks import` takes them); 'done' closes it.
CALLBACK_OUTCOMES = ("done", "unreachable", "refused", "wrong_number")

T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    night: date | None = None
    agent: str = ""
    rule: str = ""
    standard: str = ""
    severity: str = ""
    status: str = ""
    page: int = 1

    def as_query(self) -> dict[str, Any]:
        return {"night": self.night.isoformat() if self.night else None, "agent": self.agent,
                "rule": self.rule, "standard": self.standard, "severity": self.severity,
                "status": self.status}


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def _where(filters: Filters, call: str = "c") -> tuple[list[str], list[Any]]:
    """Conditions on the call (alias `call`) and on its active findings."""
    where: list[str] = []
    args: list[Any] = []
    if filters.night is not None:
        where.append(f"{call}.started_at >= ? AND {call}.started_at < ?")
        args += [filters.night.isoformat(), (filters.night + timedelta(days=1)).isoformat()]
    if filters.agent:
        where.append(f"{call}.agent_id = ?")
        args.append(filters.agent)
    finding = []
    for column in ("rule", "standard", "severity"):
        value = getattr(filters, column)
        if value:
            finding.append(f"f.{'rule_id' if column == 'rule' else column} = ?")
            args.append(value)
    if finding:
        where.append(f"EXISTS (SELECT 1 FROM findings f WHERE f.call_id = {call}.call_id AND "
                     f"f.active = 1 AND {' AND '.join(finding)})")
    return where, args


def _paged(ledger: Ledger, select: str, count: str, where: list[str], args: list[Any],
           order: str, page: int) -> tuple[list[Any], int]:
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = ledger.db.execute(count + clause, args).fetchone()[0]
    page = max(1, page)
    rows = ledger.db.execute(f"{select}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
                             [*args, PAGE_SIZE, (page - 1) * PAGE_SIZE]).fetchall()
    return rows, total


# -- blacklist ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    id: int
    phone: str
    call_id: str
    agent_id: str | None
    started_at: str | None
    quotes: tuple[str, ...]
    status: str
    proposed_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


def blacklist_queue(ledger: Ledger, filters: Filters) -> Page[Proposal]:
    where, args = _where(filters)
    status = filters.status or "pending"
    if status != "all":
        where.insert(0, "b.status = ?")
        args.insert(0, status)
    rows, total = _paged(
        ledger, "SELECT b.*, c.started_at, c.agent_id AS call_agent FROM blacklist b "
                "LEFT JOIN calls c ON c.call_id = b.call_id",
        "SELECT count(*) FROM blacklist b LEFT JOIN calls c ON c.call_id = b.call_id",
        where, args, "b.id", filters.page)
    return Page([Proposal(r["id"], r["phone"], r["call_id"], r["agent_id"] or r["call_agent"],
                          r["started_at"],
                          tuple(dict.fromkeys(e.get("quote", "") for e in
                                              json.loads(r["evidence"] or "[]"))),
                          r["status"], r["proposed_at"], r["decided_by"], r["decided_at"],
                          r["reason"]) for r in rows], total, filters.page)


# -- callbacks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackRow:
    id: int
    call_id: str
    phone: str | None
    agent_id: str | None
    severity: str
    reasons: tuple[str, ...]
    points: tuple[str, ...]
    due_date: str
    status: str
    attempts: int
    withheld: tuple[str, ...] = field(default=())  # why the dialer would not get it


def callback_queue(ledger: Ledger, filters: Filters, due: date | None = None
                   ) -> Page[CallbackRow]:
    where, args = _where(filters)
    status = filters.status or "open"
    if status != "all":
        where.insert(0, "k.status = ?")
        args.insert(0, status)
    if due is not None:
        where.append("k.due_date <= ?")
        args.append(due.isoformat())
    rows, total = _paged(
        ledger, "SELECT k.* FROM callbacks k LEFT JOIN calls c ON c.call_id = k.call_id",
        "SELECT count(*) FROM callbacks k LEFT JOIN calls c ON c.call_id = k.call_id",
        where, args, "k.due_date, k.id", filters.page)
    found = []
    for r in rows:
        withheld = tuple(s.describe() for s in ledger.withheld(r)) if r["status"] == "open" \
            else ()
        found.append(CallbackRow(r["id"], r["call_id"], r["phone"], r["agent_id"],
                                 r["severity"], tuple(json.loads(r["reasons"])),
                                 tuple(json.loads(r["points"])), r["due_date"], r["status"],
                                 r["attempts"], withheld))
    return Page(found, total, filters.page)


# -- the review sample -------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledFinding:
    fingerprint: str
    call_id: str
    agent_id: str | None
    rule_id: str
    standard: str
    severity: str
    message: str
    quote: str
    at: float | None
    review: str | None  # the latest verdict: upheld / overturned
    reviewed_by: str | None
    dispute: bool


@dataclass(frozen=True)
class ReviewSample:
    kind: str  # daily / weekly
    period: str
    calls: tuple[str, ...]  # the sampled calls (none when no sample was drawn)
    findings: Page[SampledFinding]
    unreviewed: int


def review_sample(ledger: Ledger, night: date, filters: Filters, kind: str = "daily",
                  sampled_only: bool = False, unreviewed_only: bool = False) -> ReviewSample:
    """The night's findings to review (`unreviewed_only`: those nobody has reviewed), and
    the sample drawn for the night (daily) or its ISO week (weekly): the calls to listen to
    in full, for violations the audit missed. `sampled_only`: the sampled calls' findings."""
    period = night.isoformat() if kind == "daily" else \
        f"{night.isocalendar()[0]}-W{night.isocalendar()[1]:02d}"
    row = ledger.db.execute("SELECT calls FROM samplings WHERE kind = ? AND period = ?",
                            (kind, period)).fetchone()
    calls = tuple(json.loads(row["calls"])) if row is not None else ()
    where, args = _where(Filters(night=None if sampled_only and kind == "weekly" else night,
                                 agent=filters.agent))
    where.append("fi.active = 1")
    if sampled_only:
        where.append(f"fi.call_id IN ({','.join('?' * len(calls)) or 'NULL'})")
        args += list(calls)
    for column, value in (("rule_id", filters.rule), ("standard", filters.standard),
                          ("severity", filters.severity)):
        if value:
            where.append(f"fi.{column} = ?")
            args.append(value)
    latest = ("(SELECT r.{0} FROM reviews r WHERE r.fingerprint = fi.fingerprint AND "
              "r.verdict IN ('upheld', 'overturned') ORDER BY r.id DESC LIMIT 1)")
    if unreviewed_only:
        where.append("NOT EXISTS (SELECT 1 FROM reviews r WHERE r.fingerprint = "
                     "fi.fingerprint AND r.verdict IN ('upheld', 'overturned'))")
    # In the order of the calls' index (started_at): a page is read off it and stops.
    rows, total = _paged(
        ledger, f"SELECT fi.*, c.agent_id, {latest.format('verdict')} AS review, "
                f"{latest.format('by')} AS reviewed_by, "
                f"{latest.format('kind')} AS review_kind "
                "FROM findings fi JOIN calls c ON c.call_id = fi.call_id",
        "SELECT count(*) FROM findings fi JOIN calls c ON c.call_id = fi.call_id",
        where, args, "c.started_at, c.call_id, fi.rowid", filters.page)
    findings = []
    for r in rows:
        evidence = (json.loads(r["evidence"]) or [{}])[0]
        text = evidence.get("text", "")
        quote = text[evidence.get("char_start", 0):evidence.get("char_end", 0)] \
            or evidence.get("quote", "")
        findings.append(SampledFinding(r["fingerprint"], r["call_id"], r["agent_id"],
                                       r["rule_id"], r["standard"], r["severity"], r["message"],
                                       quote, evidence.get("start"), r["review"],
                                       r["reviewed_by"], r["review_kind"] == "dispute"))
    clause = " AND ".join(where)
    unreviewed = ledger.db.execute(
        "SELECT count(*) FROM findings fi JOIN calls c ON c.call_id = fi.call_id WHERE "
        f"{clause} AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.fingerprint = "
        "fi.fingerprint AND r.verdict IN ('upheld', 'overturned'))", args).fetchone()[0]
    return ReviewSample(kind, period, calls, Page(findings, total, filters.page), unreviewed)
