"""The benchmark's inputs and its baseline: deterministic calls, and a naive evaluator that
finds exactly what the engine finds (so the speed ratio compares equal work)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.generate import write_calls
from bench.naive import NaiveSearch
from engine.audit import PackChooser
from engine.model import Call
from engine.rules.matchers import regex_spans
from engine.transcripts import load_calls

REPO = Path(__file__).resolve().parent.parent


def test_the_generator_writes_the_same_bytes_for_the_same_size(tmp_path):
    first = write_calls(tmp_path / "a.jsonl", 50).read_bytes()
    second = write_calls(tmp_path / "b.jsonl", 50).read_bytes()
    assert first == second
    calls = [c for c in load_calls([str(tmp_path / "a.jsonl")]) if isinstance(c, Call)]
    assert len(calls) == 50
    assert all(20 <= len(c.turns) <= 40 for c in calls)
    assert {c.language for c in calls} == {"zh", "en"}


def test_the_naive_baseline_and_the_engine_find_the_same_hits(tmp_path):
    generated = write_calls(tmp_path / "calls.jsonl", 300)
    chooser = PackChooser(REPO / "rules")
    naive: dict[str, NaiveSearch] = {}
    compared = hits = 0
    # Every bundled transcript but the sealed ones (read only for their one final score).
    folders = [str(p) for p in sorted((REPO / "transcripts").iterdir())
               if p.is_dir() and not p.name.startswith("sealed")]
    calls = [c for c in load_calls([str(generated), *folders]) if isinstance(c, Call)]
    for _ in range(2):  # the second time, the engine remembers every turn
        for call in calls:
            pack = chooser.for_call(call)
            search = naive.setdefault(pack.name, NaiveSearch(pack.index))
            texts = [t.text for t in call.turns]
            speakers = [t.speaker for t in call.turns]
            product = call.product.name if call.product else None
            _, engine = pack.index.read_call(texts, speakers, product)
            assert pack.index.scan(pack.normalizer.normalize_call(texts), speakers,
                                   product) == engine, call.call_id
            alone = [pack.normalizer.normalize(t) for t in texts]
            assert search.scan(alone, speakers, product) == engine, call.call_id
            compared += 1
            hits += sum(len(h) for h in engine.values())
    assert compared > 800
    assert hits > 20_000


PATTERNS = ["[0-9]+(元|块)", "a*", "(?m)^不", "x|", "(退订|退定).{0,3}", "$",
            "\\b(no|not)\\b", "é+"]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("ab 12元块退订定不x\né中$")), max_size=30),
       st.sampled_from(PATTERNS))
def test_regex_spans_are_what_re2_finditer_gives(text: str, pattern: str):
    regex = re2.compile(pattern)
    expected = [m.span() for m in regex.finditer(text) if m.end() > m.start()]
    assert regex_spans(regex, text) == expected
    # The phrase index compiles its regexes without groups: the spans stay the same.
    options = re2.Options()
    options.never_capture = True
    assert regex_spans(re2.compile(pattern, options), text) == expected


def test_the_benchmark_command_prints_its_table_and_writes_json(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--calls", "120", "--naive-calls", "30",
         "--workers", "2", "--ledger", "--repeat", "2", "--json", str(tmp_path / "bench.json")],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    )
    for row in ("parse floor", "naive baseline", "engine, 1 worker", "engine, 2 workers",
                "engine, 1 worker, nothing remembered", "of turns were texts its packs",
                "engine / naive baseline", "parse floor / engine", "speed-up on 2 workers",
                "2 independent audits", "bare-loop ceiling on 2", "over 2 rounds",
                "medians of 2 rounds"):
        assert row in result.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["rows"]["engine, 1 worker"]["calls"] == 120
    assert 0 < report["rows"]["engine, 1 worker"]["turns_recalled"] < 1
    collector = report["rows"]["engine, 1 worker"]["collector_seconds"]
    assert 0 <= collector < report["rows"]["engine, 1 worker"]["seconds"]
    assert f"cycle collector ran {collector:.2f} s" in result.stdout
    assert report["rows"]["engine, 1 worker, nothing remembered"]["calls"] == 120
    assert "turns_recalled" not in report["rows"]["engine, 2 workers"]
    assert report["rows"]["naive baseline"]["calls"] == 30
    assert report["ratios"]["engine / naive baseline"] > 1
    assert report["rows"]["with a ledger, 2 workers"]["calls"] == 120
    # The ledger's one writer: its CPU a call, and the ceiling that puts on a night.
    writer = report["rows"]["with a ledger, 2 workers"]["writer_cpu_seconds"]
    assert 0 < writer < 2 * report["rows"]["with a ledger, 2 workers"]["seconds"]
    assert "writer_cpu_seconds" not in report["rows"]["with a ledger, 1 worker"]
    per_call = writer / 120
    assert (f"used {per_call * 1000:.2f} ms of CPU a call" in result.stdout
            and f"cannot pass about {1 / per_call:,.0f} calls/s" in result.stdout)
    assert len(report["rounds"]) == 2
    for measured in report["rounds"]:
        assert measured["apart"]["calls"] == 120  # the two halves audited apart add up
        assert measured["rows"]["engine, 1 worker"]["calls"] == 120
    # Each ratio reported is the median of the rounds' own ratios, its range theirs.
    for name in ("parse floor / engine", "engine / naive baseline", "speed-up on 2 workers"):
        per_round = sorted(measured["ratios"][name] for measured in report["rounds"])
        assert report["ratios"][name] == statistics.median(per_round), name
        assert report["ratio_ranges"][name] == [per_round[0], per_round[-1]], name


def _round(parse: float, naive: float, engine: float) -> dict:
    from bench.__main__ import ratios_of, with_speed

    def row(speed: float) -> dict:
        return {"calls": 100, "seconds": 100 / speed, "calls_per_second": speed,
                "peak_rss_mb": speed / 10}

    rows = {"parse floor": row(parse), "naive baseline": row(naive),
            "engine, 1 worker": row(engine), "engine, 1 worker, nothing remembered": row(engine),
            "engine, 2 workers": row(engine * 1.5)}
    spin = {"1": with_speed({"calls": 4, "seconds": 2.0}),
            "2": with_speed({"calls": 8, "seconds": 2.0})}
    apart = with_speed({"calls": 100, "seconds": 100 / (engine * 1.6)})
    return {"rows": rows, "apart": apart, "spin": spin, "ratios": ratios_of(rows, apart, spin, 2)}


def test_repeated_rounds_give_medians_and_ratios_taken_within_each_round():
    from bench.__main__ import summarise

    # Within each round the engine is 10x, 13x and 13.6x the baseline: the median ratio is
    # 13x. Medians taken row by row (engine 400, naive 40) would mix rounds and say 10x.
    rounds = [_round(4000, 40, 400), _round(2600, 20, 260), _round(6000, 44, 600)]
    rows, ratios, ranges = summarise(rounds)
    assert rows["engine, 1 worker"]["calls_per_second"] == 400
    assert (rows["engine, 1 worker"]["lowest"], rows["engine, 1 worker"]["highest"]) == (260, 600)
    assert rows["engine, 1 worker"]["peak_rss_mb"] == 60  # the highest of the rounds
    assert rows["naive baseline"]["seconds"] == 100 / 40
    assert ratios["engine / naive baseline"] == 13
    assert ranges["engine / naive baseline"] == [10, 600 / 44]
    assert ratios["parse floor / engine"] == 10
    assert ratios["speed-up on 2 workers"] == 1.5
    assert ratios["bare-loop ceiling on 2"] == 2
    # One round alone is its own median.
    rows, ratios, _ = summarise(rounds[1:2])
    assert rows["parse floor"]["calls_per_second"] == 2600
    assert ratios["engine / naive baseline"] == 13


def test_instruction_counts_are_read_from_callgrind_and_a_missing_count_says_so():
    from bench.instructions import collected

    assert collected("==1== Events    : Ir\n==1== Collected : 2052120893\n==1==\n") == \
        2052120893
    with pytest.raises(ValueError, match="no 'Collected' line"):
        collected("==1== valgrind: failed to start tool 'callgrind'\n")


def test_each_counted_stage_runs_on_real_calls_and_on_none(tmp_path, monkeypatch):
    """What callgrind counts, run here without it: each stage does its work on exactly N
    calls, and on none when N is 0 (the start-up run the count subtracts)."""
    import engine.audit
    import engine.batch
    import engine.transcripts
    from bench.instructions import run_stage

    path = write_calls(tmp_path / "calls.jsonl", 6)
    done: dict[str, int] = {}
    audit_call, run_batch = engine.audit.audit_call, engine.batch.run_batch
    load_calls = engine.transcripts.load_calls

    def audited(*args, **kwargs):
        done["audit"] += 1
        return audit_call(*args, **kwargs)

    def batched(*args, **kwargs):
        summary = run_batch(*args, **kwargs)
        done["batch"] += summary.calls
        return summary

    def parsed(*args, **kwargs):
        for item in load_calls(*args, **kwargs):
            done["parse"] += isinstance(item, Call)  # an empty file is one reject
            yield item

    monkeypatch.setattr(engine.audit, "audit_call", audited)
    monkeypatch.setattr(engine.batch, "run_batch", batched)
    monkeypatch.setattr(engine.transcripts, "load_calls", parsed)
    for stage in ("audit", "batch", "parse"):
        for number in (6, 0):
            done.update(audit=0, batch=0, parse=0)
            run_stage(stage, str(path), number)
            assert done[stage] == number, (stage, number, done)
    # The command valgrind runs: the same stage as a child process, quietly.
    child = subprocess.run([sys.executable, "-m", "bench.instructions", "--child", "audit",
                            str(path), "6"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert (child.returncode, child.stdout, child.stderr) == (0, "", "")


def test_counting_instructions_without_valgrind_says_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bench.instructions", "--calls", "5"],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={"PATH": str(tmp_path)})
    assert result.returncode == 1
    assert "valgrind is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_baseline_commit_is_unpacked_whole_and_a_bad_one_is_named(tmp_path):
    from bench.__main__ import baseline_tree

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    tree = baseline_tree("HEAD", tmp_path / "a")
    assert (tree / "engine" / "audit.py").is_file()
    assert (tree / "rules" / "zh-CN" / "pack.yaml").is_file()
    with pytest.raises(SystemExit, match="--baseline no-such-rev: not a commit"):
        baseline_tree("no-such-rev", tmp_path / "b")
