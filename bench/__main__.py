"""`python -m bench`: how fast the audit is, against a naive baseline and the parse floor.

    python -m bench                       # 5,000 generated calls (about a minute)
    python -m bench --calls 100000 --json bench-100k.json
    python -m bench --rss-calls 1000000   # peak memory of the audit on a million calls
    python -m bench --ledger              # also the audit into a ledger, as a night runs

Every figure comes from a fresh process (so its peak memory is its own); the table gives
calls per second per core, peak RSS, and the ratios the targets are stated in.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import write_calls


def measure(mode: str, path: Path, *args: int) -> dict:
    command = [sys.executable, "-m", "bench.measure", mode, str(path), *map(str, args)]
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure_apart(path: Path, parts: int) -> dict:
    """N fully independent one-worker audits at once, each on its own 1/N of the calls: no
    pool, no parent, nothing shared but the machine. What N workers could at best reach
    on this machine for this work (CPU caches and memory bandwidth are shared, which a
    bare loop does not show)."""
    lines = path.read_bytes().splitlines(keepends=True)
    share = -(-len(lines) // parts)
    files = []
    for number in range(parts):
        part = path.with_name(f"{path.stem}.part{number}.jsonl")
        part.write_bytes(b"".join(lines[number * share:(number + 1) * share]))
        files.append(part)
    command = [sys.executable, "-m", "bench.measure", "engine"]
    started = time.perf_counter()
    running = [subprocess.Popen([*command, str(f), "1"], stdout=subprocess.PIPE, text=True,
                                cwd=Path(__file__).resolve().parent.parent) for f in files]
    outputs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in running]
    seconds = time.perf_counter() - started
    if any(p.returncode for p in running):
        raise SystemExit("an independent audit failed")
    return {"mode": "apart", "calls": sum(o["calls"] for o in outputs), "seconds": seconds,
            "peak_rss_mb": max(o["peak_rss_mb"] for o in outputs)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5_000, help="calls to generate")
    parser.add_argument("--naive-calls", type=int, default=1_500,
                        help="calls the (slow) naive baseline runs on (calls/s is what counts)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="processes for the parallel run (default: all cores)")
    parser.add_argument("--rss-calls", type=int, default=0,
                        help="also measure peak memory of the audit on this many calls")
    parser.add_argument("--ledger", action="store_true",
                        help="also measure the audit with follow-up into a ledger (nightly)")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        path = write_calls(Path(scratch) / "calls.jsonl", args.calls)
        subset = write_calls(Path(scratch) / "subset.jsonl", min(args.naive_calls, args.calls))
        rows = {
            "parse floor": measure("parse", path),
            "naive baseline": measure("naive", subset),
            "engine, 1 worker": measure("engine", path, 1),
            "engine, 1 worker, nothing remembered": measure("forgetting", path),
            f"engine, {args.workers} workers": measure("engine", path, args.workers),
        }
        apart = measure_apart(path, args.workers)
        spin_one = measure("spin", path, 1)
        spin_many = measure("spin", path, args.workers)
        if args.ledger:
            rows["with a ledger, 1 worker"] = measure("nightly", path, 1)
            rows[f"with a ledger, {args.workers} workers"] = measure("nightly", path,
                                                                    args.workers)
        if args.rss_calls:
            big = write_calls(Path(scratch) / "big.jsonl", args.rss_calls)
            rows[f"engine, 1 worker, {args.rss_calls:,} calls"] = measure("engine", big, 1)

    for row in rows.values():
        row["calls_per_second"] = row["calls"] / row["seconds"]
    engine = rows["engine, 1 worker"]["calls_per_second"]
    parallel = rows[f"engine, {args.workers} workers"]["calls_per_second"]
    ceiling = (spin_many["calls"] / spin_many["seconds"]) / (
        spin_one["calls"] / spin_one["seconds"])
    ratios = {
        "engine / naive baseline": engine / rows["naive baseline"]["calls_per_second"],
        "  nothing remembered / naive": rows["engine, 1 worker, nothing remembered"][
            "calls_per_second"] / rows["naive baseline"]["calls_per_second"],
        "parse floor / engine": rows["parse floor"]["calls_per_second"] / engine,
        f"speed-up on {args.workers} workers": parallel / engine,
        f"{args.workers} independent audits": apart["calls"] / apart["seconds"] / engine,
        f"bare-loop ceiling on {args.workers}": ceiling,
    }
    print(f"{'measurement':<34} {'calls':>9} {'seconds':>8} {'calls/s':>9} {'peak RSS MB':>12}")
    for name, row in rows.items():
        print(f"{name:<34} {row['calls']:>9,} {row['seconds']:>8.2f} "
              f"{row['calls_per_second']:>9,.0f} {row['peak_rss_mb']:>12,.1f}")
    for name, value in ratios.items():
        print(f"{name:<34} {value:>9.2f}×")
    recalled = rows["engine, 1 worker"].get("turns_recalled", 0.0)
    print(f"(engine, 1 worker: {recalled:.0%} of turns were texts its packs had read before "
          "and remembered; nothing remembered: every turn read anew)")
    print(f"({args.workers} independent audits: {args.workers} separate one-worker runs at once, "
          f"each on 1/{args.workers} of the calls, against one run on all: what {args.workers} "
          "workers can reach on this machine; bare-loop ceiling: a pure-Python loop, which "
          "shares no cache)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratios": ratios, "calls": args.calls,
                                         "workers": args.workers,
                                         "apart": apart,
                                         "spin": {"1": spin_one, str(args.workers): spin_many}},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
