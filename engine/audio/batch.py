"""Long batches of recordings: resume (a recording transcribed before and unchanged is not
transcribed again) and the speed of a run in audio minutes per minute of wall time.
An item of a batch is a recording file, or a call recorded as two mono files (PairedCall).

The state lives beside the output, hidden (`.calls.jsonl.transcribed.json` beside
`calls.jsonl`), so `audit` never reads it as a transcript. For each recording it keeps
the size, the modification time, a SHA-256 of the content, and a digest of everything else
that shapes its record (engine, model, language, agent channel, name pattern, hints, the
metadata row, call-record row and sidecar); a paired call's entry covers both files, so a
changed half redoes the call. A recording whose entry matches, and whose record the earlier
output still holds, is copied from that output; anything else is transcribed again. The
output is still written whole, atomically, every run."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.audio.transcribe import PairedCall, TranscribeOptions, name_fields
from engine.outputs import write_text

STATE_SCHEMA = "callaudit.transcribe-state/1"
# Bump when a change of the code makes earlier transcripts worth redoing (VAD, tuning).
TRANSCRIBER_VERSION = 2


def state_path(out_file: Path) -> Path:
    return out_file.with_name(f".{out_file.name}.transcribed.json")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


Item = Path | PairedCall  # one recording file, or a call's agent and customer files


def label(item: Item) -> str:
    """How an item is named to the user: its file, or a pair's two files."""
    if isinstance(item, PairedCall):
        return f"{item.agent} + {item.customer.name}"
    return str(item)


def _call_record(options: TranscribeOptions, item: Item) -> dict[str, Any]:
    """The call-record row transcribe_recording would merge into the item's record."""
    if isinstance(item, PairedCall):
        name, call_id = item.agent.name, item.call_id
    else:
        name = item.name
        try:
            call_id = name_fields(item, options.name_pattern).get("call_id", item.stem)
        except re.error:  # a pattern naming a field twice: the transcriber says so
            call_id = item.stem
    return options.call_records.get(name) or options.call_records.get(str(call_id)) or {}


def settings_digest(options: TranscribeOptions, item: Item) -> str:
    """What else, beside the audio, decides the record of `item`."""
    path = item.agent if isinstance(item, PairedCall) else item
    sidecar = (path.with_name(item.call_id + path.suffix) if isinstance(item, PairedCall)
               else path).with_suffix(".json")
    parts = {
        "version": TRANSCRIBER_VERSION,
        "engine": options.engine,
        "model": str(options.model.resolve()) if options.model else None,
        "language": options.language,
        "agent_channel": options.agent_channel,
        "name_pattern": options.name_pattern,
        "hints": list(options.hints),
        "metadata": options.metadata.get(path.name, {}),
        "call_record": _call_record(options, item),
        "paired": isinstance(item, PairedCall),
        "sidecar": _sha256(sidecar) if sidecar.is_file() else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Seen:
    """One recording as it was when transcribed."""

    file: str  # as written in the record's recording.file
    size: int
    mtime_ns: int
    sha256: str
    settings: str

    def same_audio(self, other: Seen) -> bool:
        return (self.size, self.sha256, self.settings) == (other.size, other.sha256,
                                                           other.settings)


def seen_now(item: Item, options: TranscribeOptions) -> Seen | None:
    """The recording as it is now (None when it cannot be read: it is transcribed, and
    the transcriber says what is wrong). A paired call is seen as both its files: sizes
    added, the newest time, and a hash of both hashes (agent's, then customer's)."""
    try:
        if isinstance(item, PairedCall):
            stats = [item.agent.stat(), item.customer.stat()]
            both = f"{_sha256(item.agent)}+{_sha256(item.customer)}"
            return Seen(str(item.agent), sum(s.st_size for s in stats),
                        max(s.st_mtime_ns for s in stats),
                        hashlib.sha256(both.encode()).hexdigest(),
                        settings_digest(options, item))
        stat = item.stat()
        return Seen(str(item), stat.st_size, stat.st_mtime_ns, _sha256(item),
                    settings_digest(options, item))
    except OSError:
        return None


def _key(item: Item) -> str:
    if isinstance(item, PairedCall):  # both files: re-pairing a half makes another call
        return f"{os.path.abspath(item.agent)} + {os.path.abspath(item.customer)}"
    return os.path.abspath(item)


def _earlier_records(out_file: Path) -> dict[str, dict]:
    """The records of the earlier output, by the recording file each names."""
    found: dict[str, dict] = {}
    try:
        with out_file.open("rb") as handle:
            for line in handle:
                try:
                    record = orjson.loads(line)
                    found[str(record["recording"]["file"])] = record
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        pass
    return found


def _earlier_state(out_file: Path) -> dict[str, Seen]:
    try:
        data = json.loads(state_path(out_file).read_text(encoding="utf-8"))
        if data.get("schema") != STATE_SCHEMA:
            return {}
        return {key: Seen(**value) for key, value in data["recordings"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


@dataclass
class Plan:
    """Which recordings to transcribe and which earlier records to keep."""

    files: list[Item]
    kept: dict[Item, dict] = field(default_factory=dict)  # unchanged: the earlier record
    now: dict[Item, Seen] = field(default_factory=dict)

    @property
    def todo(self) -> list[Item]:
        return [p for p in self.files if p not in self.kept]


def plan(files: Iterable[Item], out_file: Path, options: TranscribeOptions,
         resume: bool = True) -> Plan:
    result = Plan(list(files))
    state = _earlier_state(out_file) if resume else {}
    records = _earlier_records(out_file) if state else {}
    for path in result.files:
        seen = seen_now(path, options)
        if seen is None:
            continue
        result.now[path] = seen
        before = state.get(_key(path))
        if before is not None and before.same_audio(seen) and before.file in records:
            record = records[before.file]
            record["recording"]["file"] = seen.file
            if isinstance(path, PairedCall):
                record["recording"]["files"] = [str(path.agent), str(path.customer)]
            result.kept[path] = record
    return result


def save_state(out_file: Path, done: dict[Item, Seen]) -> None:
    """The state of this run's output: the recordings it holds a record of."""
    entries = {_key(p): asdict(s) for p, s in done.items()}
    data = {"schema": STATE_SCHEMA, "recordings": dict(sorted(entries.items()))}
    write_text(state_path(out_file), json.dumps(data, indent=1) + "\n")


@dataclass
class Speed:
    """Audio transcribed against wall time: for the progress line and the summary."""

    started: float
    clock: Callable[[], float]
    done: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0  # of the recordings transcribed by this run

    @property
    def wall(self) -> float:
        return max(self.clock() - self.started, 1e-9)

    def rate(self) -> float:
        """Audio minutes per minute of wall time (× real time)."""
        return self.audio_seconds / self.wall

    def progress(self) -> str:
        return (f"{self.audio_seconds / 60:.1f} audio min, "
                f"{self.rate():.1f} audio min/min")

    def summary(self) -> str:
        line = (f"transcribed {self.done} recording(s), {self.audio_seconds / 60:.1f} audio "
                f"minutes in {self.wall / 60:.1f} min ({self.rate():.1f}× real time)")
        if self.skipped:
            line += f"; {self.skipped} unchanged, skipped"
        if self.failed:
            line += f"; {self.failed} could not be read"
        return line


Outcome = tuple[Item, dict | None, str | None]  # item, record or None, problem


def in_order(batch: Plan, transcribed: Iterator[Outcome]) -> Iterator[tuple[Outcome, bool]]:
    """(outcome, kept) for every recording in the plan's order: kept records from the
    earlier output, the others as `transcribed` yields them (in the order of `todo`)."""
    for path in batch.files:
        if path in batch.kept:
            yield (path, batch.kept[path], None), True
        else:
            outcome = next(transcribed)
            assert outcome[0] == path
            yield outcome, False


def record_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


# -- running a batch -------------------------------------------------------------------------

_options: TranscribeOptions | None = None


def start(options: TranscribeOptions) -> None:
    """Load the engine once per process, before the first file (a pool's initializer)."""
    from engine.audio.transcribe import cached_engine

    global _options
    _options = options
    cached_engine(options)


def one(path: Item) -> Outcome:
    from engine.audio.transcribe import cached_engine, transcribe_recording
    from engine.audio.wav import AudioError

    assert _options is not None
    try:
        return path, transcribe_recording(path, cached_engine(_options), _options), None
    except AudioError as exc:
        return path, None, f"{exc.reason} — {exc.hint}"


def transcribe_batch(files: list[Item], out_file: Path, options: TranscribeOptions, *,
                     guard: Any = None, workers: int = 1, resume: bool = True,
                     on_item: Callable[[Outcome, Speed], None] | None = None,
                     clock: Callable[[], float] | None = None) -> Speed:
    """Transcribe `files` into `out_file` (JSON Lines, written whole and atomically), the
    unchanged ones copied from the earlier output; the state saved beside it. The engine
    must be loadable (`start` raises AudioError otherwise)."""
    import multiprocessing
    import time

    from engine.outputs import atomic_writer

    clock = clock or time.monotonic
    batch = plan(files, out_file, options, resume)
    speed = Speed(clock(), clock, skipped=len(batch.kept))
    todo = batch.todo
    pool = None
    if todo:
        start(options)
        if workers > 1 and len(todo) > 1:
            pool = multiprocessing.get_context("spawn").Pool(min(workers, len(todo)), start,
                                                              (options,))
    transcribed = pool.imap(one, todo) if pool else map(one, todo)
    holds: dict[Item, Seen] = {}
    try:
        with atomic_writer(out_file, guard) as handle:
            for outcome, kept in in_order(batch, iter(transcribed)):
                path, record, _ = outcome
                if record is not None:
                    handle.write(record_line(record))
                    if path in batch.now:
                        holds[path] = batch.now[path]
                    if not kept:
                        speed.done += 1
                        speed.audio_seconds += float(record["recording"]["seconds"])
                elif not kept:
                    speed.failed += 1
                if on_item is not None:
                    on_item(outcome, speed)
    finally:
        if pool is not None:
            pool.close()
    save_state(out_file, holds)
    return speed
