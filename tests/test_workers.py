"""N worker processes give the same verdicts and findings, call for call, as one."""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from bench.generate import write_calls
from engine import batch
from engine.actions import ledger as ledger_module
from engine.actions.ledger import Ledger
from engine.actions.policy import load_policy
from engine.actions.runner import FollowUp
from engine.audit import PackChooser
from engine.batch import SeenIds, run_batch
from engine.model import Call, Rejected
from engine.transcripts import load_calls, shards
from tests.conftest import REPO


def test_two_workers_write_exactly_what_one_writes(tmp_path):
    chooser = PackChooser(REPO / "rules")
    inputs = [str(REPO / "transcripts" / "labelled"), str(REPO / "transcripts" / "samples")]
    one = run_batch(inputs, tmp_path / "one", chooser, workers=1)
    two = run_batch(inputs, tmp_path / "two", chooser, workers=2)
    assert one.calls == two.calls > 100
    for name in ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_a_local_dask_cluster_writes_exactly_what_a_local_run_writes(tmp_path):
    from distributed import Client, LocalCluster

    chooser = PackChooser(REPO / "rules")
    inputs = [str(REPO / "transcripts" / "labelled")]
    local = run_batch(inputs, tmp_path / "local", chooser)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        remote = run_batch(inputs, tmp_path / "dask", chooser, cluster=cluster.scheduler_address)
    assert local.calls == remote.calls
    for name in ("verdicts.jsonl", "findings.jsonl"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def mixed_inputs(folder: Path) -> list[str]:
    """A JSON Lines file cut into many shards, with every kind of trouble on the way: a
    broken line, a record with no turns, a repeated call_id, blank lines; a blank file, an
    empty file and a dialogue file beside it."""
    folder.mkdir()
    calls = write_calls(folder / "night.jsonl", 120).read_bytes().splitlines(keepends=True)
    calls[10] = b'{"call_id": "broken", "turns": [\n'
    calls[20] = b'{"call_id": "no-turns", "call_type": "sale", "language": "zh", "turns": []}\n'
    calls[30] = calls[31]  # the same call twice
    calls.insert(40, b"\n")
    (folder / "night.jsonl").write_bytes(b"".join(calls))
    (folder / "blank.jsonl").write_bytes(b"\n  \n")
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "call.txt").write_text("坐席：您好，请问是机主本人吗？\n客户：以后别给我打电话了。\n",
                                     encoding="utf-8")
    return [str(folder)]


def outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes()
            for name in ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl")}


def test_workers_loading_shards_write_exactly_what_one_process_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "SHARD_BYTES", 16 * 1024)  # many shards of a few calls
    inputs = mixed_inputs(tmp_path / "in")
    assert sum(1 for _ in shards.plan_shards(inputs)) > 20
    chooser = PackChooser(REPO / "rules")
    one = run_batch(inputs, tmp_path / "one", chooser, workers=1)
    two = run_batch(inputs, tmp_path / "two", chooser, workers=2)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
    assert (one.calls, one.rejected, one.duplicates) == (two.calls, two.rejected, two.duplicates)
    assert one.duplicates == 1
    rejects = (tmp_path / "two" / "rejects.jsonl").read_text(encoding="utf-8")
    for expected in ("night.jsonl", '"line":11', "broken JSON", "already audited",
                     "blank.jsonl", "empty.jsonl", "holds no calls"):
        assert expected in rejects.replace(": ", ":")


def ledger_rows(path: Path) -> dict[str, list[tuple]]:
    tables = {"calls": "call_id, content_hash, rule_pack, valid, violations, actions",
              "findings": "fingerprint, call_id, evidence, detail",
              "callbacks": "call_id, phone, status",
              "blacklist": "phone, call_id, status", "dnc": "phone, call_id",
              "trials": "sale_call_id, phone"}
    with sqlite3.connect(path) as db:
        return {t: sorted(db.execute(f"SELECT {c} FROM {t}").fetchall())
                for t, c in tables.items()}


def assert_workers_skip_what_the_ledger_holds(inputs, chooser, follow_up):
    """A worker sends back the calls the ledger holds unchanged without auditing them (a
    resumed night costs only what is missing); the others it audits."""
    lookup = batch.LedgerLookup(str(follow_up.ledger.path), follow_up.policy.content_hash)
    setup = batch.WorkerSetup(str(chooser.rules_root), None, True, False, None, lookup)
    kinds = Counter(type(outcome).__name__ for shard in shards.plan_shards(inputs)
                    if not isinstance(shard, Rejected)
                    for outcome in batch.audit_shard(setup, chooser, shard))
    assert kinds == {"Unchanged": kinds["Unchanged"], "Rejected": kinds["Rejected"]}, kinds
    assert kinds["Unchanged"] > 100


def test_workers_with_a_ledger_record_what_one_process_records(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "SHARD_BYTES", 16 * 1024)
    inputs = mixed_inputs(tmp_path / "in")
    chooser = PackChooser(REPO / "rules")
    for workers in (1, 2):
        with Ledger(tmp_path / f"{workers}.db") as ledger:
            follow_up = FollowUp(load_policy(REPO / "rules" / "actions.yaml"), ledger)
            run_batch(inputs, tmp_path / f"out{workers}", chooser, workers=workers,
                      follow_up=follow_up, skip_audited=True)
            again = run_batch(inputs, tmp_path / f"again{workers}", chooser,
                              workers=workers, follow_up=follow_up, skip_audited=True)
            if workers == 2:
                assert_workers_skip_what_the_ledger_holds(inputs, chooser, follow_up)
        assert again.calls == 0 and again.ledger["unchanged"] > 100  # nothing redone
    assert outputs(tmp_path / "out1") == outputs(tmp_path / "out2")
    assert ledger_rows(tmp_path / "1.db") == ledger_rows(tmp_path / "2.db")
    assert ledger_rows(tmp_path / "1.db")["callbacks"]


def test_the_process_writing_the_ledger_leaves_hashing_to_the_workers(tmp_path, monkeypatch):
    """Workers work out each call's content hash and stored evidence beside its audit; the
    one process writing the ledger (the limit of a night on many cores) does not redo it."""
    hashed_here: list[str] = []
    real = ledger_module.content_hash
    inputs = mixed_inputs(tmp_path / "in")
    with Ledger(tmp_path / "l.db") as ledger:
        follow_up = FollowUp(load_policy(REPO / "rules" / "actions.yaml"), ledger)
        # Patched after the workers' module is loaded: forked workers see it too, but
        # they hash through engine.batch, so only this process's hashing is counted.
        monkeypatch.setattr(ledger_module, "content_hash",
                            lambda call: hashed_here.append(call.call_id) or real(call))
        summary = run_batch(inputs, tmp_path / "out", PackChooser(REPO / "rules"), workers=2,
                            follow_up=follow_up, skip_audited=True)
    assert summary.ledger["new"] > 100
    assert hashed_here == []
    with sqlite3.connect(tmp_path / "l.db") as db:
        stored = dict(db.execute("SELECT call_id, content_hash FROM calls").fetchall())
    assert len(stored) == summary.ledger["new"]
    first = {}
    for call in load_calls(inputs):
        if isinstance(call, Call):
            first.setdefault(call.call_id, call)  # a repeated id: the first was recorded
    assert {i: real(c) for i, c in first.items() if i in stored} == stored


def test_seen_ids_remember_every_id_after_spilling_to_hashes():
    seen = SeenIds(spill_at=100)
    ids = [f"C-{n:06d}" for n in range(1_000)]
    for call_id in ids:
        assert call_id not in seen
        seen.add(call_id)
    assert len(seen.older) >= 900 and len(seen.recent) < 100
    assert all(call_id in seen for call_id in ids)
    assert not any(f"D-{n:06d}" in seen for n in range(1_000))


def test_waiting_for_a_busy_worker_first_runs_idle():
    """A night commits what it has recorded before it waits for a worker, so the ledger's
    write lock is never held while nothing is written (a manager's decision can go in)."""

    class Pending:
        def __init__(self, value: list, done: bool) -> None:
            self.value, self.done = value, done

        def ready(self) -> bool:
            return self.done

        def get(self) -> list:
            return self.value

    class Pool:
        started = 0

        def apply_async(self, function, args):
            self.started += 1
            return Pending([args[0]], done=self.started % 2 == 0)  # every other still busy

    waits: list[int] = []
    got = list(batch._on_pool(Pool(), ["a", "b", "c", "d"], 1, lambda: waits.append(1)))
    assert got == [["a"], ["b"], ["c"], ["d"]]
    assert len(waits) == 2  # before "a" and before "c"


def test_all_cores_are_used_for_a_night_sized_input_only(tmp_path, monkeypatch):
    from cli_commands import default_workers

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    small = write_calls(tmp_path / "small.jsonl", 20)
    big = write_calls(tmp_path / "big.jsonl", 1000)
    assert default_workers([str(small)]) == 1  # starting processes would cost more
    assert default_workers([str(big)]) == 8
    assert default_workers([str(small), "s3://calls/2026-11-23/"]) == 8  # storage: a night


def test_a_batch_leaves_the_cycle_collector_as_it_found_it(tmp_path):
    """A batch runs Python's cycle collector less often and sets aside what lived before
    it (`_fewer_collections`); whoever called it gets the collector back as it was, also
    when the batch stops on a bad record."""
    chooser = PackChooser(REPO / "rules")
    before = gc.get_threshold()
    during: list[tuple[int, int]] = []
    run_batch([str(REPO / "transcripts" / "samples")], tmp_path / "out", chooser, workers=2,
              on_record=lambda _: during.append((gc.get_threshold()[0], gc.get_freeze_count())))
    assert during and all(young >= batch.YOUNG_COLLECTION_EVERY and frozen > 0
                          for young, frozen in during)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(batch.StrictInputError):
        run_batch(mixed_inputs(tmp_path / "bad"), tmp_path / "strict", chooser, strict=True)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_batches_in_threads_give_the_collector_back_when_the_last_one_ends(tmp_path):
    chooser = PackChooser(REPO / "rules")
    chooser.preload()
    samples = [str(REPO / "transcripts" / "samples")]
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def hold(_: object) -> None:
        inside.set()
        release.wait(60)

    first = threading.Thread(target=run_batch, args=(samples, tmp_path / "first", chooser),
                             kwargs={"on_record": hold})
    first.start()
    try:
        assert inside.wait(60)
        run_batch(samples, tmp_path / "second", chooser)  # starts and ends inside the first
        assert gc.get_threshold()[0] >= batch.YOUNG_COLLECTION_EVERY
        assert gc.get_freeze_count() > 0
    finally:
        release.set()
        first.join(60)
    assert (tmp_path / "first" / "verdicts.jsonl").read_bytes() == (
        tmp_path / "second" / "verdicts.jsonl").read_bytes()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_spawned_workers_write_exactly_what_one_process_writes(tmp_path, monkeypatch):
    """Where a process cannot fork (macOS, Windows, or other threads running), workers are
    spawned: each compiles the packs itself, and a `select` that cannot be pickled (a
    local function) is applied here instead."""
    chooser = PackChooser(REPO / "rules")
    inputs = mixed_inputs(tmp_path / "in")

    def select(call: Call) -> bool:
        return not call.call_id.endswith("7")

    one = run_batch(inputs, tmp_path / "one", chooser, workers=1, select=select)
    monkeypatch.setattr(batch.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    spawned = run_batch(inputs, tmp_path / "spawned", chooser, workers=2, select=select)
    assert spawned.calls == one.calls > 90 and spawned.rejected == one.rejected > 0
    assert outputs(tmp_path / "spawned") == outputs(tmp_path / "one")
