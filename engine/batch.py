"""A batch audit: stream calls from files, audit each, write verdicts, findings and rejects."""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import multiprocessing
import multiprocessing.pool
import os
import pickle
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import orjson

from engine import __version__
from engine.actions.ledger import LedgerReader, Prepared, content_hash
from engine.actions.runner import FollowUp
from engine.audit import CallAudit, NoPackForLanguage, PackChooser, audit_call
from engine.findings import FINDING_SCHEMA, REJECT_SCHEMA, VERDICT_SCHEMA
from engine.model import Call, Rejected, SourceRef
from engine.outputs import OutputGuard, first_line_has, head_has, output_mode
from engine.report.records import finding_record, reject_record, verdict_record
from engine.rules.pack import RulePack
from engine.transcripts import load_calls
from engine.transcripts.shards import CallsShard, Shard, load_shard, plan_shards

if TYPE_CHECKING:
    import numpy as np

SUMMARY_SCHEMA = "callaudit.summary/1"
OUTPUT_FILES = ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl", "summary.json")
# What each output looks like when an earlier audit wrote it (or empty): a file of that
# name that starts otherwise is someone else's, and the audit refuses to replace it.
OUTPUT_GUARDS = {
    "verdicts.jsonl": OutputGuard(first_line_has(VERDICT_SCHEMA.split("/")[0] + "/")),
    "findings.jsonl": OutputGuard(first_line_has(FINDING_SCHEMA.split("/")[0] + "/")),
    "rejects.jsonl": OutputGuard(first_line_has(REJECT_SCHEMA.split("/")[0] + "/")),
    "summary.json": OutputGuard(head_has(SUMMARY_SCHEMA.split("/")[0] + "/")),
}
IN_FLIGHT_PER_WORKER = 3  # shards queued or being audited per worker process
# Allocations between two runs of the cycle collector's youngest generation during an audit
# (Python's default: 700). See `_fewer_collections`.
YOUNG_COLLECTION_EVERY = 10_000


class StrictInputError(Exception):
    """Under --strict, the first rejected record stops the run."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(str(rejected))
        self.rejected = rejected


@dataclass
class BatchSummary:
    """Counts for the one-line summary and summary.json."""

    calls: int = 0
    valid: int = 0
    invalid: int = 0
    no_sale: int = 0
    findings: int = 0
    rejected: int = 0
    duplicates: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    by_standard: Counter[str] = field(default_factory=Counter)
    packs: dict[str, str] = field(default_factory=dict)  # name@version -> content hash
    waived: int = 0  # findings set aside by a waiver
    actions: Counter[str] = field(default_factory=Counter)  # follow-up actions taken
    ledger: Counter[str] = field(default_factory=Counter)  # new / unchanged / re-audited calls
    superseded: int = 0  # findings of earlier audits replaced by this run's
    waivers_used: set[str] = field(default_factory=set)
    waivers_known: dict[str, str] = field(default_factory=dict)  # label -> rule id

    @property
    def unused_waivers(self) -> list[str]:
        """Waivers that covered no finding in this run: candidates for removal."""
        return sorted(f"{rule}: {label}" for label, rule in self.waivers_known.items()
                      if label not in self.waivers_used)

    def line(self) -> str:
        parts = [
            f"audited {self.calls} call{'s' if self.calls != 1 else ''}: "
            f"{self.invalid} invalid, {self.valid} valid, {self.no_sale} without a sale",
            f"{self.findings} finding{'s' if self.findings != 1 else ''}",
        ]
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        if self.actions:
            taken = ", ".join(f"{n} {k}" for k, n in sorted(self.actions.items()))
            parts.append(f"actions: {taken}")
        if self.ledger.get("unchanged"):
            parts.append(f"{self.ledger['unchanged']} already in the ledger unchanged")
        if self.ledger.get("re-audited"):
            parts.append(f"{self.ledger['re-audited']} re-audited with changed rules or "
                         f"transcripts ({self.superseded} earlier findings superseded)")
        return "; ".join(parts)

    def worst_severity_rank(self, order: tuple[str, ...]) -> int:
        ranks = [order.index(s) for s in self.by_severity if s in order]
        return max(ranks) if ranks else -1


def run_batch(
    inputs: Iterable[str],
    out_dir: Path,
    chooser: PackChooser,
    *,
    strict: bool = False,
    mask: bool = True,
    on_record: Callable[[Progress], None] | None = None,
    follow_up: FollowUp | None = None,
    workers: int = 1,
    cluster: str | None = None,
    select: Callable[[Call], bool] | None = None,
    skip_audited: bool = False,
    publish_empty: bool = True,
    rejected: Iterable[Rejected] = (),
) -> BatchSummary:
    """Audit every call in the inputs and write DIR/verdicts.jsonl, findings.jsonl,
    rejects.jsonl and summary.json; with `follow_up`, run the action policy on each call
    and record it in the ledger (each call all-or-nothing; see `Ledger.grouped`).

    Every file is written under a temporary name and renamed only when the whole batch is
    done, so a reader never sees a half-written night; a run that stops early leaves the
    previous results as they were and no partial files behind. With `publish_empty` false,
    a batch that found no call at all (a night whose export is not there yet) leaves them
    as they were too. `rejected`: records already refused on the way in (recordings that
    could not be transcribed), listed among the batch's rejects.
    """
    inputs = list(inputs)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # before anything is audited or recorded in the ledger
        OUTPUT_GUARDS[name].check(out_dir / name)
    summary = BatchSummary()
    started = datetime.now(timezone.utc)
    temp = {name: out_dir / f".{name}.partial" for name in OUTPUT_FILES}
    made = {name: _fresh(path) for name, path in temp.items()}
    os.close(made["summary.json"])
    try:
        with (
            _fewer_collections(),
            os.fdopen(made["verdicts.jsonl"], "wb") as verdicts,
            os.fdopen(made["findings.jsonl"], "wb") as findings,
            os.fdopen(made["rejects.jsonl"], "wb") as rejects,
            follow_up.ledger.grouped() if follow_up is not None else nullcontext(),
        ):
            if workers > 1 or cluster is not None:
                outcomes = _audited_elsewhere(
                    inputs, out_dir, chooser, summary, workers, cluster, mask,
                    serialize=follow_up is None, select=select,
                    skip=follow_up if skip_audited else None,
                    # Waiting for workers, commit what is recorded: never sit on the lock.
                    idle=follow_up.ledger.commit_group if follow_up is not None else None,
                )
            else:
                loaded = load_calls(inputs, skip=[out_dir])
                if select is not None:
                    loaded = (i for i in loaded if isinstance(i, Rejected) or select(i))
                if skip_audited and follow_up is not None:
                    loaded = _not_yet_audited(loaded, chooser, follow_up, summary)
                outcomes = _audited_here(loaded, chooser, summary, mask,
                                         serialize=follow_up is None)
            for item in itertools.chain(rejected, outcomes):
                if on_record:
                    on_record(item)
                if isinstance(item, Rejected):
                    summary.rejected += 1
                    rejects.write(orjson.dumps(reject_record(item, mask=mask)) + b"\n")
                    if strict:
                        raise StrictInputError(item)
                    continue
                if isinstance(item, AuditedLines):
                    verdicts.write(item.verdict)
                    findings.writelines(item.findings)
                    _count_lines(summary, item)
                    continue
                assert follow_up is not None, "audits come back as lines without a ledger"
                change = follow_up.apply(item.audit, item.prepared)
                summary.ledger[change.status] += 1
                if change.status != "unchanged":  # an unchanged call's actions were taken before
                    summary.actions.update(change.actions)
                summary.superseded += change.findings_superseded
                lines = _as_lines(item.call, item.audit, mask, change.actions, item.findings)
                verdicts.write(lines.verdict)
                findings.writelines(lines.findings)
                _count_lines(summary, lines)
        _write_summary(temp["summary.json"], summary, started, inputs)
        for name in OUTPUT_FILES:  # nothing put there while the batch ran
            OUTPUT_GUARDS[name].check(out_dir / name)
    except BaseException:
        for path in temp.values():
            path.unlink(missing_ok=True)
        raise
    if not publish_empty and summary.calls == 0 and summary.rejected == 0:
        for path in temp.values():
            path.unlink()
        if created:
            out_dir.rmdir()
        return summary
    for name in OUTPUT_FILES:
        final = out_dir / name
        os.chmod(temp[name], output_mode(final))
        temp[name].replace(final)
    return summary


def _fresh(path: Path) -> int:
    """A new, empty temporary output file. One left by a killed run is removed first (and a
    link planted under its name removed, never followed: O_EXCL)."""
    path.unlink(missing_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


# Batches running at once in one process (threads) share the collector: the first to start
# tunes it, the last to end puts it back.
_collector_lock = threading.Lock()
_collector_batches = 0
_collector_before = gc.get_threshold()  # as the first batch of those found it


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cycle collector run less often while a batch is audited, and what is alive
    when it starts (modules, rule packs compiled for the workers) set aside from it.

    An audit makes next to no reference cycles (the collector freed 395 objects in 5,000
    calls), but each collection walks the objects it tracks, the remembered turns among
    them: at Python's defaults that was ~7% of an audit's time. Setting aside what is alive
    before forking is what Python's documentation advises for `gc.freeze`: forked workers
    then do not copy those pages by touching them. Both are undone when the batch ends.
    """
    global _collector_batches, _collector_before
    with _collector_lock:
        if _collector_batches == 0:
            _collector_before = gc.get_threshold()
            _collect_young_less_often()
        _collector_batches += 1
        gc.freeze()
    try:
        yield
    finally:
        with _collector_lock:
            _collector_batches -= 1
            if _collector_batches == 0:
                gc.set_threshold(*_collector_before)
                gc.unfreeze()


def _collect_young_less_often() -> None:
    """The youngest generation collected every `YOUNG_COLLECTION_EVERY` allocations (a
    higher threshold already set is kept)."""
    young, *older = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_COLLECTION_EVERY), *older)


def _not_yet_audited(
    items: Iterable[Call | Rejected], chooser: PackChooser, follow_up: FollowUp,
    summary: BatchSummary,
) -> Iterator[Call | Rejected]:
    """Calls the ledger already holds with the same transcript, rules and policy are skipped:
    re-running a night, or resuming one that was stopped, redoes only what is missing."""
    for item in items:
        if isinstance(item, Call):
            try:
                pack_hash = chooser.for_call(item).content_hash
            except NoPackForLanguage:
                yield item
                continue
            if follow_up.unchanged(item, pack_hash):
                summary.ledger["unchanged"] += 1
                continue
        yield item


class SeenIds:
    """The call ids of a run, to catch a call given twice, in about 8 bytes each: recent ids
    in a set, older ones as a sorted array of 64-bit hashes (a million ids: 8 MB, not the
    100 MB a set of strings takes). Two different ids share a hash with odds of about one in
    40 million for a million-call night; the second would be rejected as a repeat."""

    def __init__(self, spill_at: int = 10_000) -> None:
        self.recent: set[str] = set()
        self.older: np.ndarray | None = None  # made at the first spill
        self.spill_at = spill_at

    def __contains__(self, call_id: str) -> bool:
        if call_id in self.recent:
            return True
        older = self.older
        if older is None:
            return False
        key = _id_hash(call_id)
        at = int(older.searchsorted(key))
        return at < len(older) and int(older[at]) == key

    def add(self, call_id: str) -> None:
        self.recent.add(call_id)
        if len(self.recent) >= self.spill_at:
            # Imported here: only a run of `spill_at` calls needs it, and importing numpy
            # took ~60 ms of every command's start.
            import numpy as np

            hashes = np.sort(np.fromiter((_id_hash(i) for i in self.recent), dtype=np.uint64,
                                         count=len(self.recent)))
            older = self.older
            # Inserted in place of a union (np.union1d peaks at seven times the array).
            self.older = (hashes if older is None
                          else np.insert(older, older.searchsorted(hashes), hashes))
            self.recent.clear()


def _id_hash(call_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(call_id.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class LedgerLookup:
    """Where a worker process looks up calls a night already audited (read-only)."""

    path: str
    policy_hash: str


@dataclass(frozen=True)
class Unchanged:
    """A call a worker found in the ledger as it is, sent back unaudited. The parent asks
    the ledger again (this run may have recorded the call since) and audits it if needed."""

    call: Call
    pack_hash: str
    digest: str | None = None  # the call's content hash


@dataclass(frozen=True)
class AuditedLines:
    """One call's audit as the lines it adds to verdicts.jsonl and findings.jsonl, with the
    few facts the summary counts: what a worker sends back instead of the objects."""

    source: SourceRef | None
    call_id: str
    pack: str  # name@version of the pack that audited it
    verdict: bytes
    findings: tuple[bytes, ...]
    valid: bool | None
    unwaived: int
    counted: tuple[tuple[str, str], ...]  # (severity, standard) of each unwaived finding
    waivers: tuple[str, ...]  # the waiver of each waived finding


@dataclass(frozen=True)
class ForLedger:
    """One call audited for a night with a ledger: the audit (the action policy and the
    ledger read it), what the ledger stores of it (worked out by the worker that audited
    it; None when audited here) and its findings' lines. Its verdict line waits for the
    actions the policy takes, which only the process writing the ledger knows."""

    call: Call
    audit: CallAudit
    prepared: Prepared | None
    findings: tuple[bytes, ...]

    @property
    def source(self) -> SourceRef | None:
        return self.call.source


def _finding_lines(result: CallAudit, mask: bool) -> tuple[bytes, ...]:
    return tuple(orjson.dumps(finding_record(f, mask=mask)) + b"\n" for f in result.findings)


def _outcome(call: Call, result: CallAudit, mask: bool, *, serialize: bool,
             digest: str | None = None) -> AuditedLines | ForLedger:
    """A call's audit as it goes back to the batch: its lines (no ledger), or what the
    ledger needs, worked out here when the call's content hash (`digest`) was."""
    if serialize:
        return _as_lines(call, result, mask, [])
    prepared = Prepared.of(result, digest) if digest is not None else None
    return ForLedger(call, result, prepared, _finding_lines(result, mask))


def _as_lines(call: Call, result: CallAudit, mask: bool, actions: list[str],
              findings: tuple[bytes, ...] | None = None) -> AuditedLines:
    """`findings`: the findings' lines, when they were already written out."""
    record = verdict_record(result.verdict, call, mask=mask)
    record["actions"] = actions
    return AuditedLines(
        source=call.source,
        call_id=call.call_id,
        pack=result.verdict.rule_pack,
        verdict=orjson.dumps(record) + b"\n",
        findings=_finding_lines(result, mask) if findings is None else findings,
        valid=result.verdict.valid,
        unwaived=result.verdict.findings,
        counted=tuple((f.severity, f.standard) for f in result.findings if f.waiver is None),
        waivers=tuple(f.waiver for f in result.findings if f.waiver is not None),
    )


def _count_lines(summary: BatchSummary, lines: AuditedLines) -> None:
    summary.waived += len(lines.waivers)
    summary.waivers_used.update(lines.waivers)
    for severity, standard in lines.counted:
        summary.by_severity[severity] += 1
        summary.by_standard[standard] += 1
    _count(summary, lines.valid, lines.unwaived)


def _duplicate(item: Call | AuditedLines, summary: BatchSummary) -> Rejected:
    summary.duplicates += 1
    return Rejected(
        item.source or SourceRef("?"),
        f"call_id '{item.call_id}' was already audited in this run",
        "give every call a unique call_id; the first one was kept",
        item.call_id,
    )


def _no_pack(call: Call, exc: NoPackForLanguage) -> Rejected:
    return Rejected(
        call.source or SourceRef("?"),
        str(exc),
        "add a rule pack for this language, or name one with --rules",
        call.call_id,
    )


def _note_pack(summary: BatchSummary, pack: RulePack) -> None:
    if pack.label not in summary.packs:
        summary.packs[pack.label] = pack.content_hash
        summary.waivers_known.update({w.label: w.rule_id for w in pack.waivers})


Outcome = Rejected | AuditedLines | Unchanged | ForLedger
# What `on_record` is told of each record as it is written (it reads `.source`).
Progress = Rejected | AuditedLines | ForLedger


def _audited_here(
    items: Iterable[Call | Rejected], chooser: PackChooser, summary: BatchSummary, mask: bool,
    *, serialize: bool,
) -> Iterator[Rejected | AuditedLines | ForLedger]:
    """Each loaded item audited in this process, in input order (duplicates and calls
    without a pack become rejects)."""
    seen = SeenIds()
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        if item.call_id in seen:
            yield _duplicate(item, summary)
            continue
        try:
            pack = chooser.for_call(item)
        except NoPackForLanguage as exc:
            yield _no_pack(item, exc)
            continue
        seen.add(item.call_id)
        _note_pack(summary, pack)
        yield _outcome(item, audit_call(pack, item), mask, serialize=serialize)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides its shard (sent once to each process)."""

    rules_root: str
    fixed: str | None
    mask: bool
    serialize: bool  # send back lines (no follow-up) rather than the call and its audit
    select: Callable[[Call], bool] | None = None
    ledger: LedgerLookup | None = None  # skip calls the ledger already holds unchanged

    def chooser(self) -> PackChooser:
        """The rule packs, compiled in the worker (from the same path: shared storage)."""
        return PackChooser(Path(self.rules_root), Path(self.fixed) if self.fixed else None)


def audit_shard(setup: WorkerSetup, chooser: PackChooser, shard: Shard) -> list[Outcome]:
    """Load one shard and audit its calls: runs in a worker process or on a Dask worker."""
    out: list[Outcome] = []
    ledger = _ledger_reader(setup.ledger) if setup.ledger is not None else None
    for item in load_shard(shard):
        if isinstance(item, Rejected):
            out.append(item)
            continue
        if setup.select is not None and not setup.select(item):
            continue
        try:
            pack = chooser.for_call(item)
        except NoPackForLanguage as exc:
            out.append(_no_pack(item, exc))
            continue
        # With a ledger, the content hash is worked out here, once, for the lookup and for
        # the record: the process writing the ledger then need not.
        digest = None if setup.serialize else content_hash(item)
        if ledger is not None and ledger.already_audited(item, pack.content_hash, digest):
            out.append(Unchanged(item, pack.content_hash, digest))
            continue
        result = audit_call(pack, item)
        out.append(_outcome(item, result, setup.mask, serialize=setup.serialize, digest=digest))
    return out


# Each worker process keeps its setup and compiled packs from its start.
_worker: tuple[WorkerSetup, PackChooser] | None = None
# ...and its own read-only connection to the ledger (opened after the fork, never shared).
_reader: tuple[LedgerLookup, LedgerReader] | None = None


def _ledger_reader(lookup: LedgerLookup) -> LedgerReader:
    global _reader
    if _reader is None or _reader[0] != lookup:
        _reader = (lookup, LedgerReader(lookup.path, lookup.policy_hash))
    return _reader[1]


def _start_worker(setup: WorkerSetup) -> None:
    """A spawned worker: its packs, and the cycle collector as a batch runs it (it lives as
    long as the pool, so nothing is undone)."""
    global _worker
    if _worker is None or _worker[0] != setup:
        _worker = (setup, setup.chooser())
    _collect_young_less_often()


def _audit_in_worker(shard: Shard | Rejected) -> list[Outcome]:
    if isinstance(shard, Rejected):
        return [shard]
    assert _worker is not None
    return audit_shard(_worker[0], _worker[1], shard)


def _audited_elsewhere(
    inputs: list[str], out_dir: Path, chooser: PackChooser, summary: BatchSummary,
    workers: int, cluster: str | None, mask: bool, *, serialize: bool,
    select: Callable[[Call], bool] | None, skip: FollowUp | None,
    idle: Callable[[], None] | None = None,
) -> Iterator[Outcome]:
    """Outcomes in input order, each shard loaded and audited by a worker process (or on
    Dask); here only duplicates are caught and, with a ledger, calls already in it skipped."""
    global _worker
    chooser.preload()
    packs = {p.label: p for p in chooser.loaded()}
    lookup = None
    if skip is not None and cluster is None:  # Dask workers may not reach the ledger file
        lookup = LedgerLookup(str(skip.ledger.path), skip.policy.content_hash)
    setup = WorkerSetup(str(chooser.rules_root), str(chooser.fixed_path or "") or None, mask,
                        serialize, select, lookup)
    shards = plan_shards(inputs, skip=[out_dir])
    if cluster is not None:
        from engine.cluster import audit_on_cluster

        results: Iterator[list[Outcome]] = audit_on_cluster(shards, setup, cluster, idle)
    elif "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        # Forked workers inherit the packs compiled here (no start-up cost) and `select`,
        # whatever it is. Only when this process runs no other thread.
        _worker = (setup, chooser)
        gc.freeze()  # the packs too, before the workers fork (undone by `_fewer_collections`)
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = _on_pool(pool, shards, workers, idle)
    else:
        if select is not None and not _can_send(select):
            # A spawned process cannot be sent a closure: pick the calls here instead.
            setup = replace(setup, select=None)
            shards = _selected(shards, select)
        pool = multiprocessing.get_context("spawn").Pool(workers, _start_worker, (setup,))
        results = _on_pool(pool, shards, workers, idle)
    seen = SeenIds()
    try:
        for batch in results:
            for item in batch:
                if isinstance(item, Rejected):
                    yield item
                    continue
                if isinstance(item, AuditedLines):
                    shown, label = item, item.pack
                else:
                    shown, pack_hash, digest = _call_and_hashes(item)
                    if skip is not None and skip.unchanged(shown, pack_hash, digest):
                        summary.ledger["unchanged"] += 1
                        continue
                    if isinstance(item, Unchanged):  # recorded since: audit it here
                        item = _outcome(shown, audit_call(chooser.for_call(shown), shown), mask,
                                        serialize=False, digest=digest)
                    assert isinstance(item, ForLedger)
                    label = item.audit.verdict.rule_pack
                if shown.call_id in seen:
                    yield _duplicate(shown, summary)
                    continue
                seen.add(shown.call_id)
                pack = packs.get(label)
                if pack is not None:
                    _note_pack(summary, pack)
                yield item
    finally:
        if cluster is None:
            pool.terminate()


def _call_and_hashes(item: Unchanged | ForLedger) -> tuple[Call, str, str | None]:
    """The call, its rule pack's hash and, when a worker worked it out, its content hash."""
    if isinstance(item, Unchanged):
        return item.call, item.pack_hash, item.digest
    digest = item.prepared.content_hash if item.prepared is not None else None
    return item.call, item.audit.verdict.rule_pack_hash, digest


class Submitted(Protocol):
    """A shard handed to a worker: a process pool's AsyncResult, or a wrapped Dask future."""

    def ready(self) -> bool: ...

    def get(self) -> list[Outcome]: ...


def in_order(
    submit: Callable[[Shard | Rejected], Submitted], shards: Iterable[Shard | Rejected],
    in_flight: int, idle: Callable[[], None] | None = None,
) -> Iterator[list[Outcome]]:
    """Each shard's outcomes in input order, with at most `in_flight` shards handed out: the
    input is read only as fast as it is audited, so memory stays flat (`Pool.imap` would
    read it all ahead). `idle` runs before waiting for a shard that is not done yet."""
    pending: deque[Submitted] = deque()
    source = iter(shards)
    while True:
        while len(pending) < in_flight:
            shard = next(source, None)
            if shard is None:
                break
            pending.append(submit(shard))
        if not pending:
            return
        if idle is not None and not pending[0].ready():
            idle()
        yield pending.popleft().get()


def _on_pool(
    pool: multiprocessing.pool.Pool, shards: Iterable[Shard | Rejected], workers: int,
    idle: Callable[[], None] | None,
) -> Iterator[list[Outcome]]:
    return in_order(lambda shard: pool.apply_async(_audit_in_worker, (shard,)), shards,
                    IN_FLIGHT_PER_WORKER * workers, idle)


def _can_send(select: Callable[[Call], bool]) -> bool:
    """Whether a spawned worker can be sent `select` (a module-level function or a picklable
    object such as the night's StartedOn can; a lambda cannot)."""
    try:
        pickle.dumps(select)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _selected(
    shards: Iterable[Shard | Rejected], select: Callable[[Call], bool]
) -> Iterator[Shard | Rejected]:
    """Shards loaded here and filtered, for workers that cannot be sent `select`."""
    for shard in shards:
        if isinstance(shard, Rejected):
            yield shard
            continue
        yield CallsShard(tuple(i for i in load_shard(shard)
                               if isinstance(i, Rejected) or select(i)))


def _count(summary: BatchSummary, valid: bool | None, findings: int) -> None:
    summary.calls += 1
    summary.findings += findings
    if valid is None:
        summary.no_sale += 1
    elif valid:
        summary.valid += 1
    else:
        summary.invalid += 1


def _write_summary(
    path: Path, summary: BatchSummary, started: datetime, inputs: list[str]
) -> None:
    document = {
        "schema": SUMMARY_SCHEMA,
        "callaudit_version": __version__,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
        "calls": summary.calls,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "no_sale": summary.no_sale,
        "findings": summary.findings,
        "rejected": summary.rejected,
        "duplicates": summary.duplicates,
        "waived": summary.waived,
        "actions": dict(sorted(summary.actions.items())),
        "ledger": dict(sorted(summary.ledger.items())),
        "findings_superseded": summary.superseded,
        "unused_waivers": summary.unused_waivers,
        "findings_by_severity": dict(sorted(summary.by_severity.items())),
        "findings_by_standard": dict(sorted(summary.by_standard.items())),
        "rule_packs": [{"pack": k, "hash": v} for k, v in sorted(summary.packs.items())],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
