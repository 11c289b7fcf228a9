"""`python -m bench`: how fast the audit is, against a naive baseline and the parse floor.

    python -m bench                       # 5,000 generated calls (about a minute)
    python -m bench --calls 100000 --json bench-100k.json
    python -m bench --rss-calls 1000000   # peak memory of the audit on a million calls
    python -m bench --ledger              # also the audit into a ledger, as a night runs
    python -m bench --baseline eb57648    # also the engine and packs of that commit
    python -m bench --repeat 3            # three rounds: medians, ratios within each round

Every figure comes from a fresh process (so its peak memory is its own); the table gives
calls per second per core, peak RSS, and the ratios the targets are stated in. A shared
machine drifts by 15% over minutes, as much as the engine's and the baseline's speeds; with
--repeat each ratio is the median of the ratios within each round, never of two rounds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import write_calls

REPO = Path(__file__).resolve().parent.parent


def measure(mode: str, path: Path, *args: int, tree: Path = REPO) -> dict:
    """One measurement in a fresh process: its JSON line, with calls per second added.
    `tree` is the source tree whose engine and rule packs run (another commit's, for a
    baseline)."""
    command = [sys.executable, "-m", "bench.measure", mode, str(path), *map(str, args)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=tree,
                            env={**os.environ, "PYTHONPATH": str(tree)}).stdout
    return with_speed(json.loads(output.strip().splitlines()[-1]))


def baseline_tree(revision: str, scratch: Path) -> Path:
    """The repository's files at `revision`, unpacked into `scratch` (git archive)."""
    tree = scratch / "baseline"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {revision}: not a commit of this repository "
                         f"({archive.stderr.decode(errors='replace').strip()})")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def with_speed(row: dict) -> dict:
    row["calls_per_second"] = row["calls"] / row["seconds"]
    return row


def measure_apart(path: Path, parts: int) -> dict:
    """N fully independent one-worker audits at once, each on its own 1/N of the calls: no
    pool, no parent, nothing shared but the machine. What N workers could at best reach
    on this machine for this work (CPU caches and memory bandwidth are shared, which a
    bare loop does not show)."""
    # Streamed, never read whole: a child's peak RSS starts from this process's own (Linux
    # keeps it across fork and exec), so a big parent would inflate every later row.
    with path.open("rb") as source:
        share = -(-sum(1 for _ in source) // parts)
    files = []
    with path.open("rb") as source:
        for number in range(parts):
            part = path.with_name(f"{path.stem}.part{number}.jsonl")
            with part.open("wb") as out:
                out.writelines(itertools.islice(source, share))
            files.append(part)
    command = [sys.executable, "-m", "bench.measure", "engine"]
    started = time.perf_counter()
    running = [subprocess.Popen([*command, str(f), "1"], stdout=subprocess.PIPE, text=True,
                                cwd=Path(__file__).resolve().parent.parent) for f in files]
    outputs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in running]
    seconds = time.perf_counter() - started
    if any(p.returncode for p in running):
        raise SystemExit("an independent audit failed")
    return with_speed({"mode": "apart", "calls": sum(o["calls"] for o in outputs),
                       "seconds": seconds, "peak_rss_mb": max(o["peak_rss_mb"] for o in outputs)})


def one_round(path: Path, subset: Path, workers: int, ledger: bool,
              baseline: tuple[str, Path] | None = None) -> dict:
    """Every measurement once, one after another, so the ratios of a round compare
    measurements taken a minute or two apart, in the same phase of a shared machine."""
    rows = {
        "parse floor": measure("parse", path),
        "naive baseline": measure("naive", subset),
        "engine, 1 worker": measure("engine", path, 1),
    }
    if baseline is not None:
        revision, tree = baseline
        rows[f"engine at {revision}, 1 worker"] = measure("engine", path, 1, tree=tree)
    rows |= {
        "engine, 1 worker, nothing remembered": measure("forgetting", path),
        f"engine, {workers} workers": measure("engine", path, workers),
    }
    apart = measure_apart(path, workers)
    spin = {"1": measure("spin", path, 1), str(workers): measure("spin", path, workers)}
    if ledger:
        rows["with a ledger, 1 worker"] = measure("nightly", path, 1)
        rows[f"with a ledger, {workers} workers"] = measure("nightly", path, workers)
    ratios = ratios_of(rows, apart, spin, workers)
    if baseline is not None:
        ratios[f"engine / engine at {baseline[0]}"] = (
            rows["engine, 1 worker"]["calls_per_second"]
            / rows[f"engine at {baseline[0]}, 1 worker"]["calls_per_second"])
    return {"rows": rows, "apart": apart, "spin": spin, "ratios": ratios}


def ratios_of(rows: dict, apart: dict, spin: dict, workers: int) -> dict[str, float]:
    """The ratios the targets are stated in, from the measurements of one round."""
    engine = rows["engine, 1 worker"]["calls_per_second"]
    naive = rows["naive baseline"]["calls_per_second"]
    return {
        "engine / naive baseline": engine / naive,
        "  nothing remembered / naive":
            rows["engine, 1 worker, nothing remembered"]["calls_per_second"] / naive,
        "parse floor / engine": rows["parse floor"]["calls_per_second"] / engine,
        f"speed-up on {workers} workers":
            rows[f"engine, {workers} workers"]["calls_per_second"] / engine,
        f"{workers} independent audits": apart["calls_per_second"] / engine,
        f"bare-loop ceiling on {workers}":
            spin[str(workers)]["calls_per_second"] / spin["1"]["calls_per_second"],
    }


def summarise(rounds: list[dict]) -> tuple[dict, dict[str, float], dict[str, list[float]]]:
    """Over the rounds: each row's median seconds and calls/s, with the lowest and highest
    calls/s, and its highest peak RSS; each ratio's median and range over the rounds' own
    ratios (a ratio is never taken between measurements of different rounds)."""
    rows = {}
    for name, first in rounds[0]["rows"].items():
        runs = [r["rows"][name] for r in rounds]
        speeds = [run["calls_per_second"] for run in runs]
        rows[name] = {**first,
                      "seconds": statistics.median(run["seconds"] for run in runs),
                      "calls_per_second": statistics.median(speeds),
                      "lowest": min(speeds), "highest": max(speeds),
                      "peak_rss_mb": max(run["peak_rss_mb"] for run in runs)}
        for extra in ("collector_seconds", "writer_cpu_seconds"):
            if extra in first:
                rows[name][extra] = statistics.median(run[extra] for run in runs)
    ratios, ranges = {}, {}
    for name in rounds[0]["ratios"]:
        values = [r["ratios"][name] for r in rounds]
        ratios[name] = statistics.median(values)
        ranges[name] = [min(values), max(values)]
    return rows, ratios, ranges


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5_000, help="calls to generate")
    parser.add_argument("--naive-calls", type=int, default=1_500,
                        help="calls the (slow) naive baseline runs on (calls/s is what counts)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="processes for the parallel run (default: all cores)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of every measurement; the table gives medians, and each "
                             "ratio is the median of the rounds' own ratios")
    parser.add_argument("--rss-calls", type=int, default=0,
                        help="also measure peak memory of the audit on this many calls")
    parser.add_argument("--ledger", action="store_true",
                        help="also measure the audit with follow-up into a ledger (nightly)")
    parser.add_argument("--baseline", metavar="COMMIT",
                        help="also audit with the engine and rule packs of this commit, in "
                             "every round, and give the ratio to it")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    with tempfile.TemporaryDirectory() as scratch:
        path = write_calls(Path(scratch) / "calls.jsonl", args.calls)
        subset = write_calls(Path(scratch) / "subset.jsonl", min(args.naive_calls, args.calls))
        baseline = ((args.baseline, baseline_tree(args.baseline, Path(scratch)))
                    if args.baseline else None)
        rounds = []
        for number in range(args.repeat):
            if args.repeat > 1:
                print(f"round {number + 1} of {args.repeat}…", file=sys.stderr, flush=True)
            rounds.append(one_round(path, subset, args.workers, args.ledger, baseline))
        rows, ratios, ranges = summarise(rounds)
        if args.rss_calls:
            big = write_calls(Path(scratch) / "big.jsonl", args.rss_calls)
            rows[f"engine, 1 worker, {args.rss_calls:,} calls"] = measure("engine", big, 1)

    ranged = args.repeat > 1
    print(f"{'measurement':<34} {'calls':>9} {'seconds':>8} {'calls/s':>9} {'peak RSS MB':>12}"
          + (f"  {'calls/s, lowest–highest':>24}" if ranged else ""))
    for name, row in rows.items():
        print(f"{name:<34} {row['calls']:>9,} {row['seconds']:>8.2f} "
              f"{row['calls_per_second']:>9,.0f} {row['peak_rss_mb']:>12,.1f}"
              + (f"  {row['lowest']:>11,.0f}–{row['highest']:<,.0f}"
                 if ranged and "lowest" in row else ""))
    for name, value in ratios.items():
        lowest, highest = ranges[name]
        print(f"{name:<34} {value:>9.2f}×"
              + (f"   ({lowest:.2f}–{highest:.2f}× over {args.repeat} rounds)" if ranged else ""))
    engine = rows["engine, 1 worker"]
    recalled = engine.get("turns_recalled", 0.0)
    print(f"(engine, 1 worker: {recalled:.0%} of turns were texts its packs had read before "
          f"and remembered, and Python's cycle collector ran {engine['collector_seconds']:.2f} s "
          "of its time; nothing remembered: every turn read anew)")
    writer = rows.get(f"with a ledger, {args.workers} workers", {})
    if "writer_cpu_seconds" in writer:
        per_call = writer["writer_cpu_seconds"] / writer["calls"]
        print(f"(with a ledger, {args.workers} workers: the one process that writes the ledger "
              f"used {per_call * 1000:.2f} ms of CPU a call, so a night with a ledger cannot "
              f"pass about {1 / per_call:,.0f} calls/s however many workers audit)")
    print(f"({args.workers} independent audits: {args.workers} separate one-worker runs at once, "
          f"each on 1/{args.workers} of the calls, against one run on all: what {args.workers} "
          "workers can reach on this machine; bare-loop ceiling: a pure-Python loop, which "
          "shares no cache)")
    if ranged:
        print(f"(medians of {args.repeat} rounds; each ratio is the median of the ratios "
              "within each round, so a ratio never compares two phases of the machine)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratios": ratios, "ratio_ranges": ranges,
                                         "calls": args.calls,
                                         "workers": args.workers, "repeat": args.repeat,
                                         "rounds": rounds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
