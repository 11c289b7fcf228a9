"""Instructions a call, counted by valgrind's callgrind: the same count on every run,
whatever else the machine is doing, so a change of 1% can be seen where timings of the
same run vary by 20%.

    python -m bench.instructions                      # the audit alone, 300 calls
    python -m bench.instructions --stage batch        # reading, auditing and writing
    python -m bench.instructions --language en --calls 200

Each stage runs twice under callgrind, on no calls and on N calls, with the same start-up
(imports, both packs compiled, the calls read when the stage is the audit alone), so
start-up cancels out. To compare two commits, run it in a checkout of each. Instructions
are not seconds (a cache miss costs more than an add), but for this Python code they
have moved with the time measured by `python -m bench`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.generate import write_calls

REPO = Path(__file__).resolve().parent.parent
STAGES = ("audit", "batch", "parse")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def collected(valgrind_output: str) -> int:
    """The instruction count callgrind prints when the program ends."""
    found = _COLLECTED.search(valgrind_output)
    if found is None:
        raise ValueError("callgrind printed no 'Collected' line:\n" + valgrind_output[-2000:])
    return int(found.group(1))


def calls_of(source: Path, language: str, count: int, into: Path) -> Path:
    """The first `count` calls of a language ("" for any) copied into a file of their own."""
    import orjson

    kept = 0
    with source.open("rb") as lines, into.open("wb") as out:
        for line in lines:
            if kept == count:
                break
            if orjson.loads(line).get("language", "").startswith(language):
                out.write(line)
                kept += 1
    if kept < count:
        raise SystemExit(f"only {kept} calls of language '{language}' in {source}")
    return into


def run_stage(stage: str, path: str, count: int) -> None:
    """The work counted: `count` calls of the file through the stage (0: start-up only)."""
    from engine.audit import PackChooser, audit_call
    from engine.batch import run_batch
    from engine.model import Call
    from engine.transcripts import load_calls

    chooser = PackChooser(REPO / "rules")
    chooser.preload()
    if stage == "audit":
        calls = [c for c in load_calls([path]) if isinstance(c, Call)]
        packs = [chooser.for_call(c) for c in calls]
        for pack, call in list(zip(packs, calls, strict=True))[:count]:
            audit_call(pack, call)
        return
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(path)
        if count == 0:
            source = Path(scratch) / "none.jsonl"
            source.write_bytes(b"")
        if stage == "batch":
            run_batch([str(source)], Path(scratch) / "out", chooser)
        else:
            sum(1 for _ in load_calls([str(source)]))


def count(stage: str, path: Path, calls: int) -> int:
    """Instructions of the stage on `calls` calls, start-up taken away (the two runs at
    once: counts do not depend on what else runs)."""
    with tempfile.TemporaryDirectory() as scratch:
        running = [
            subprocess.Popen(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/{number}.out",
                 sys.executable, "-m", "bench.instructions", "--child", stage, str(path),
                 str(number)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                env={**os.environ, "PYTHONHASHSEED": "0"})
            for number in (0, calls)
        ]
        totals = []
        for process in running:
            errors = process.communicate()[1]
            if process.returncode != 0:
                raise SystemExit(f"the {stage} stage failed under valgrind:\n" + errors[-2000:])
            totals.append(collected(errors))
    return (totals[1] - totals[0]) // calls


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=STAGES, action="append",
                        help="what to count (repeat for several; default: audit)")
    parser.add_argument("--calls", type=int, default=300, help="calls counted (default 300)")
    parser.add_argument("--language", default="", help="only calls of this language (zh, en)")
    parser.add_argument("--child", nargs=3, metavar=("STAGE", "FILE", "N"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        stage, path, number = args.child
        run_stage(stage, path, int(number))
        return
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: install it (Debian: apt install "
                         "valgrind) to count instructions, or use `python -m bench`")
    with tempfile.TemporaryDirectory() as scratch:
        generated = write_calls(Path(scratch) / "all.jsonl", max(args.calls * 4, 1_000))
        path = calls_of(generated, args.language, args.calls, Path(scratch) / "calls.jsonl")
        for stage in args.stage or ["audit"]:
            per_call = count(stage, path, args.calls)
            print(f"{stage:<6} {per_call:>12,} instructions a call "
                  f"({args.calls} calls, {args.language or 'both languages'})", flush=True)


if __name__ == "__main__":
    main()
