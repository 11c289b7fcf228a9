"""One measurement, run in a fresh process so its peak memory is its own.

    python -m bench.measure MODE CALLS.jsonl [WORKERS]

prints one JSON line: {"mode", "calls", "seconds", "peak_rss_mb"}.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_only(path: str) -> int:
    """The floor: read and validate every call, do nothing with it."""
    from engine.transcripts import load_calls

    return sum(1 for _ in load_calls([path]))


def naive(path: str) -> int:
    """The baseline: every phrase of every matcher checked with `in` on every turn."""
    from engine.audit import PackChooser
    from engine.model import Call
    from engine.transcripts import load_calls

    chooser = PackChooser(REPO / "rules")
    phrases: dict[str, list[tuple[str, str | None]]] = {}
    count = found = 0
    for call in load_calls([path]):
        if not isinstance(call, Call):
            continue
        count += 1
        pack = chooser.for_call(call)
        table = phrases.get(pack.name)
        if table is None:
            table = phrases[pack.name] = [(p.lower(), m.speaker) for m in pack.index.matchers
                                          for p in m.phrases]
        for turn in call.turns:
            text = turn.text.lower()
            for phrase, speaker in table:
                if (speaker is None or speaker == turn.speaker) and phrase in text:
                    found += 1
    return count


def engine(path: str, workers: int = 1) -> int:
    """The audit as `callaudit audit --no-ledger` runs it, outputs to a scratch folder."""
    import tempfile

    from engine.audit import PackChooser
    from engine.batch import run_batch

    with tempfile.TemporaryDirectory() as out:
        summary = run_batch([path], Path(out), PackChooser(REPO / "rules"), workers=workers)
    return summary.calls + summary.rejected


MODES = {"parse": parse_only, "naive": naive, "engine": engine}


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    args = [int(a) for a in sys.argv[3:]]
    started = time.perf_counter()
    calls = MODES[mode](path, *args)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "calls": calls, "seconds": seconds,
                      "peak_rss_mb": round(max(peak, children), 1)}))


if __name__ == "__main__":
    main()
