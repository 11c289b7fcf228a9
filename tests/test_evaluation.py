"""`callaudit eval`: scores computed from labels, every disagreement listed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main
from engine.evaluation import Score
from tests.test_cli import CALL, CLEAN, RULES, write_jsonl


def test_score_arithmetic():
    score = Score("consent", true_positives=3, false_positives=1, false_negatives=2)
    assert score.support == 5
    assert score.precision == 0.75 and score.recall == 0.6
    assert round(score.f1, 4) == round(2 * 0.75 * 0.6 / 1.35, 4)
    assert Score("x", 0, 0, 0).precision is None


def test_eval_prints_scores_misses_and_false_alarms(tmp_path):
    calls = write_jsonl(tmp_path / "calls.jsonl", CALL, CLEAN)
    labels = tmp_path / "calls.labels.jsonl"
    labels.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"call_id": "C-1", "violations": ["consent", "script", "opt_out"], "note": "嗯 不是同意"},
        {"call_id": "C-2", "violations": []},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                       str(labels), "--json", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    consent = next(line for line in lines if line.startswith("consent "))
    # Two calls, each resampled: consent found on every resample that holds C-1.
    assert consent.split() == ["consent", "1", "1", "0", "0", "1.00", "1.00", "1.00",
                               "1.00–1.00", "1.00–1.00", "1.00–1.00"]
    assert "MISS        C-1  opt_out" in result.output
    assert "FALSE ALARM C-1  identity  ← pitch-before-identity-check @ " in result.output
    assert "note: 嗯 不是同意" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    identity = next(s for s in report["scores"] if s["label"] == "identity")
    assert (identity["tp"], identity["fp"], identity["precision"]) == (0, 1, 0.0)


def test_eval_reports_bad_label_lines_and_unlabelled_calls(tmp_path):
    calls = write_jsonl(tmp_path / "calls.jsonl", CALL, CLEAN)
    labels = tmp_path / "l.labels.jsonl"
    labels.write_text('{"call_id": "C-1", "violations": ["consent"]}\n'
                      '{"call_id": "C-9", "violations": ["consnt"]}\nnot json\n',
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                       str(labels)])
    assert result.exit_code == 2
    assert "UNLABELLED  C-2" in result.output
    assert "l.labels.jsonl:2: unknown label(s) consnt" in result.output
    assert "l.labels.jsonl:3: broken JSON" in result.output


def test_optional_labels_are_neither_right_nor_wrong(tmp_path):
    calls = write_jsonl(tmp_path / "calls.jsonl", CALL, CLEAN)
    labels = tmp_path / "calls.labels.jsonl"
    labels.write_text("\n".join(json.dumps(x) for x in [
        {"call_id": "C-1", "violations": ["consent", "script", "opt_out"],
         "optional": ["identity"]},
        {"call_id": "C-2", "violations": []},
    ]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                       str(labels), "--rounds", "0"])
    assert result.exit_code == 0, result.output
    identity = next(line for line in result.output.splitlines()
                    if line.startswith("identity "))
    assert identity.split()[:5] == ["identity", "0", "0", "0", "0"]
    assert "FALSE ALARM C-1  identity" not in result.output


def test_a_label_both_violation_and_optional_is_refused(tmp_path):
    from engine.evaluation import read_labels
    path = tmp_path / "x.labels.jsonl"
    path.write_text('{"call_id": "C-1", "violations": ["consent"], "optional": ["consent"]}\n',
                    encoding="utf-8")
    labels, problems = read_labels([path])
    assert not labels
    assert problems[0].reason.startswith("consent is both a violation and optional")


def test_bootstrap_intervals_cover_the_point_estimate_and_narrow_with_more_calls():
    from engine.evaluation import EvalReport, Score, bootstrap_intervals
    from engine.rules.base import STANDARDS

    def report(repeat: int) -> EvalReport:
        # consent: 3 found right, 1 false alarm, 1 missed, 5 clean — per 10 calls.
        pattern = [(True, True)] * 3 + [(False, True), (True, False)] + [(False, False)] * 5
        outcomes = [{s: (pair if s == "consent" else (False, False)) for s in STANDARDS}
                    for pair in pattern * repeat]
        scores = [Score(s, 3 * repeat, repeat, repeat) if s == "consent" else Score(s, 0, 0, 0)
                  for s in STANDARDS]
        return EvalReport(scores, [], len(outcomes), outcomes=outcomes)

    small, large = bootstrap_intervals(report(1), 500), bootstrap_intervals(report(20), 500)
    for found in (small, large):
        f1 = found["consent"]["f1"]
        assert f1 is not None and f1.low <= 0.75 <= f1.high
        assert found["identity"]["recall"] is None  # nobody labelled identity
        assert found["macro"]["f1"] is not None
    assert (large["consent"]["f1"].high - large["consent"]["f1"].low
            < small["consent"]["f1"].high - small["consent"]["f1"].low)
    assert bootstrap_intervals(report(1), 500) == small  # seeded: the same every time


def test_service_conversations_read_as_sales_are_counted_with_an_interval(tmp_path):
    """Real helpdesk text: a conversation labelled "service" that gets any validity
    violation is a service call read as a sale, counted and named."""
    calls = write_jsonl(tmp_path / "calls.jsonl", CALL, CLEAN)
    labels = tmp_path / "calls.labels.jsonl"
    labels.write_text("\n".join(json.dumps(x) for x in [
        {"call_id": "C-1", "violations": [], "service": True},
        {"call_id": "C-2", "violations": [], "service": True},
    ]) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                       str(labels), "--rounds", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert ("plain service conversations given a validity violation: 1 of 2 (50.0%, "
            "95% interval 9.5%–90.5%)") in result.output
    assert "READ AS SALE C-1" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert (report["service_calls"], report["service_flagged"]) == (2, ["C-1"])


def test_a_service_flag_that_is_not_true_or_false_is_refused(tmp_path):
    from engine.evaluation import read_labels
    path = tmp_path / "x.labels.jsonl"
    path.write_text('{"call_id": "C-1", "violations": [], "service": "yes"}\n', encoding="utf-8")
    labels, problems = read_labels([path])
    assert not labels and problems[0].reason == "'service' must be true or false"


def test_wilson_interval_is_sound_at_zero_and_at_all():
    from engine.evaluation import wilson
    low, high = wilson(0, 383)
    assert low == 0.0 and 0.009 < high < 0.011
    low, high = wilson(10, 10)
    assert high > 0.999999 and 0.68 < low < 0.73
