"""The console's calls: a filtered, paged list; one call with everything the ledger holds
about it; its transcript read back from where the night found it; revealing its number."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from engine.actions.ledger import Ledger, LedgerError, content_hash
from engine.model import Call, Rejected
from engine.privacy import mask_numbers_in_text, mask_phone

PAGE_SIZE = 50
RECORDING_SUFFIXES = (".wav", ".mp3", ".ogg")
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}


@dataclass(frozen=True)
class CallFilter:
    night: date | None = None
    valid: str = ""  # "yes", "no" or "" (any)
    sale: bool = False  # only calls with a sale (valid is not NULL)
    standard: str = ""  # a validity standard the call violates
    agent: str = ""
    rule: str = ""  # a rule with a current finding on the call
    severity: str = ""  # a current finding of this severity


@dataclass(frozen=True)
class CallRow:
    call_id: str
    started_at: str | None
    agent_id: str | None
    phone: str | None
    call_type: str
    valid: bool | None
    violations: tuple[str, ...]
    signals: tuple[str, ...]


@dataclass(frozen=True)
class CallPage:
    rows: list[CallRow]
    page: int
    has_next: bool


def _row(r: sqlite3.Row) -> CallRow:
    return CallRow(r["call_id"], r["started_at"], r["agent_id"], r["phone"], r["call_type"],
                   None if r["valid"] is None else bool(r["valid"]),
                   tuple(json.loads(r["violations"])), tuple(json.loads(r["signals"])))


def list_calls(ledger: Ledger, wanted: CallFilter, page: int = 1,
               size: int = PAGE_SIZE) -> CallPage:
    """One page of the calls the filter keeps, latest first. A night is a started_at range
    (the calls_started index); an agent needs an index on calls(agent_id, started_at) to be
    quick without a night; a rule or severity is asked of each call's findings
    (findings_call)."""
    where, args = _where(wanted)
    page = max(page, 1)
    rows = ledger.db.execute(
        "SELECT call_id, started_at, agent_id, phone, call_type, valid, violations, signals "
        f"FROM calls c WHERE {where} ORDER BY started_at DESC, call_id LIMIT ? OFFSET ?",
        (*args, size + 1, (page - 1) * size)).fetchall()
    return CallPage([_row(r) for r in rows[:size]], page, len(rows) > size)


def _where(wanted: CallFilter) -> tuple[str, list[Any]]:
    parts, args = ["1 = 1"], []
    if wanted.night is not None:
        parts.append("started_at >= ? AND started_at < ?")
        args += [wanted.night.isoformat(), (wanted.night + timedelta(days=1)).isoformat()]
    if wanted.valid in ("yes", "no"):
        parts.append("valid = ?")
        args.append(1 if wanted.valid == "yes" else 0)
    if wanted.sale:
        parts.append("valid IS NOT NULL")
    if wanted.standard:
        parts.append("instr(violations, ?) > 0")  # a JSON list of names: '["consent"]'
        args.append(json.dumps(wanted.standard))
    if wanted.agent:
        parts.append("agent_id = ?")
        args.append(wanted.agent)
    if wanted.rule or wanted.severity:
        sub = "SELECT 1 FROM findings f WHERE f.call_id = c.call_id AND f.active = 1"
        if wanted.rule:
            sub += " AND f.rule_id = ?"
            args.append(wanted.rule)
        if wanted.severity:
            sub += " AND f.severity = ?"
            args.append(wanted.severity)
        parts.append(f"EXISTS ({sub})")
    return " AND ".join(parts), args


# -- one call ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFinding:
    fingerprint: str
    rule_id: str
    standard: str
    severity: str
    message: str
    detail: str | None
    evidence: tuple[dict[str, Any], ...]
    rule_source: str | None
    waiver: str | None
    rule_pack_hash: str

    def evidence_id(self, n: int) -> str:
        return f"ev-{self.fingerprint}-{n}"


@dataclass
class CallDetail:
    call: sqlite3.Row
    findings: list[StoredFinding]
    callbacks: list[sqlite3.Row]
    blacklist: list[sqlite3.Row]
    dnc: list[sqlite3.Row]
    trials: list[sqlite3.Row]
    agent_flags: list[sqlite3.Row]
    reviews: list[sqlite3.Row]
    history: list[sqlite3.Row] = field(default_factory=list)

    @property
    def valid(self) -> bool | None:
        value = self.call["valid"]
        return None if value is None else bool(value)

    @property
    def violations(self) -> list[str]:
        return json.loads(self.call["violations"])

    @property
    def signals(self) -> list[str]:
        return json.loads(self.call["signals"])

    @property
    def outcomes(self) -> list[str]:
        return json.loads(self.call["outcomes"])


def call_detail(ledger: Ledger, call_id: str) -> CallDetail | None:
    """Everything the ledger holds about a call, or None. Each look-up is by call id:
    callbacks, blacklist, dnc and agent_flags need an index on their call_id to stay quick
    in a large ledger (trials, findings, reviews and history have theirs)."""
    db = ledger.db
    call = db.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if call is None:
        return None
    findings = [
        StoredFinding(r["fingerprint"], r["rule_id"], r["standard"], r["severity"],
                      r["message"], r["detail"], tuple(json.loads(r["evidence"] or "[]")),
                      r["rule_source"], r["waiver"], r["rule_pack_hash"])
        for r in db.execute("SELECT * FROM findings WHERE call_id = ? AND active = 1",
                            (call_id,))]
    findings.sort(key=lambda f: (f.evidence[0]["turn"] if f.evidence else -1,
                                 f.evidence[0]["char_start"] if f.evidence else -1, f.rule_id))
    detail = CallDetail(
        call, findings,
        db.execute("SELECT * FROM callbacks WHERE call_id = ? ORDER BY id", (call_id,)).fetchall(),
        db.execute("SELECT * FROM blacklist WHERE call_id = ? ORDER BY id", (call_id,)).fetchall(),
        db.execute("SELECT * FROM dnc WHERE call_id = ?", (call_id,)).fetchall(),
        db.execute("SELECT * FROM trials WHERE sale_call_id = ?", (call_id,)).fetchall(),
        db.execute("SELECT * FROM agent_flags WHERE call_id = ?", (call_id,)).fetchall(),
        db.execute("SELECT * FROM reviews WHERE call_id = ? ORDER BY id", (call_id,)).fetchall(),
    )
    refs: list[tuple[str, str]] = [("call", call_id), ("phone", call_id)]
    refs += [("callback", str(r["id"])) for r in detail.callbacks]
    refs += [("blacklist", str(r["id"])) for r in detail.blacklist]
    refs += [("dnc", r["phone"]) for r in detail.dnc]
    refs += [("trial", str(r["id"])) for r in detail.trials]
    rows: list[sqlite3.Row] = []
    for kind, ref in refs:  # one history_ref look-up each
        rows += db.execute("SELECT * FROM history WHERE kind = ? AND ref = ?",
                           (kind, ref)).fetchall()
    detail.history = sorted(rows, key=lambda r: r["id"])
    return detail


# -- the transcript, read back -------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    call: Call | None  # None: only the findings' quoted evidence can be shown
    note: str | None  # why not, or what is unusual
    path: Path | None  # the transcript file
    recording: Path | None = None


def source_path(source: str | None) -> tuple[str, int | None] | None:
    """(path, line) of a calls.source "path:line" (or a bare path)."""
    if not source:
        return None
    path, _, line = source.rpartition(":")
    if path and line.isdigit():
        return path, int(line)
    return source, None


def read_transcript(row: sqlite3.Row, workspace: Path | None = None,
                    transcripts: Path | None = None) -> Transcript:
    """The call's transcript from where the night read it (seeking to its line when the
    byte offset is known), checked against the content hash the ledger holds."""
    from engine.transcripts import AUDIO_SUFFIXES, load_file
    from engine.transcripts.jsonl import read_jsonl_at

    where = source_path(row["source"])
    if where is None:
        return Transcript(None, "the ledger does not say where this call's transcript was "
                          "read (audited before the console kept it): only the quoted "
                          "evidence is shown", None)
    path = Path(where[0])
    if not path.is_absolute() and workspace is not None and not path.exists():
        path = workspace / path
    if not path.is_file():
        return Transcript(None, f"the transcript file is gone ({path.name} is no longer where "
                          "the night read it): only the quoted evidence is shown", path)
    recording = find_recording(path, row["call_id"], transcripts)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return Transcript(None, "the call was transcribed from its recording: only the "
                          "quoted evidence is shown", path, recording)
    call: Call | Rejected | None = None
    try:
        if row["source_offset"] is not None:
            call = read_jsonl_at(str(path), int(row["source_offset"]), where[1])
        if not isinstance(call, Call) or call.call_id != row["call_id"]:
            call = next((c for c in load_file(path)
                         if isinstance(c, Call) and c.call_id == row["call_id"]), None)
    except OSError as exc:
        return Transcript(None, f"the transcript file cannot be read ({exc.strerror or exc}): "
                          "only the quoted evidence is shown", path, recording)
    if call is None:
        return Transcript(None, "the call is no longer in its transcript file: only the "
                          "quoted evidence is shown", path, recording)
    if content_hash(call) != row["content_hash"]:
        return Transcript(None, "the transcript file changed since the call was audited (its "
                          "content differs): only the quoted evidence is shown", path,
                          recording)
    return Transcript(call, None, path, recording)


def find_recording(transcript: Path, call_id: str, transcripts: Path | None) -> Path | None:
    """A recording of the call beside its transcript (<call_id>.wav/.mp3/.ogg), only
    inside the transcripts folder."""
    if transcripts is None:
        return None
    root = transcripts.resolve()
    for suffix in RECORDING_SUFFIXES:
        candidate = (transcript.parent / f"{call_id}{suffix}").resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Piece:
    text: str
    marks: tuple[str, ...]  # evidence ids covering it
    first: str | None  # the evidence id that starts here (the anchor)


@dataclass(frozen=True)
class ShownTurn:
    index: int
    speaker: str
    start: float | None
    pieces: tuple[Piece, ...]

    @property
    def clock(self) -> str:
        return clock(self.start)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def shown_turns(call: Call, findings: list[StoredFinding]) -> list[ShownTurn]:
    """The turns, numbers masked (lengths kept), cut where evidence starts and ends so each
    piece knows which evidence covers it (spans may overlap)."""
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for finding in findings:
        for n, item in enumerate(finding.evidence):
            spans.setdefault(int(item["turn"]), []).append(
                (int(item["char_start"]), int(item["char_end"]), finding.evidence_id(n)))
    shown = []
    for index, turn in enumerate(call.turns):
        text = mask_numbers_in_text(turn.text)
        here = [(max(0, s), min(len(text), e), i) for s, e, i in spans.get(index, [])
                if s < e]
        cuts = sorted({0, len(text), *(s for s, _, _ in here), *(e for _, e, _ in here)})
        pieces, started = [], set()
        for low, high in pairwise(cuts):
            if low == high:
                continue
            covering = tuple(i for s, e, i in here if s <= low and high <= e)
            first = next((i for s, _, i in here if s == low and i not in started), None)
            if first is not None:
                started.add(first)
            pieces.append(Piece(text[low:high], covering, first))
        shown.append(ShownTurn(index, turn.speaker, turn.start, tuple(pieces)))
    return shown


# -- a manager sees the full number ---------------------------------------------------------


def reveal_phone(ledger: Ledger, call_id: str, who: str) -> str | None:
    """The call's full number for someone allowed to see it; the look is in the history
    (kind "phone", ref the call id), whether or not the call has a number."""
    with ledger.transaction() as db:
        row = db.execute("SELECT phone FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no call {call_id} in the ledger")
        ledger._history("phone", call_id, who, "revealed",
                        {"call_id": call_id, "phone": mask_phone(row["phone"])})
        return row["phone"]
