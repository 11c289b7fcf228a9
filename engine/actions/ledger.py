"""The ledger: what the audit decided, and what people did about it, across nights.

An embedded SQLite database (WAL, each call recorded all-or-nothing, a night's calls
committed a few dozen at a time, versioned schema with migrations). It holds every
audited call (content hash + rule pack hash), its findings, callback orders, blacklist and
do-not-call entries with their full history, trial obligations and agent flags.

Re-auditing the same call with the same rules changes nothing. With changed rules, the
old findings and the actions nobody has acted on yet are superseded, and the change is
reported. A manager's blacklist decision and a customer's do-not-call request are never
undone by a re-run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from engine.actions.phones import normalize_phone
from engine.actions.policy import ActionPolicy
from engine.audit import CallAudit
from engine.findings import Finding
from engine.model import Call
from engine.rules.base import SEVERITIES

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        rule_pack TEXT NOT NULL,
        rule_pack_hash TEXT NOT NULL,
        policy_hash TEXT NOT NULL,
        call_type TEXT NOT NULL,
        agent_id TEXT,
        phone TEXT,
        started_at TEXT,
        related_call_id TEXT,
        valid INTEGER,
        violations TEXT NOT NULL,
        signals TEXT NOT NULL,
        outcomes TEXT NOT NULL,
        actions TEXT NOT NULL,
        audited_at TEXT NOT NULL,
        times_audited INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE findings (
        fingerprint TEXT NOT NULL,
        rule_pack_hash TEXT NOT NULL,
        call_id TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        standard TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        detail TEXT,
        evidence TEXT NOT NULL,
        rule_source TEXT,
        waiver TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        recorded_at TEXT NOT NULL,
        superseded_at TEXT,
        PRIMARY KEY (fingerprint, rule_pack_hash)
    );
    CREATE INDEX findings_call ON findings(call_id);
    CREATE TABLE callbacks (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        phone TEXT,
        agent_id TEXT,
        severity TEXT NOT NULL,
        reasons TEXT NOT NULL,
        points TEXT NOT NULL,
        due_date TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        exported_at TEXT,
        closed_at TEXT,
        closed_by TEXT,
        result TEXT
    );
    CREATE UNIQUE INDEX callbacks_one_open ON callbacks(call_id) WHERE status = 'open';
    CREATE TABLE blacklist (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL,
        call_id TEXT NOT NULL,
        agent_id TEXT,
        evidence TEXT NOT NULL,
        status TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        decided_by TEXT,
        decided_at TEXT,
        reason TEXT,
        UNIQUE (phone, call_id)
    );
    CREATE TABLE dnc (
        phone TEXT PRIMARY KEY,
        call_id TEXT,
        evidence TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        sale_call_id TEXT NOT NULL UNIQUE,
        phone TEXT,
        product_code TEXT,
        trial_days INTEGER NOT NULL,
        trial_end TEXT NOT NULL,
        due_date TEXT NOT NULL,
        status TEXT NOT NULL,
        extensions INTEGER NOT NULL DEFAULT 0,
        closed_by_call TEXT,
        closed_at TEXT
    );
    CREATE TABLE agent_flags (
        agent_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        flagged_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (agent_id, call_id)
    );
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX history_ref ON history(kind, ref);
    """,
    # 2: registered review samples and human verdicts on findings
    """
    CREATE TABLE samplings (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        period TEXT NOT NULL,
        drawn_at TEXT NOT NULL,
        drawn_by TEXT NOT NULL,
        rates TEXT NOT NULL,
        seed INTEGER NOT NULL,
        calls TEXT NOT NULL,
        UNIQUE (kind, period)
    );
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        by TEXT NOT NULL,
        note TEXT,
        kind TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX calls_started ON calls(started_at);
    """,
    # 3: each night's first report (what its re-runs show "as of"), and the early warnings
    # raised, so a re-run does not raise them again
    """
    CREATE TABLE nights (
        night TEXT PRIMARY KEY,
        reported_at TEXT NOT NULL
    );
    CREATE TABLE alerts_raised (
        warning_id TEXT NOT NULL,
        night TEXT NOT NULL,
        level TEXT NOT NULL,
        count INTEGER NOT NULL,
        threshold INTEGER NOT NULL,
        raised_at TEXT NOT NULL,
        PRIMARY KEY (warning_id, night, level)
    );
    """,
)

# Written into every ledger's header (PRAGMA application_id, "cala"): how callaudit tells
# its own databases from another application's before changing anything in one.
LEDGER_APPLICATION_ID = 0x63616C61

# Call platforms say why a confirmation call did not reach the customer in a field of their
# own; a call with no customer speech at all is taken as unreachable too.
UNREACHABLE = frozenset({"unreachable", "no_answer", "busy", "suspended", "powered_off",
                         "无人接听", "停机", "关机", "无法接通"})


def _retry_while_locked(step, seconds: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def default_db_path() -> Path:
    """The ledger's default place: the user's data folder (e.g. ~/.local/share/callaudit)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("callaudit", appauthor=False)) / "ledger.db"


class LedgerError(Exception):
    """Something a person asked of the ledger that cannot be done (a decided entry...)."""


@dataclass
class ChangeReport:
    """What recording one call changed in the ledger."""

    call_id: str
    status: str  # "new", "unchanged" or "re-audited"
    actions: list[str] = field(default_factory=list)  # action kinds taken
    findings_added: int = 0
    findings_superseded: int = 0
    notes: list[str] = field(default_factory=list)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def content_hash(call: Call) -> str:
    """A hash of everything the audit reads of a call."""
    record = {
        "call_id": call.call_id, "call_type": call.call_type, "agent_id": call.agent_id,
        "customer_phone": call.customer_phone, "language": call.language,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "related_call_id": call.related_call_id,
        "product": None if call.product is None else [
            call.product.code, call.product.name, call.product.monthly_fee,
            call.product.currency, call.product.trial_days],
        "turns": [[t.speaker, t.text, t.start, t.end] for t in call.turns],
    }
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


_to_json = json.JSONEncoder(ensure_ascii=False).encode  # as json.dumps(..., ensure_ascii=False)


def evidence_json(finding: Finding) -> str:
    """A finding's evidence as the findings table stores it."""
    return _to_json([e.__dict__ for e in finding.evidence])


@dataclass(frozen=True)
class Prepared:
    """What the ledger stores of an audited call that depends on the call alone. A night
    works it out where the call was audited (a worker process), so the one process that
    writes the ledger has less to do for each call."""

    content_hash: str
    evidence: tuple[str, ...]  # evidence_json of each finding, in order

    @classmethod
    def of(cls, audit: CallAudit, digest: str | None = None) -> Prepared:
        """`digest`: the call's content hash, when it is already known."""
        return cls(digest or content_hash(audit.call),
                   tuple(evidence_json(f) for f in audit.findings))


def add_working_days(start: date, days: int, working: frozenset[int],
                     holidays: frozenset[str]) -> date:
    """The date `days` working days after `start` (0: the same day if it is a working day)."""
    current = start
    if days == 0:
        while current.weekday() not in working or current.isoformat() in holidays:
            current += timedelta(days=1)
        return current
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() in working and current.isoformat() not in holidays:
            added += 1
    return current


def _normal(phone: str) -> str:
    """A number as the ledger stores it, whether or not the caller normalised it."""
    return phone if phone.startswith("+") else (normalize_phone(phone) or phone)


def unreachable(call: Call) -> bool:
    disposition = str(dict(call.extra).get("disposition", "")).strip().lower()
    if disposition in UNREACHABLE:
        return True
    return not any(t.speaker == "customer" and t.text.strip() for t in call.turns)


GROUP_CALLS = 50  # calls committed together in a night (see Ledger.grouped)
GROUP_SECONDS = 0.5


class _CommitGroup:
    """One open transaction that members join as savepoints, committed now and then."""

    def __init__(self, db: sqlite3.Connection, most: int, seconds: float) -> None:
        self.db = db
        self.most = most
        self.seconds = seconds
        self.members = 0
        self.opened = 0.0

    @contextmanager
    def member(self) -> Iterator[None]:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.members, self.opened = 0, time.monotonic()
        self.db.execute("SAVEPOINT member")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled it all back already
                self.db.execute("ROLLBACK TO member")
                self.db.execute("RELEASE member")
            raise
        self.db.execute("RELEASE member")
        self.members += 1
        if self.members >= self.most or time.monotonic() - self.opened >= self.seconds:
            self.commit()

    def commit(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")


def _stored_hashes(db: sqlite3.Connection, call_id: str) -> tuple[str, str, str] | None:
    """The transcript, rule pack and policy hashes the ledger holds for a call, if any."""
    row = db.execute("SELECT content_hash, rule_pack_hash, policy_hash FROM calls "
                     "WHERE call_id = ?", (call_id,)).fetchone()
    return None if row is None else tuple(row)


def _holds(db: sqlite3.Connection, call_id: str, hashes: tuple[str, str, str]) -> bool:
    """The ledger holds the call with this transcript, rule pack and policy (hashes)."""
    return _stored_hashes(db, call_id) == hashes


class LedgerReader:
    """A read-only look at a ledger that another process writes: how worker processes
    tell which calls a resumed night need not audit again under one action policy."""

    def __init__(self, path: str | Path, policy_hash: str) -> None:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        self.db = sqlite3.connect(uri, uri=True, timeout=30)
        self.policy_hash = policy_hash

    def already_audited(self, call: Call, pack_hash: str, digest: str | None = None) -> bool:
        """`digest`: the call's content hash, when it is already known."""
        hashes = (digest or content_hash(call), pack_hash, self.policy_hash)
        return _holds(self.db, call.call_id, hashes)


class Ledger:
    """The ledger database; one connection, every write in a transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        # The last call hashed: a night asks whether a call is unchanged, then records it.
        self._hashed: tuple[Call, str] | None = None
        # Wait for another writer rather than fail, from the very first statement on.
        self.db.execute("PRAGMA busy_timeout=30000")
        try:
            self._refuse_a_foreign_database()
        except BaseException:
            self.db.close()
            raise
        # Switching to WAL and migrating need a moment alone with the file; SQLite may
        # answer "database is locked" at once (without waiting) while another process
        # opening the same new ledger does the same, so both are retried.
        _retry_while_locked(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA foreign_keys=ON")
        self._group: _CommitGroup | None = None  # set while `grouped` runs
        _retry_while_locked(self._migrate)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: one writer at a time; a second one waits, then is refused.
        Within `grouped`, a savepoint in the group's transaction instead."""
        if self._group is not None:
            with self._group.member():
                yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def commit_group(self) -> None:
        """Commit what the open group holds now (before waiting on something slow)."""
        if self._group is not None:
            self._group.commit()

    @contextmanager
    def grouped(self, most: int = GROUP_CALLS, seconds: float = GROUP_SECONDS) -> Iterator[None]:
        """Commit many transactions at once: a night's calls, each still all-or-nothing (a
        savepoint), committed together every `most` calls or `seconds`, whichever comes
        first, and when the group ends however it ends. A commit waits for the disk: on a
        spinning disk that is milliseconds, more than recording the call. A run killed
        part-way loses at most the calls not yet committed, and its next run, finding them
        missing, audits them again."""
        if self._group is not None:
            yield
            return
        self._group = _CommitGroup(self.db, most, seconds)
        try:
            yield
        finally:
            self._group.commit()
            self._group = None

    def _refuse_a_foreign_database(self) -> None:
        """Before anything is written: a database with tables is opened only if it is a
        callaudit ledger (marked, or as ledgers were before the mark: a schema version and
        a `calls` table). Another application's file is left exactly as it was."""
        marker = self.db.execute("PRAGMA application_id").fetchone()[0]
        if marker == LEDGER_APPLICATION_ID:
            return
        tables = [r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        if not tables and marker == 0:
            return  # a new ledger (an empty file, or no file yet)
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if marker == 0 and version >= 1 and "calls" in tables:
            return  # written before the mark: stamped by _migrate
        held = ", ".join(tables[:8]) + (f" and {len(tables) - 8} more" if len(tables) > 8
                                        else "")
        raise LedgerError(
            f"{self.path} is not a callaudit ledger: it holds tables {held or '(none)'}"
            + (f" and application id {marker}" if marker else "")
            + "; point --db (or CALLAUDIT_DB, or `database:` in callaudit.yaml) at the "
            "ledger, or at a new file for a new one")

    def _migrate(self) -> None:
        """Bring the schema up to date, one step per transaction. The version is read inside
        the write lock, so two processes opening a new ledger at once migrate it once."""
        while True:
            with self.transaction() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version > len(MIGRATIONS):
                    raise LedgerError(f"{self.path} was written by a newer callaudit (schema "
                                      f"{version}); upgrade callaudit to use it")
                if db.execute("PRAGMA application_id").fetchone()[0] != LEDGER_APPLICATION_ID:
                    db.execute(f"PRAGMA application_id = {LEDGER_APPLICATION_ID}")
                if version == len(MIGRATIONS):
                    return
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _history(self, kind: str, ref: str, who: str, event: str, detail: Any = None) -> None:
        text = None if detail is None else json.dumps(detail, ensure_ascii=False)
        self.db.execute("INSERT INTO history(kind, ref, at, who, event, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (kind, ref, now(), who, event, text))

    # -- what the policy may ask about a call ------------------------------------------------

    def facts_for(self, call: Call) -> dict[str, bool]:
        phone = normalize_phone(call.customer_phone, call.language)
        related = call.related_call_id
        one = self.db.execute
        return {
            "related_trial_open": bool(related) and one(
                "SELECT 1 FROM trials WHERE sale_call_id = ? AND status = 'open'",
                (related,)).fetchone() is not None,
            "related_callback_open": bool(related) and one(
                "SELECT 1 FROM callbacks WHERE call_id = ? AND status = 'open'",
                (related,)).fetchone() is not None,
            "on_dnc": bool(phone) and one("SELECT 1 FROM dnc WHERE phone = ?",
                                          (phone,)).fetchone() is not None,
            "blacklisted": bool(phone) and one(
                "SELECT 1 FROM blacklist WHERE phone = ? AND status IN ('pending', 'approved')",
                (phone,)).fetchone() is not None,
        }

    def already_audited(self, call: Call, pack_hash: str, policy_hash: str,
                        digest: str | None = None) -> bool:
        """`digest`: the call's content hash, when it is already known."""
        hashes = (digest or self._content_hash(call), pack_hash, policy_hash)
        return _holds(self.db, call.call_id, hashes)

    def _content_hash(self, call: Call) -> str:
        if self._hashed is None or self._hashed[0] is not call:
            self._hashed = (call, content_hash(call))
        return self._hashed[1]

    # -- recording an audited call ------------------------------------------------------------

    def record(self, audit: CallAudit, fired: list[tuple[str, str]],
               policy: ActionPolicy, prepared: Prepared | None = None) -> ChangeReport:
        """Store one audited call and apply the actions its policy rules fired
        (`prepared`: what a worker already worked out of the call; else done here)."""
        call, verdict = audit.call, audit.verdict
        digest = prepared.content_hash if prepared is not None else self._content_hash(call)
        with self.transaction():
            row = _stored_hashes(self.db, call.call_id)
            hashes = (digest, verdict.rule_pack_hash, policy.content_hash)
            if row == hashes:
                return ChangeReport(call.call_id, "unchanged", self._actions_of(call.call_id))
            report = ChangeReport(call.call_id, "new" if row is None else "re-audited")
            if row is not None:
                self._supersede(call.call_id, verdict.rule_pack_hash, report)
            evidence = (prepared.evidence if prepared is not None
                        else [evidence_json(f) for f in audit.findings])
            self._store_findings(audit, report, evidence)
            for rule_id, action in fired:
                taken = getattr(self, f"_do_{action}")(audit, policy, rule_id)
                if taken:
                    report.actions.append(action)
            self._store_call(audit, hashes, report.actions, row is not None)
            return report

    def _actions_of(self, call_id: str) -> list[str]:
        row = self.db.execute("SELECT actions FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def _store_call(self, audit: CallAudit, hashes: tuple[str, str, str], actions: list[str],
                    again: bool) -> None:
        call, verdict = audit.call, audit.verdict
        values = (
            call.call_id, hashes[0], verdict.rule_pack, hashes[1], hashes[2], call.call_type,
            call.agent_id, normalize_phone(call.customer_phone, call.language),
            call.started_at.isoformat() if call.started_at else None, call.related_call_id,
            {True: 1, False: 0, None: None}[verdict.valid], json.dumps(verdict.violations),
            json.dumps(verdict.signals), json.dumps(verdict.outcomes), json.dumps(actions), now(),
        )
        self.db.execute(
            "INSERT INTO calls(call_id, content_hash, rule_pack, rule_pack_hash, policy_hash, "
            "call_type, agent_id, phone, started_at, related_call_id, valid, violations, "
            "signals, outcomes, actions, audited_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(call_id) DO UPDATE SET content_hash=excluded.content_hash, "
            "rule_pack=excluded.rule_pack, rule_pack_hash=excluded.rule_pack_hash, "
            "policy_hash=excluded.policy_hash, call_type=excluded.call_type, "
            "agent_id=excluded.agent_id, phone=excluded.phone, started_at=excluded.started_at, "
            "related_call_id=excluded.related_call_id, valid=excluded.valid, "
            "violations=excluded.violations, signals=excluded.signals, "
            "outcomes=excluded.outcomes, actions=excluded.actions, "
            "audited_at=excluded.audited_at, times_audited=calls.times_audited + 1", values)

    def _store_findings(self, audit: CallAudit, report: ChangeReport,
                        evidence_of: Sequence[str]) -> None:
        pack_hash = audit.verdict.rule_pack_hash
        for f, evidence in zip(audit.findings, evidence_of, strict=True):
            cursor = self.db.execute(
                "INSERT INTO findings(fingerprint, rule_pack_hash, call_id, rule_id, standard, "
                "severity, message, detail, evidence, rule_source, waiver, recorded_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(fingerprint, rule_pack_hash) "
                "DO UPDATE SET active = 1, superseded_at = NULL",
                (f.fingerprint, pack_hash, f.call_id, f.rule_id, f.standard, f.severity,
                 f.message, f.detail or None, evidence, f.rule_source, f.waiver, now()))
            report.findings_added += cursor.rowcount

    def _supersede(self, call_id: str, pack_hash: str, report: ChangeReport) -> None:
        """Withdraw what an earlier audit of this call decided and nobody has acted on."""
        stamp = now()
        cursor = self.db.execute("UPDATE findings SET active = 0, superseded_at = ? "
                                 "WHERE call_id = ? AND active = 1", (stamp, call_id))
        report.findings_superseded = cursor.rowcount
        for (callback_id,) in self.db.execute(
                "SELECT id FROM callbacks WHERE call_id = ? AND status = 'open' "
                "AND exported_at IS NULL AND attempts = 0", (call_id,)).fetchall():
            self.db.execute("UPDATE callbacks SET status = 'superseded', closed_at = ? "
                            "WHERE id = ?", (stamp, callback_id))
            self._history("callback", str(callback_id), "audit", "superseded",
                          {"reason": "the call was audited again with changed rules"})
            report.notes.append(f"callback {callback_id} withdrawn pending the new audit")
        for (entry_id,) in self.db.execute(
                "SELECT id FROM blacklist WHERE call_id = ? AND status = 'pending'",
                (call_id,)).fetchall():
            self.db.execute("UPDATE blacklist SET status = 'withdrawn' WHERE id = ?", (entry_id,))
            self._history("blacklist", str(entry_id), "audit", "withdrawn",
                          {"reason": "the call was audited again with changed rules"})
        self.db.execute("UPDATE agent_flags SET active = 0 WHERE call_id = ?", (call_id,))
        self.db.execute("UPDATE trials SET status = 'superseded' WHERE sale_call_id = ? "
                        "AND status = 'open' AND extensions = 0", (call_id,))

    # -- the actions ---------------------------------------------------------------------------

    def _do_callback(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        active = [f for f in audit.findings if f.waiver is None
                  and f.standard not in ("opt_out", "complaint_risk")]
        if not active:
            return False
        worst = max(active, key=lambda f: SEVERITIES.index(f.severity)).severity
        called = call.started_at.date() if call.started_at else date.today()
        due = add_working_days(called, policy.due_days(rule_id, worst), policy.working_days,
                               policy.holidays)
        reasons = sorted({f.standard for f in active})
        points = list(dict.fromkeys(f.message for f in active))
        phone = normalize_phone(call.customer_phone, call.language)
        existing = self.db.execute("SELECT id FROM callbacks WHERE call_id = ? AND "
                                   "status = 'open'", (call.call_id,)).fetchone()
        if existing:
            return True
        cursor = self.db.execute(
            "INSERT INTO callbacks(call_id, phone, agent_id, severity, reasons, points, "
            "due_date, status, created_at) VALUES (?,?,?,?,?,?,?,'open',?)",
            (call.call_id, phone, call.agent_id, worst, json.dumps(reasons),
             json.dumps(points, ensure_ascii=False), due.isoformat(), now()))
        self._history("callback", str(cursor.lastrowid), "audit", "ordered",
                      {"call_id": call.call_id, "due": due.isoformat(), "reasons": reasons})
        return True

    def _do_dnc(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        phone = normalize_phone(call.customer_phone, call.language)
        if phone is None:
            return False
        evidence = [e.quote for f in audit.findings if f.standard == "opt_out"
                    for e in f.evidence]
        cursor = self.db.execute(
            "INSERT INTO dnc(phone, call_id, evidence, added_at) VALUES (?,?,?,?) "
            "ON CONFLICT(phone) DO NOTHING",
            (phone, call.call_id, json.dumps(evidence, ensure_ascii=False), now()))
        if cursor.rowcount:
            self._history("dnc", phone, "audit", "added",
                          {"call_id": call.call_id, "evidence": evidence})
        return True

    def _do_blacklist(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        phone = normalize_phone(call.customer_phone, call.language)
        if phone is None:
            return False
        evidence = [{"quote": e.quote, "text": e.text, "start": e.start, "turn": e.turn}
                    for f in audit.findings if f.standard == "complaint_risk"
                    for e in f.evidence]
        row = self.db.execute("SELECT id, status FROM blacklist WHERE phone = ? AND call_id = ?",
                              (phone, call.call_id)).fetchone()
        if row is None:
            cursor = self.db.execute(
                "INSERT INTO blacklist(phone, call_id, agent_id, evidence, status, proposed_at) "
                "VALUES (?,?,?,?,'pending',?)",
                (phone, call.call_id, call.agent_id, json.dumps(evidence, ensure_ascii=False),
                 now()))
            self._history("blacklist", str(cursor.lastrowid), "audit", "proposed",
                          {"call_id": call.call_id, "evidence": evidence})
        elif row["status"] == "withdrawn":
            self.db.execute("UPDATE blacklist SET status = 'pending', evidence = ? WHERE id = ?",
                            (json.dumps(evidence, ensure_ascii=False), row["id"]))
            self._history("blacklist", str(row["id"]), "audit", "proposed again")
        return True

    def _do_agent_recheck(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        if not call.agent_id:
            return False
        reason = ", ".join(audit.verdict.violations)
        self.db.execute(
            "INSERT INTO agent_flags(agent_id, call_id, flagged_at, reason) VALUES (?,?,?,?) "
            "ON CONFLICT(agent_id, call_id) DO UPDATE SET active = 1, reason = excluded.reason",
            (call.agent_id, call.call_id, now(), reason))
        return True

    def _do_trial_open(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        if call.product is None or not call.product.has_trial or call.started_at is None:
            return False
        end = call.started_at.date() + timedelta(days=call.product.trial_days)
        row = self.db.execute("SELECT id, status FROM trials WHERE sale_call_id = ?",
                              (call.call_id,)).fetchone()
        if row is not None:
            if row["status"] == "superseded":
                self.db.execute("UPDATE trials SET status = 'open' WHERE id = ?", (row["id"],))
            return True
        cursor = self.db.execute(
            "INSERT INTO trials(sale_call_id, phone, product_code, trial_days, trial_end, "
            "due_date, status) VALUES (?,?,?,?,?,?,'open')",
            (call.call_id, normalize_phone(call.customer_phone, call.language),
             call.product.code, call.product.trial_days, end.isoformat(), end.isoformat()))
        self._history("trial", str(cursor.lastrowid), "audit", "opened",
                      {"sale": call.call_id, "due": end.isoformat()})
        return True

    def _do_trial_confirmation(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call, verdict = audit.call, audit.verdict
        trial = self.db.execute("SELECT * FROM trials WHERE sale_call_id = ? AND status = 'open'",
                                (call.call_id if call.related_call_id is None
                                 else call.related_call_id,)).fetchone()
        if trial is None:
            return False
        outcomes = set(verdict.outcomes)
        if unreachable(call):
            end = date.fromisoformat(trial["trial_end"]) + timedelta(days=trial["trial_days"])
            self.db.execute("UPDATE trials SET trial_end = ?, due_date = ?, "
                            "extensions = extensions + 1 WHERE id = ?",
                            (end.isoformat(), end.isoformat(), trial["id"]))
            self._history("trial", str(trial["id"]), "audit", "extended",
                          {"call_id": call.call_id, "new_end": end.isoformat()})
            return True
        status = None
        if "confirmation_declined" in outcomes and "cancellation_confirmed" in outcomes:
            status = "cancelled"
        elif "wants_to_think" in outcomes and "cancel_method_given" in outcomes:
            status = "customer_informed"
        elif "continued" in outcomes and verdict.valid:
            status = "confirmed"
        if status is None:
            self._history("trial", str(trial["id"]), "audit", "confirmation not settled",
                          {"call_id": call.call_id, "outcomes": sorted(outcomes)})
            return True
        self.db.execute("UPDATE trials SET status = ?, closed_by_call = ?, closed_at = ? "
                        "WHERE id = ?", (status, call.call_id, now(), trial["id"]))
        self._history("trial", str(trial["id"]), "audit", status, {"call_id": call.call_id})
        return True

    def _do_callback_result(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call, verdict = audit.call, audit.verdict
        order = self.db.execute("SELECT id FROM callbacks WHERE call_id = ? AND status = 'open'",
                                (call.related_call_id,)).fetchone()
        if order is None:
            return False
        self.db.execute("UPDATE callbacks SET attempts = attempts + 1 WHERE id = ?",
                        (order["id"],))
        if verdict.violations:
            self._history("callback", str(order["id"]), "audit", "callback call invalid",
                          {"call_id": call.call_id, "violations": list(verdict.violations)})
            return True
        self.db.execute("UPDATE callbacks SET status = 'done', closed_at = ?, closed_by = ?, "
                        "result = 'callback call audited valid' WHERE id = ?",
                        (now(), call.call_id, order["id"]))
        self._history("callback", str(order["id"]), "audit", "done", {"call_id": call.call_id})
        return True

    # -- what people do --------------------------------------------------------------------

    def decide_blacklist(self, entry_id: int, approve: bool, by: str, reason: str) -> None:
        """A manager's decision on a pending proposal; a rejection needs a reason."""
        if not by.strip():
            raise LedgerError("say who decides (--by NAME)")
        if not approve and not reason.strip():
            raise LedgerError("a rejection needs a reason (--reason TEXT): it lifts the "
                              "suppression of the number")
        with self.transaction():
            row = self.db.execute("SELECT status, decided_by, decided_at FROM blacklist "
                                  "WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no blacklist entry {entry_id}")
            if row["status"] != "pending":
                raise LedgerError(f"entry {entry_id} is {row['status']}"
                                  + (f" (by {row['decided_by']} on {row['decided_at']})"
                                     if row["decided_by"] else "") + "; only pending entries "
                                  "can be decided")
            status = "approved" if approve else "rejected"
            self.db.execute("UPDATE blacklist SET status = ?, decided_by = ?, decided_at = ?, "
                            "reason = ? WHERE id = ?", (status, by, now(), reason, entry_id))
            self._history("blacklist", str(entry_id), by, status, {"reason": reason})

    def blacklist(self, status: str | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM blacklist"
        args: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        return self.db.execute(query + " ORDER BY id", args).fetchall()

    def history_of_phone(self, phone: str) -> list[sqlite3.Row]:
        """Every event about a number: do-not-call, blacklist proposals and decisions."""
        phone = _normal(phone)
        ids = [str(r["id"]) for r in self.db.execute("SELECT id FROM blacklist WHERE phone = ?",
                                                     (phone,))]
        marks = ",".join("?" * len(ids))
        query = "SELECT * FROM history WHERE (kind = 'dnc' AND ref = ?)"
        if ids:
            query += f" OR (kind = 'blacklist' AND ref IN ({marks}))"
        return self.db.execute(query + " ORDER BY id", (phone, *ids)).fetchall()

    def suppression(self, phone: str) -> list[str]:
        """Why a number must not be called: 'dnc', 'blacklist pending', 'blacklist approved'."""
        phone = _normal(phone)
        reasons = []
        if self.db.execute("SELECT 1 FROM dnc WHERE phone = ?", (phone,)).fetchone():
            reasons.append("dnc")
        for row in self.db.execute("SELECT DISTINCT status FROM blacklist WHERE phone = ? AND "
                                   "status IN ('pending', 'approved') ORDER BY status", (phone,)):
            reasons.append(f"blacklist {row['status']}")
        return reasons

    def callbacks(self, status: str | None = "open", due: date | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM callbacks WHERE 1 = 1"
        args: list[Any] = []
        if status:
            query += " AND status = ?"
            args.append(status)
        if due:
            query += " AND due_date <= ?"
            args.append(due.isoformat())
        return self.db.execute(query + " ORDER BY due_date, id", args).fetchall()

    def mark_exported(self, ids: list[int]) -> None:
        with self.transaction():
            for callback_id in ids:
                self.db.execute("UPDATE callbacks SET exported_at = COALESCE(exported_at, ?) "
                                "WHERE id = ?", (now(), callback_id))
                self._history("callback", str(callback_id), "export", "exported")

    def callback_result(self, callback_id: int, outcome: str, by: str, note: str) -> str:
        """An outcome from the dialer: 'done' closes the order, anything else is an attempt."""
        with self.transaction():
            row = self.db.execute("SELECT status FROM callbacks WHERE id = ?",
                                  (callback_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no callback {callback_id}")
            if row["status"] != "open":
                return f"callback {callback_id} is already {row['status']}"
            self.db.execute("UPDATE callbacks SET attempts = attempts + 1 WHERE id = ?",
                            (callback_id,))
            if outcome == "done":
                self.db.execute("UPDATE callbacks SET status = 'done', closed_at = ?, "
                                "closed_by = ?, result = ? WHERE id = ?",
                                (now(), by, note or "done", callback_id))
            self._history("callback", str(callback_id), by, outcome, {"note": note})
            return f"callback {callback_id}: {outcome}"

    def trials(self, overdue_on: date | None = None) -> list[sqlite3.Row]:
        query = "SELECT * FROM trials"
        args: tuple[Any, ...] = ()
        if overdue_on is not None:
            query += " WHERE status = 'open' AND due_date < ?"
            args = (overdue_on.isoformat(),)
        return self.db.execute(query + " ORDER BY due_date, id", args).fetchall()

    def agent_flags(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT agent_id, COUNT(*) AS calls, MAX(flagged_at) AS last "
                               "FROM agent_flags WHERE active = 1 GROUP BY agent_id "
                               "ORDER BY agent_id").fetchall()


def _strip_evidence(text: str | None) -> str:
    """Evidence with the words removed and the places (turn, span, times) kept."""
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return "[]"
    if not isinstance(items, list):
        return "[]"
    kept = []
    for item in items:
        if isinstance(item, dict):
            kept.append({k: v for k, v in item.items() if k not in ("text", "quote")})
    return json.dumps(kept)


def purge_words(ledger: Ledger, before: date) -> dict[str, int]:
    """Remove what customers and agents said from calls started before `before`, keeping
    counts, verdicts, decisions and do-not-call entries (the words go; the facts stay).

    The words leave the disk too: SQLite keeps a changed row's old bytes in freed space and
    in the write-ahead log, so the purge runs with secure_delete (freed space zeroed), then
    checkpoints and empties the log, and rebuilds the file (VACUUM)."""
    cutoff = before.isoformat()
    old_calls = "SELECT call_id FROM calls WHERE substr(started_at, 1, 10) < ?"
    counts: dict[str, int] = {}
    ledger.db.execute("PRAGMA secure_delete = ON")
    with ledger.transaction():
        counts["calls"] = ledger.db.execute(f"SELECT COUNT(*) FROM ({old_calls})",
                                            (cutoff,)).fetchone()[0]
        for table in ("findings", "blacklist", "dnc"):
            done = 0
            # `rowid` named as such: in blacklist it is the `id` column, and a Row knows it
            # only by that name.
            for row in ledger.db.execute(f"SELECT rowid AS row_number, evidence FROM {table} "
                                         f"WHERE call_id IN ({old_calls})", (cutoff,)).fetchall():
                stripped = _strip_evidence(row["evidence"])
                if stripped != row["evidence"]:
                    ledger.db.execute(f"UPDATE {table} SET evidence = ? WHERE rowid = ?",
                                      (stripped, row["row_number"]))
                    done += 1
            counts[table] = done
        old = {r[0] for r in ledger.db.execute(old_calls, (cutoff,))}
        done = 0
        # History rows quote evidence in their detail; they belong to a call by the call_id
        # the detail names (the row's own time is when the audit ran, not the call's date).
        for row in ledger.db.execute("SELECT id, at, detail FROM history WHERE detail "
                                     "LIKE '%evidence%'").fetchall():
            try:
                detail = json.loads(row["detail"])
            except ValueError:
                continue
            if not isinstance(detail, dict) or "evidence" not in detail:
                continue
            if detail.get("call_id") not in old and row["at"] >= cutoff:
                continue
            stripped = json.loads(_strip_evidence(json.dumps(detail["evidence"])))
            if stripped != detail["evidence"]:
                detail["evidence"] = stripped
                ledger.db.execute("UPDATE history SET detail = ? WHERE id = ?",
                                  (json.dumps(detail, ensure_ascii=False), row["id"]))
                done += 1
        counts["history"] = done
        ledger._history("purge", cutoff, "purge", "words removed", counts)
    _forget_old_bytes(ledger)
    return counts


def _forget_old_bytes(ledger: Ledger) -> None:
    """Rewrite the ledger file without the bytes of rows changed before, and empty its
    write-ahead log (where earlier versions of pages live until a checkpoint)."""
    ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ledger.db.execute("VACUUM")
    busy = ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    if busy:
        raise LedgerError(f"another process has {ledger.path} open, so the removed words may "
                          "still be in its write-ahead log; run purge again when nothing "
                          "else uses the ledger")
