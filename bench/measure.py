"""One measurement, run in a fresh process so its peak memory is its own.

    python -m bench.measure MODE CALLS.jsonl [WORKERS]

prints one JSON line: {"mode", "calls", "seconds", "peak_rss_mb"}, and for the engine on
one worker "turns_recalled", the share of turns whose text the packs had read before, and
"collector_seconds", the time Python's cycle collector ran; with a ledger on several
workers "writer_cpu_seconds", the CPU the one process writing the ledger used.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_EXTRA: dict[str, float] = {}  # what a mode measured besides time and memory


def parse_only(path: str) -> int:
    """The floor: read and validate every call, do nothing with it."""
    from engine.transcripts import load_calls

    return sum(1 for _ in load_calls([path]))


def naive(path: str) -> int:
    """The baseline evaluator (`bench/naive.py`): turn by turn, plain loops."""
    from bench.naive import make_naive
    from engine.audit import PackChooser, audit_call
    from engine.model import Call
    from engine.transcripts import load_calls

    chooser = PackChooser(REPO / "rules")
    patched: set[str] = set()
    count = 0
    for call in load_calls([path]):
        if not isinstance(call, Call):
            continue
        pack = chooser.for_call(call)
        if pack.name not in patched:
            make_naive(pack)
            patched.add(pack.name)
        audit_call(pack, call)
        count += 1
    return count


def engine_run(path: str, workers: int = 1) -> int:
    """The audit as `callaudit audit --no-ledger` runs it, outputs to a scratch folder."""
    import tempfile

    from engine.audit import PackChooser
    from engine.batch import run_batch

    chooser = PackChooser(REPO / "rules")
    collector = _time_in_collector()
    with tempfile.TemporaryDirectory() as out:
        summary = run_batch([path], Path(out), chooser, workers=workers)
    if workers == 1:  # audited in this process: how often a turn's text was seen before
        _EXTRA["collector_seconds"] = round(collector[0], 3)
        memos = [pack.index.memo for pack in chooser.loaded()]
        asked = sum(m.asked for m in memos)
        _EXTRA["turns_recalled"] = sum(m.recalled for m in memos) / asked if asked else 0.0
    return summary.calls + summary.rejected


def _time_in_collector() -> list[float]:
    """The seconds Python's cycle collector runs in this process from now on, added up in
    the list's one item."""
    spent, started = [0.0], [0.0]

    def note(phase: str, _info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - started[0]

    gc.callbacks.append(note)
    return spent


def forgetting(path: str) -> int:
    """The engine on 1 worker remembering no turn: every turn read anew, as if no text
    ever recurred (the engine's worst case; real calls repeat script lines and answers)."""
    import engine.rules.matchers

    engine.rules.matchers.TURNS_KEPT = 0
    return engine_run(path, 1)


def nightly(path: str, workers: int = 1) -> int:
    """The audit with follow-up, as `callaudit nightly` runs it: the action policy on every
    call and every call recorded in a new ledger (outputs to a scratch folder)."""
    import tempfile

    from engine.actions.ledger import Ledger
    from engine.actions.policy import load_policy
    from engine.actions.runner import FollowUp
    from engine.audit import PackChooser
    from engine.batch import run_batch

    chooser = PackChooser(REPO / "rules")
    chooser.preload()  # start-up, not recording: compiled before the writer's CPU is counted
    with tempfile.TemporaryDirectory() as scratch, Ledger(Path(scratch) / "l.db") as ledger:
        follow_up = FollowUp(load_policy(REPO / "rules" / "actions.yaml"), ledger)
        before = time.process_time()  # this process's CPU, all its threads
        summary = run_batch([path], Path(scratch) / "out", chooser,
                            workers=workers, follow_up=follow_up, skip_audited=True)
        if workers > 1:  # audited elsewhere: this process only wrote the ledger and outputs
            _EXTRA["writer_cpu_seconds"] = round(time.process_time() - before, 3)
    return summary.calls + summary.rejected


def _spin(rounds: int) -> int:
    total = 0
    for number in range(rounds):
        total += number * number
    return total


def spin(path: str, workers: int = 1) -> int:
    """The machine's own ceiling for N processes: a pure-Python loop, the same amount per
    process, on 1 or N processes at once (reported as `calls` = loops of 1M rounds)."""
    import multiprocessing

    loops = 4 * workers
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_spin, [1_000_000] * loops, chunksize=1)
    return loops


MODES = {"parse": parse_only, "naive": naive, "engine": engine_run, "forgetting": forgetting,
         "nightly": nightly, "spin": spin}


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    args = [int(a) for a in sys.argv[3:]]
    started = time.perf_counter()
    calls = MODES[mode](path, *args)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "calls": calls, "seconds": seconds,
                      "peak_rss_mb": round(max(peak, children), 1), **_EXTRA}))


if __name__ == "__main__":  # spawned workers import this module: run only when asked
    main()
