"""How long `callaudit rules impact` takes, against one full audit of the same calls and
against two (the change audited without reusing anything), measured in the same run.

    python -m bench.impact                     # 5,000 generated calls, 3 rounds
    python -m bench.impact --calls 20000 --workers 2 --json impact.json

Each command runs as its own process, as a user runs it, on the bench's generated calls
(bench/generate.py) with the bundled packs: once as shipped and once with one change, a
rule file edit of the kind a compliance officer makes. Two changes are timed: a phrase
list of the customer's acceptance (read by five consent rules and the sale judgement),
and a phrase list of one forbidden-phrasing matcher (read by one rule).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generate import write_calls

REPO = Path(__file__).resolve().parent.parent
CHANGES = {
    "acceptance phrases": ("zh-CN/matchers.yaml",
                           "phrases: [同意办理, 同意开通, 我同意, 同意的, 那就办,",
                           "phrases: [同意的, 那就办,"),
    "one forbidden phrase": ("zh-CN/forbidden.yaml", "帮帮我吧, ", ""),
}


def callaudit(*args: str) -> float:
    """Seconds one callaudit command takes, as its own process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"callaudit {' '.join(args)} failed:\n{done.stderr}")
    return seconds


def changed_rules(scratch: Path, name: str) -> Path:
    relative, old, new = CHANGES[name]
    target = scratch / name.replace(" ", "-")
    shutil.copytree(REPO / "rules", target)
    path = target / relative
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise SystemExit(f"{relative} no longer holds '{old}': update bench/impact.py")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.impact",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    options = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-impact-") as folder:
        scratch = Path(folder)
        calls = write_calls(scratch / "calls.jsonl", options.calls)
        shipped = scratch / "shipped"
        shutil.copytree(REPO / "rules", shipped)
        workers = ["--workers", str(options.workers)]
        for name in CHANGES:
            after = changed_rules(scratch, name)
            rows: dict[str, list[float]] = {"one full audit": [], "rules impact": [],
                                            "rules impact --no-reuse": []}
            for _ in range(options.repeat):  # interleaved: each round sees the same machine
                out = scratch / "audit-out"
                shutil.rmtree(out, ignore_errors=True)
                rows["one full audit"].append(callaudit(
                    "--rules-root", str(after), "audit", str(calls), "--out", str(out),
                    "--no-ledger", *workers))
                impact = ["rules", "impact", str(calls), "--before", str(shipped),
                          "--after", str(after), "--format", "json", *workers]
                rows["rules impact"].append(callaudit(*impact))
                rows["rules impact --no-reuse"].append(callaudit(*impact, "--no-reuse"))
            medians = {row: statistics.median(times) for row, times in rows.items()}
            results.append({"change": name, "calls": options.calls,
                            "workers": options.workers, "seconds": rows, "median": medians})
            print(f"\n{name} ({options.calls:,} calls, {options.workers} worker(s), "
                  f"{options.repeat} round(s); median, min–max seconds)")
            for row, times in rows.items():
                print(f"  {row:<26} {medians[row]:7.2f}   {min(times):.2f}–{max(times):.2f}")
            full = medians["one full audit"]
            print(f"  impact / one full audit     {medians['rules impact'] / full:.2f}×")
            print(f"  impact / impact --no-reuse  "
                  f"{medians['rules impact'] / medians['rules impact --no-reuse']:.2f}×")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
