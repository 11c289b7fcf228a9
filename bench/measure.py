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


class NaiveCandidates:
    """The baseline evaluator's phrase search: every phrase of every matcher looked for with
    a plain `str.find` loop on every turn, every regex run on every turn. Everything else
    (normalisation, negation, the rules) is the engine's own, so the ratio measures the
    search strategy alone."""

    def __init__(self, index) -> None:
        self.index = index
        self.phrases = [
            [(i, p, role) for i, m in enumerate(index.matchers)
             for phrases, role in ((m.phrases, "match"), (m.exceptions, "except"),
                                   (m.unless_turn_says, "veto"))
             for p in (index.normalizer.phrase(x) for x in phrases) if p]
        ]

    def __call__(self, text: str, speaker: str, product_key: str):
        from collections import defaultdict

        index = self.index
        hits, cancels, vetoed = defaultdict(list), defaultdict(list), set()
        for number, phrase, role in self.phrases[0]:
            wanted = index.matchers[number].speaker
            if wanted is not None and wanted != speaker:
                continue
            at = text.find(phrase)
            while at >= 0:
                if role == "veto":
                    vetoed.add(number)
                else:
                    (hits if role == "match" else cancels)[number].append((at, at + len(phrase)))
                at = text.find(phrase, at + 1)
        for number, regex in index.regexes:
            wanted = index.matchers[number].speaker
            if wanted is None or wanted == speaker:
                hits[number].extend(m.span() for m in regex.finditer(text) if m.end() > m.start())
        return hits, cancels, vetoed


def naive(path: str) -> int:
    """The baseline evaluator: the engine with its automata replaced by plain loops."""
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
            pack.index.candidates = NaiveCandidates(pack.index)
            patched.add(pack.name)
        audit_call(pack, call)
        count += 1
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
