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
from engine.rules.base import SEVERITIES, VALIDITY_STANDARDS

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
    # 3: who put a number on do-not-call and why; a manager's release of a withheld
    # callback; the standard of a violation a reviewer recorded as missed
    """
    ALTER TABLE dnc ADD COLUMN added_by TEXT;
    ALTER TABLE dnc ADD COLUMN reason TEXT;
    ALTER TABLE callbacks ADD COLUMN released_by TEXT;
    ALTER TABLE callbacks ADD COLUMN released_at TEXT;
    ALTER TABLE callbacks ADD COLUMN released_for TEXT;
    ALTER TABLE reviews ADD COLUMN standard TEXT;
    CREATE INDEX reviews_call ON reviews(call_id);
    """,
    # 4: each night's first report (what its re-runs show "as of"), and the early warnings
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
    # 5: the web console's users and sign-in sessions (engine/users.py), and where each
    # call's transcript was read (the console's call page reads it back from there)
    """
    ALTER TABLE calls ADD COLUMN source TEXT;
    ALTER TABLE calls ADD COLUMN source_offset INTEGER;
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        disabled_at TEXT
    );
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX web_sessions_user ON web_sessions(user_name);
    """,
    # 6: what the console's pages look up on a ledger of millions of calls (bench/console.py
    # prints the query plans): a finding's latest review, a night's verdicts counted from
    # the index alone, an agent's or a number's calls, the queues in their order
    """
    CREATE INDEX reviews_fingerprint ON reviews(fingerprint, id);
    CREATE INDEX calls_started_valid ON calls(started_at, valid, agent_id, signals);
    CREATE INDEX calls_agent ON calls(agent_id, started_at);
    CREATE INDEX calls_phone ON calls(phone, started_at);
    CREATE INDEX blacklist_status ON blacklist(status, id);
    CREATE INDEX blacklist_call ON blacklist(call_id);
    CREATE INDEX callbacks_status ON callbacks(status, due_date, id);
    CREATE INDEX callbacks_call ON callbacks(call_id);
    CREATE INDEX dnc_call ON dnc(call_id);
    CREATE INDEX agent_flags_call ON agent_flags(call_id);
    CREATE INDEX reviews_rule ON reviews(rule_id, verdict);
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


@dataclass(frozen=True)
class Suppression:
    """One reason a number must not be called, with where it came from."""

    reason: str  # 'dnc', 'blacklist approved' or 'blacklist pending'
    since: str  # when the number was put on the list (or proposed, or decided)
    by: str  # the audit, or the person who added or decided it
    why: str  # the customer's words, the call, or the person's reason

    def describe(self) -> str:
        what = {"dnc": "do-not-call", "blacklist approved": "blacklist approved",
                "blacklist pending": "blacklist proposed"}[self.reason]
        return f"{what} since {self.since[:10]} by {self.by}" + (f": {self.why}"
                                                                  if self.why else "")


BLACKLIST_REVERSALS = {"approved": "rejected", "rejected": "approved"}
WITHHOLDS_CALLBACKS = ("dnc", "blacklist approved")  # suppressions that hold a callback back


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


def ledger_facts(db: sqlite3.Connection, call: Call) -> dict[str, bool]:
    """What the action policy may ask the ledger about a call."""
    phone = normalize_phone(call.customer_phone, call.language)
    related = call.related_call_id
    one = db.execute
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

    def note(self, kind: str, ref: str, who: str, event: str, detail: Any = None) -> None:
        """One history row, on its own (what a night run did, say)."""
        with self.transaction():
            self._history(kind, ref, who, event, detail)

    # -- what the policy may ask about a call ------------------------------------------------

    def facts_for(self, call: Call) -> dict[str, bool]:
        return ledger_facts(self.db, call)

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
            before = None
            if row is not None:
                before = self.db.execute("SELECT rule_pack, rule_pack_hash, valid, violations "
                                         "FROM calls WHERE call_id = ?",
                                         (call.call_id,)).fetchone()
                self._supersede(call.call_id, verdict.rule_pack_hash, report)
            evidence = (prepared.evidence if prepared is not None
                        else [evidence_json(f) for f in audit.findings])
            self._store_findings(audit, report, evidence)
            for rule_id, action in fired:
                taken = getattr(self, f"_do_{action}")(audit, policy, rule_id)
                if taken:
                    report.actions.append(action)
            self._store_call(audit, hashes, report.actions, row is not None)
            if row is not None and self.db.execute("SELECT 1 FROM reviews WHERE call_id = ? "
                                                   "LIMIT 1", (call.call_id,)).fetchone():
                # People's verdicts on this call outlive a re-audit: a finding overturned
                # stays overturned while the audit finds it again, a missed one counts.
                report.notes.extend(self._settle(call.call_id, "audit", "reviewers' verdicts "
                                                 "kept across a re-audit"))
            if before is not None:
                self._history("call", call.call_id, "audit", "re-audited",
                              self._reaudit_detail(call.call_id, before, row, hashes, report))
            return report

    def _reaudit_detail(self, call_id: str, before: sqlite3.Row, stored: tuple[str, str, str],
                        hashes: tuple[str, str, str], report: ChangeReport) -> dict[str, Any]:
        """What a re-audit changed of a call, for its history: why it was audited again
        (its transcript, rules or policy changed), the pack and the verdict before and
        after (after the reviewers' verdicts are applied again), and the findings."""
        after = self.db.execute("SELECT rule_pack, rule_pack_hash, valid, violations FROM calls "
                                "WHERE call_id = ?", (call_id,)).fetchone()

        def valid(value: int | None) -> bool | None:
            return None if value is None else bool(value)

        return {
            "changed": [what for what, old, new in zip(("transcript", "rules", "policy"),
                                                       stored, hashes, strict=True)
                        if old != new],
            "pack": {"before": before["rule_pack"], "after": after["rule_pack"]},
            "pack_hash": {"before": before["rule_pack_hash"], "after": after["rule_pack_hash"]},
            "valid": {"before": valid(before["valid"]), "after": valid(after["valid"])},
            "violations": {"before": json.loads(before["violations"]),
                           "after": json.loads(after["violations"])},
            "findings_added": report.findings_added,
            "findings_superseded": report.findings_superseded,
        }

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
            # Where the transcript was read (file:line) and, for JSON Lines, the byte offset
            # of its line: the console reads the call back from there.
            str(call.source) if call.source is not None else None,
            call.source.offset if call.source is not None else None,
        )
        self.db.execute(
            "INSERT INTO calls(call_id, content_hash, rule_pack, rule_pack_hash, policy_hash, "
            "call_type, agent_id, phone, started_at, related_call_id, valid, violations, "
            "signals, outcomes, actions, audited_at, source, source_offset) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(call_id) DO UPDATE SET content_hash=excluded.content_hash, "
            "rule_pack=excluded.rule_pack, rule_pack_hash=excluded.rule_pack_hash, "
            "policy_hash=excluded.policy_hash, call_type=excluded.call_type, "
            "agent_id=excluded.agent_id, phone=excluded.phone, started_at=excluded.started_at, "
            "related_call_id=excluded.related_call_id, valid=excluded.valid, "
            "violations=excluded.violations, signals=excluded.signals, "
            "outcomes=excluded.outcomes, actions=excluded.actions, "
            "audited_at=excluded.audited_at, source=excluded.source, "
            "source_offset=excluded.source_offset, times_audited=calls.times_audited + 1",
            values)

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
        # An order a reviewer made (a violation the audit missed) is not the audit's to take
        # back; the reviews are applied again once the call is recorded (`_settle`).
        for (callback_id,) in self.db.execute(
                "SELECT id FROM callbacks WHERE call_id = ? AND status = 'open' "
                "AND exported_at IS NULL AND attempts = 0 AND NOT EXISTS (SELECT 1 FROM "
                "reviews WHERE reviews.call_id = callbacks.call_id AND verdict = 'missed')",
                (call_id,)).fetchall():
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
        active = [f for f in audit.findings if f.waiver is None and f.severity != "info"
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
        self._order_callback(call.call_id, phone, call.agent_id, worst, reasons, points, due,
                             "audit", merge=False)
        return True

    def _order_callback(self, call_id: str, phone: str | None, agent_id: str | None,
                        severity: str, reasons: list[str], points: list[str], due: date,
                        who: str, *, merge: bool = True) -> int:
        """Open a callback order for the call (the policy's and a reviewer's orders both come
        here); the order's id. An order already open is kept as it is, or, with `merge`,
        given the new reasons and points too."""
        existing = self.db.execute("SELECT id, severity, reasons, points FROM callbacks "
                                   "WHERE call_id = ? AND status = 'open'",
                                   (call_id,)).fetchone()
        if existing and not merge:
            return int(existing["id"])
        if existing:
            old_reasons = json.loads(existing["reasons"])
            old_points = json.loads(existing["points"])
            more_reasons = sorted({*old_reasons, *reasons})
            more_points = list(dict.fromkeys([*old_points, *points]))
            if (more_reasons, more_points) != (old_reasons, old_points):
                worst = max(existing["severity"], severity, key=SEVERITIES.index)
                self.db.execute("UPDATE callbacks SET severity = ?, reasons = ?, points = ? "
                                "WHERE id = ?", (worst, json.dumps(more_reasons),
                                                 json.dumps(more_points, ensure_ascii=False),
                                                 existing["id"]))
                self._history("callback", str(existing["id"]), who, "reasons added",
                              {"call_id": call_id, "reasons": reasons})
            return int(existing["id"])
        cursor = self.db.execute(
            "INSERT INTO callbacks(call_id, phone, agent_id, severity, reasons, points, "
            "due_date, status, created_at) VALUES (?,?,?,?,?,?,?,'open',?)",
            (call_id, phone, agent_id, severity, json.dumps(reasons),
             json.dumps(points, ensure_ascii=False), due.isoformat(), now()))
        self._history("callback", str(cursor.lastrowid), who, "ordered",
                      {"call_id": call_id, "due": due.isoformat(), "reasons": reasons})
        return int(cursor.lastrowid or 0)

    def _do_dnc(self, audit: CallAudit, policy: ActionPolicy, rule_id: str) -> bool:
        call = audit.call
        phone = normalize_phone(call.customer_phone, call.language)
        if phone is None:
            return False
        evidence = [e.quote for f in audit.findings if f.standard == "opt_out"
                    for e in f.evidence]
        if self._dnc_removed_for(phone, call.call_id):
            return False  # a manager took this call's request off the list: a re-run keeps it off
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

    def suppression_details(self, phone: str) -> list[Suppression]:
        """`suppression` with since when, by whom and why, for a manager to judge."""
        phone = _normal(phone)
        found = []
        row = self.db.execute("SELECT * FROM dnc WHERE phone = ?", (phone,)).fetchone()
        if row is not None:
            found.append(Suppression("dnc", row["added_at"], row["added_by"] or "audit",
                                     _dnc_why(row)))
        for row in self.db.execute("SELECT * FROM blacklist WHERE phone = ? AND status IN "
                                   "('pending', 'approved') ORDER BY status, id", (phone,)):
            if row["status"] == "approved":
                found.append(Suppression("blacklist approved", row["decided_at"] or "",
                                         row["decided_by"] or "-",
                                         f"entry {row['id']}, call {row['call_id']}"
                                         + (f": {row['reason']}" if row["reason"] else "")))
            else:
                found.append(Suppression("blacklist pending", row["proposed_at"], "audit",
                                         f"entry {row['id']}, call {row['call_id']}, "
                                         "awaiting a manager's decision"))
        return found

    # -- do-not-call, by hand ---------------------------------------------------------------

    def dnc_entries(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM dnc ORDER BY added_at, phone").fetchall()

    def add_dnc(self, phone: str, by: str, reason: str) -> bool:
        """Put a number on do-not-call by hand; False when it is on the list already."""
        _needs(by, "say who adds the number (--by NAME)")
        _needs(reason, "say why (--reason TEXT), e.g. the customer asked by e-mail")
        phone = _normal(phone)
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO dnc(phone, call_id, evidence, added_at, added_by, reason) "
                "VALUES (?, NULL, '[]', ?, ?, ?) ON CONFLICT(phone) DO NOTHING",
                (phone, now(), by, reason))
            if cursor.rowcount:
                self._history("dnc", phone, by, "added", {"reason": reason})
            return bool(cursor.rowcount)

    def remove_dnc(self, phone: str, by: str, reason: str) -> sqlite3.Row:
        """Take a number off do-not-call (who and why are required); the entry removed."""
        _needs(by, "say who removes the number (--by NAME)")
        _needs(reason, "say why (--reason TEXT): removing lets the number be called again")
        phone = _normal(phone)
        with self.transaction():
            row = self.db.execute("SELECT * FROM dnc WHERE phone = ?", (phone,)).fetchone()
            if row is None:
                raise LedgerError("that number is not on the do-not-call list")
            self.db.execute("DELETE FROM dnc WHERE phone = ?", (phone,))
            self._history("dnc", phone, by, "removed",
                          {"reason": reason, "call_id": row["call_id"],
                           "added_at": row["added_at"]})
            return row

    def _dnc_removed_for(self, phone: str, call_id: str) -> bool:
        """A manager removed the entry this call's opt-out made."""
        for (detail,) in self.db.execute("SELECT detail FROM history WHERE kind = 'dnc' AND "
                                         "ref = ? AND event = 'removed'", (phone,)):
            try:
                if json.loads(detail or "{}").get("call_id") == call_id:
                    return True
            except (ValueError, AttributeError):
                continue
        return False

    # -- blacklist entries by id or call ------------------------------------------------------

    def blacklist_entry(self, ref: str) -> sqlite3.Row:
        """The entry named by its id or by the call that proposed it."""
        ref = ref.strip()
        if ref.isdigit():
            row = self.db.execute("SELECT * FROM blacklist WHERE id = ?", (int(ref),)).fetchone()
            if row is not None:
                return row
        rows = self.db.execute("SELECT * FROM blacklist WHERE call_id = ? ORDER BY id",
                               (ref,)).fetchall()
        if not rows:
            raise LedgerError(f"no blacklist entry {ref} and no call {ref} with one (see "
                              "`callaudit blacklist list`: give the entry id or the call id)")
        if len(rows) > 1:
            raise LedgerError(f"call {ref} has entries {', '.join(str(r['id']) for r in rows)}: "
                              "give the entry id")
        return rows[0]

    def phone_of_call(self, call_id: str) -> str | None:
        """The customer's number of a call the ledger knows (audited, or on a list)."""
        for table in ("calls", "blacklist", "dnc", "callbacks"):
            row = self.db.execute(f"SELECT phone FROM {table} WHERE call_id = ? AND phone "
                                  "IS NOT NULL LIMIT 1", (call_id,)).fetchone()
            if row is not None:
                return str(row["phone"])
        return None

    def reverse_blacklist(self, entry_id: int, by: str, reason: str,
                          to: str | None = None) -> tuple[str, str]:
        """A manager changes a decision: approved <-> rejected (the default), or back to
        pending for another review; a reason is required. (before, after)."""
        _needs(by, "say who decides (--by NAME)")
        _needs(reason, "say why the decision is reversed (--reason TEXT)")
        with self.transaction():
            row = self.db.execute("SELECT * FROM blacklist WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no blacklist entry {entry_id}")
            before = row["status"]
            if before not in BLACKLIST_REVERSALS:
                raise LedgerError(f"entry {entry_id} is {before}: only an approved or rejected "
                                  "entry can be reversed (decide a pending one with approve "
                                  "or reject)")
            after = to or BLACKLIST_REVERSALS[before]
            if after == before:
                raise LedgerError(f"entry {entry_id} is already {before}")
            if after == "pending":
                self.db.execute("UPDATE blacklist SET status = 'pending', decided_by = NULL, "
                                "decided_at = NULL, reason = NULL WHERE id = ?", (entry_id,))
            else:
                self.db.execute("UPDATE blacklist SET status = ?, decided_by = ?, "
                                "decided_at = ?, reason = ? WHERE id = ?",
                                (after, by, now(), reason, entry_id))
            self._history("blacklist", str(entry_id), by, f"reversed: {before} → {after}",
                          {"reason": reason, "was decided by": row["decided_by"],
                           "was decided at": row["decided_at"], "was reason": row["reason"]})
            return before, after

    # -- callbacks a manager holds back or lets go ------------------------------------------

    def withheld(self, row: sqlite3.Row) -> list[Suppression]:
        """Why an open callback order must not go to the dialer: its number is on the
        do-not-call list or the approved blacklist, and no manager released it from that.
        A pending proposal does not hold a callback back: the callback puts right an invalid
        sale, and nobody has yet decided the number must not be called."""
        if not row["phone"]:
            return []
        released = set(json.loads(row["released_for"] or "[]"))
        return [s for s in self.suppression_details(row["phone"])
                if s.reason in WITHHOLDS_CALLBACKS and s.reason not in released]

    def release_callback(self, callback_id: int, by: str, reason: str) -> list[str]:
        """A manager lets a withheld order go to the dialer despite its number's suppression
        (the reasons released, recorded); a later, new reason withholds it again."""
        _needs(by, "say who releases the callback (--by NAME)")
        _needs(reason, "say why the customer may be called despite the list (--reason TEXT)")
        with self.transaction():
            row = self.db.execute("SELECT * FROM callbacks WHERE id = ?",
                                  (callback_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no callback {callback_id}")
            if row["status"] != "open":
                raise LedgerError(f"callback {callback_id} is {row['status']}: only an open "
                                  "order can be released")
            held = self.withheld(row)
            if not held:
                raise LedgerError(f"callback {callback_id} is not withheld: its number is on "
                                  "no list it was not released from")
            released = sorted({*json.loads(row["released_for"] or "[]"),
                               *(s.reason for s in held)})
            self.db.execute("UPDATE callbacks SET released_by = ?, released_at = ?, "
                            "released_for = ? WHERE id = ?",
                            (by, now(), json.dumps(released), callback_id))
            self._history("callback", str(callback_id), by, "released",
                          {"reason": reason, "despite": [s.describe() for s in held]})
            return [s.reason for s in held]

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

    # -- what reviewers find ---------------------------------------------------------------

    def review_finding(self, fingerprint: str, verdict: str, by: str, note: str,
                       dispute: bool = False) -> tuple[sqlite3.Row, list[str]]:
        """A reviewer's verdict on a current finding: (the finding, what changed). An
        overturned finding no longer counts: the call's verdict is worked out again from the
        findings still standing, and a callback order it alone caused is withdrawn (an order
        with other reasons keeps them)."""
        _needs(by, "say who reviews (--by NAME)")
        with self.transaction():
            finding = self.db.execute("SELECT * FROM findings WHERE fingerprint = ? AND "
                                      "active = 1", (fingerprint,)).fetchone()
            if finding is None:
                raise LedgerError(f"no current finding {fingerprint} (see findings.jsonl)")
            self.db.execute("INSERT INTO reviews(fingerprint, rule_id, call_id, verdict, by, "
                            "note, kind, at, standard) VALUES (?,?,?,?,?,?,?,?,?)",
                            (fingerprint, finding["rule_id"], finding["call_id"], verdict, by,
                             note, "dispute" if dispute else "review", now(),
                             finding["standard"]))
            changes = self._settle(finding["call_id"], by, f"finding {fingerprint} "
                                   f"({finding['rule_id']}) {verdict} by {by}"
                                   + (f": {note}" if note else ""))
            return finding, changes

    def record_missed(self, call_id: str, standard: str, severity: str, message: str,
                      rule_id: str | None, by: str, note: str,
                      policy: ActionPolicy | None) -> list[str]:
        """A violation the audit missed, as a reviewer saw it: the call becomes invalid, its
        agent is flagged, a callback is ordered (as the policy orders one) and the case is
        kept as a labelled example. What changed, one line each."""
        _needs(by, "say who reviews (--by NAME)")
        _needs(note, "say what was missed (--note TEXT): it becomes the example's note")
        with self.transaction():
            call = self.db.execute("SELECT * FROM calls WHERE call_id = ?",
                                   (call_id,)).fetchone()
            if call is None:
                raise LedgerError(f"no call {call_id} in the ledger (see verdicts.jsonl)")
            self.db.execute("INSERT INTO reviews(fingerprint, rule_id, call_id, verdict, by, "
                            "note, kind, at, standard) VALUES (?,?,?,'missed',?,?,'missed',?,?)",
                            (f"missed:{call_id}:{rule_id or standard}", rule_id or "", call_id,
                             by, note, now(), standard))
            changes = self._settle(call_id, by, f"{rule_id or standard} missed, recorded by "
                                   f"{by}: {note}")
            if call["agent_id"]:
                self.db.execute(
                    "INSERT INTO agent_flags(agent_id, call_id, flagged_at, reason) "
                    "VALUES (?,?,?,?) ON CONFLICT(agent_id, call_id) DO UPDATE SET active = 1, "
                    "reason = excluded.reason", (call["agent_id"], call_id, now(),
                                                 f"{standard} (missed by the audit, {by})"))
                changes.append(f"agent {call['agent_id']} flagged")
            ordering = [r for r in policy.rules if r.action == "callback"] if policy else []
            if policy is None or not ordering:
                changes.append("no callback ordered: the action policy has no callback action")
                return changes
            called = date.fromisoformat(call["started_at"][:10]) if call["started_at"] \
                else date.today()
            due = add_working_days(called, policy.due_days(ordering[0].id, severity),
                                   policy.working_days, policy.holidays)
            callback_id = self._order_callback(call_id, call["phone"], call["agent_id"],
                                               severity, [standard], [message], due, by)
            changes.append(f"callback {callback_id} ordered (due {due}): {standard}")
            return changes

    def _settle(self, call_id: str, by: str, why: str) -> list[str]:
        """Work a call's verdict out again from what stands after people's reviews: the
        machine's current findings less those overturned, plus the violations reviewers
        recorded as missed. Withdraws a callback order left without a reason."""
        # Severity info is a coaching note (e.g. a breach on a call with no sale): never a
        # violation.
        rows = self.db.execute("SELECT fingerprint, standard, message FROM findings WHERE "
                               "call_id = ? AND active = 1 AND waiver IS NULL "
                               "AND severity != 'info'", (call_id,)).fetchall()
        latest = {r["fingerprint"]: r["verdict"] for r in self.db.execute(
            "SELECT fingerprint, verdict FROM reviews WHERE call_id = ? ORDER BY id",
            (call_id,))}
        standing = [r for r in rows if latest.get(r["fingerprint"]) != "overturned"]
        missed = {r["standard"] for r in self.db.execute(
            "SELECT standard FROM reviews WHERE call_id = ? AND verdict = 'missed'", (call_id,))}
        standards = {r["standard"] for r in standing} | missed
        messages = {r["message"] for r in standing}
        overturned = {r["message"] for r in rows if latest.get(r["fingerprint"]) == "overturned"}
        changes: list[str] = []
        call = self.db.execute("SELECT valid, violations FROM calls WHERE call_id = ?",
                               (call_id,)).fetchone()
        if call is not None:
            violations = [s for s in VALIDITY_STANDARDS if s in standards]
            valid = None if call["valid"] is None and not violations else int(not violations)
            if (valid, violations) != (call["valid"], json.loads(call["violations"])):
                self.db.execute("UPDATE calls SET valid = ?, violations = ? WHERE call_id = ?",
                                (valid, json.dumps(violations), call_id))
                self._history("call", call_id, by, "verdict changed",
                              {"why": why, "valid": bool(valid) if valid is not None else None,
                               "violations": violations})
                state = {1: "valid", 0: "invalid", None: "without a sale"}[valid]
                changes.append(f"call {call_id} is now {state}"
                               + (f" ({', '.join(violations)})" if violations else ""))
            if not violations:
                cursor = self.db.execute("UPDATE agent_flags SET active = 0 WHERE call_id = ? "
                                         "AND active = 1", (call_id,))
                if cursor.rowcount:
                    changes.append("its agent flag is withdrawn")
            elif missed:  # the flag a reviewer raised outlives a re-audit that missed it again
                self.db.execute("UPDATE agent_flags SET active = 1 WHERE call_id = ?",
                                (call_id,))
        for order in self.db.execute("SELECT * FROM callbacks WHERE call_id = ? AND "
                                     "status = 'open'", (call_id,)).fetchall():
            reasons = [r for r in json.loads(order["reasons"]) if r in standards]
            if reasons == json.loads(order["reasons"]):
                continue
            if not reasons:
                self.db.execute("UPDATE callbacks SET status = 'withdrawn', closed_at = ?, "
                                "closed_by = ?, result = ? WHERE id = ?",
                                (now(), by, why, order["id"]))
                self._history("callback", str(order["id"]), by, "withdrawn", {"why": why})
                changes.append(f"callback {order['id']} withdrawn"
                               + (f" (it went to the dialer on {order['exported_at'][:10]}: "
                                  "take it off the dialer's list)" if order["exported_at"]
                                  else ""))
                continue
            points = [p for p in json.loads(order["points"])
                      if p in messages or p not in overturned]
            self.db.execute("UPDATE callbacks SET reasons = ?, points = ? WHERE id = ?",
                            (json.dumps(reasons), json.dumps(points, ensure_ascii=False),
                             order["id"]))
            self._history("callback", str(order["id"]), by, "reasons withdrawn",
                          {"why": why, "reasons": reasons})
            changes.append(f"callback {order['id']} keeps {', '.join(reasons)}")
        return changes

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


def _needs(text: str, problem: str) -> None:
    if not text.strip():
        raise LedgerError(problem)


def _dnc_why(row: sqlite3.Row) -> str:
    """A do-not-call entry's reason: the person's, else the customer's words on the call."""
    if row["reason"]:
        return str(row["reason"])
    try:
        words = json.loads(row["evidence"] or "[]")
    except ValueError:
        words = []
    quoted = "; ".join(f'"{w}"' for w in words if isinstance(w, str) and w)
    if not row["call_id"]:
        return quoted
    return f"call {row['call_id']}" + (f": {quoted}" if quoted else "")


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
    # ISO times sort as text: started before the cutoff day is `started_at < day` (and the
    # calls_started index answers it).
    old_calls = "SELECT call_id FROM calls WHERE started_at < ?"
    counts: dict[str, int] = {}
    ledger.db.execute("PRAGMA secure_delete = ON")
    with ledger.transaction():
        old = {r[0] for r in ledger.db.execute(old_calls, (cutoff,))}
        counts["calls"] = len(old)
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
