"""The console's search: a phone number, a call id or an agent id, and what the ledger
holds about it."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from engine.actions.ledger import Ledger, Suppression
from engine.actions.phones import normalize_phone
from engine.console.calls import CallRow, _row

MOST = 200  # calls listed for a number or an agent
_DIGITS = re.compile(r"[\d\s()+\-.]{7,}")


@dataclass
class Found:
    query: str
    phone: str | None = None  # the number searched, normalised as the ledger stores it
    call_ids: list[str] = field(default_factory=list)  # a call found by its id
    agent: str | None = None
    dnc: sqlite3.Row | None = None
    blacklist: list[sqlite3.Row] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    history: list[sqlite3.Row] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.call_ids or self.dnc or self.blacklist or self.calls
                    or self.history)


def _known(db: sqlite3.Connection, phone: str) -> bool:
    return any(db.execute(f"SELECT 1 FROM {table} WHERE phone = ? LIMIT 1",
                          (phone,)).fetchone() for table in ("calls", "dnc", "blacklist"))


def _columns() -> str:
    return "call_id, started_at, agent_id, phone, call_type, valid, violations, signals"


def search(ledger: Ledger, query: str) -> Found:
    """By call id (exact), agent id (exact) or phone number (normalised as the ledger
    does). A number's calls need an index on calls(phone) in a large ledger."""
    query = query.strip()
    found = Found(query)
    if not query:
        return found
    db = ledger.db
    if db.execute("SELECT 1 FROM calls WHERE call_id = ?", (query,)).fetchone():
        found.call_ids.append(query)
    if db.execute("SELECT 1 FROM calls WHERE agent_id = ? LIMIT 1", (query,)).fetchone():
        found.agent = query
        found.calls = [_row(r) for r in db.execute(
            f"SELECT {_columns()} FROM calls WHERE agent_id = ? ORDER BY started_at DESC "
            "LIMIT ?", (query, MOST))]
        return found
    if _DIGITS.fullmatch(query):
        # As the ledger normalises a call's number: by the call's language (zh, then en).
        numbers = [n for n in dict.fromkeys((normalize_phone(query),
                                             normalize_phone(query, "en"))) if n]
        known = [n for n in numbers if _known(db, n)]
        phone = (known or numbers or [None])[0]
        if phone:
            found.phone = phone
            found.dnc = db.execute("SELECT * FROM dnc WHERE phone = ?", (phone,)).fetchone()
            found.blacklist = db.execute("SELECT * FROM blacklist WHERE phone = ? ORDER BY id",
                                         (phone,)).fetchall()
            found.suppressions = ledger.suppression_details(phone)
            found.history = ledger.history_of_phone(phone)
            found.calls = [_row(r) for r in db.execute(
                f"SELECT {_columns()} FROM calls WHERE phone = ? ORDER BY started_at DESC "
                "LIMIT ?", (phone, MOST))]
    return found
