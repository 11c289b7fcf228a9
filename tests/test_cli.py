"""The commands end to end, as a QA analyst or compliance officer runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import REPO

# A small fixed pack, so these tests follow the commands, not the bundled packs' tuning.
RULES = str(REPO / "tests" / "fixtures" / "rules")

CALL = {
    "call_id": "C-1",
    "call_type": "sale",
    "agent_id": "A01",
    "customer_phone": "13800138000",
    "started_at": "2026-11-23T10:00:00+08:00",
    "language": "zh",
    "product": {"code": "TV30", "name": "视频会员", "monthly_fee": 10, "currency": "CNY",
                "trial_days": 30},
    "turns": [
        {"speaker": "agent", "text": "您好，给您推荐一款视频会员", "start": 0, "end": 4},
        {"speaker": "customer", "text": "嗯", "start": 4, "end": 5},
        {"speaker": "agent", "text": "每月只要五块钱，绝对免费体验，我的电话是13912345678",
         "start": 65, "end": 72},
        {"speaker": "agent", "text": "好的，已经为您开通了", "start": 72, "end": 75},
    ],
}
CLEAN = {**CALL, "call_id": "C-2", "turns": [
    {"speaker": "agent", "text": "您好，请问您是机主本人吗？", "start": 0, "end": 3},
    {"speaker": "customer", "text": "不需要，谢谢", "start": 3, "end": 5},
]}


def run(*args: str):
    return CliRunner().invoke(main, ["--rules-root", RULES, *args], catch_exceptions=False)


def write_jsonl(path: Path, *records: object, raw: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_check_prints_findings_with_quoted_evidence_and_time(tmp_path):
    result = run("check", str(write_jsonl(tmp_path / "c.jsonl", CALL)))
    assert result.exit_code == 0
    out = result.output
    assert out.splitlines()[0] == ("call C-1 · sale · agent A01 · 138****8000 · "
                                   "2026-11-23T10:00+08:00 · rules zh-CN-fixture@0.1.0")
    assert "verdict: INVALID (identity, script, consent, forbidden_phrase)" in out
    assert "fee-not-stated" not in out
    assert "CRITICAL  consent  activation-without-explicit-consent" in out
    assert "[01:12] agent #4: 好的，⟦已经为您开通⟧了" in out
    assert "stated 5 a month; the product's fee is 10" in out
    assert "13912345678" not in out and "139****5678" in out
    assert "rule: tests/fixtures/rules/zh-CN/consent.yaml:2:5" in out


def test_check_picks_the_named_call_and_says_when_missing(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CALL, CLEAN)
    picked = run("check", str(path), "--call-id", "C-2")
    assert picked.exit_code == 0
    assert picked.output.splitlines()[1] == "verdict: NO SALE (validity does not apply)"
    missing = run("check", str(path), "--call-id", "NOPE")
    assert missing.exit_code == 2
    assert "found no call 'NOPE' to check" in missing.output


def test_audit_writes_verdicts_findings_rejects_and_summary(tmp_path):
    good = write_jsonl(tmp_path / "in" / "night.jsonl", CALL, CLEAN,
                       raw=('{"call_id": "C-3", "turns": [', '{"call_id": "C-4", "call_type":'
                            ' "sale", "language": "zh", "turns": [{"speaker": "boss", '
                            '"text": "x"}]}'))
    out = tmp_path / "out"
    result = run("audit", str(good.parent), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "audited 2 calls: 1 invalid, 0 valid, 1 without a sale; " in result.output
    assert "2 rejected" in result.output
    verdicts = [orjson.loads(x) for x in (out / "verdicts.jsonl").read_bytes().splitlines()]
    assert [(v["call_id"], v["valid"]) for v in verdicts] == [("C-1", False), ("C-2", None)]
    first = verdicts[0]
    assert first["schema"] == "callaudit.verdict/1"
    assert first["violations"] == ["identity", "script", "consent", "forbidden_phrase"]
    assert first["signals"] == []
    assert first["rule_pack"] == "zh-CN-fixture@0.1.0"
    assert first["rule_pack_hash"].startswith("sha256:")
    assert first["customer_phone"] == "138****8000"
    findings = [orjson.loads(x) for x in (out / "findings.jsonl").read_bytes().splitlines()]
    fee = next(f for f in findings if f["rule_id"] == "fee-misstated")
    assert fee["evidence"][0]["quote"] == "每月只要五块钱"
    assert fee["evidence"][0]["start"] == 65
    assert "139****5678" in fee["evidence"][0]["text"]
    assert len({f["fingerprint"] for f in findings}) == len(findings)
    rejects = [orjson.loads(x) for x in (out / "rejects.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reason"][:11]) for r in rejects] == [(3, "broken JSON"),
                                                                 (4, "turn 0 has ")]
    assert rejects[1]["call_id"] == "C-4" and "unknown speaker 'boss'" in rejects[1]["reason"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["calls"] == 2 and summary["rejected"] == 2


def test_audit_is_repeatable(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CALL, CLEAN)
    run("audit", str(path), "--out", str(tmp_path / "a"))
    run("audit", str(path), "--out", str(tmp_path / "b"))
    for name in ("verdicts.jsonl", "findings.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_fail_on_and_strict_exit_codes(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CALL, raw=("not json",))
    assert run("audit", str(path), "--out", str(tmp_path / "o")).exit_code == 0
    assert run("audit", str(path), "--out", str(tmp_path / "o"), "--fail-on", "critical"
               ).exit_code == 1
    clean = write_jsonl(tmp_path / "clean.jsonl", CLEAN)
    assert run("audit", str(clean), "--out", str(tmp_path / "o"), "--fail-on", "minor"
               ).exit_code == 0
    strict = run("audit", str(path), "--out", str(tmp_path / "o"), "--strict")
    assert strict.exit_code == 3
    assert "c.jsonl:2: broken JSON" in strict.output


def test_duplicate_call_ids_are_rejected_not_double_counted(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CALL, CALL)
    result = run("audit", str(path), "--out", str(tmp_path / "o"))
    assert "audited 1 call:" in result.output
    rejects = (tmp_path / "o" / "rejects.jsonl").read_text(encoding="utf-8")
    assert "call_id 'C-1' was already audited in this run" in rejects


def test_missing_input_is_listed_and_the_rest_goes_on(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", CLEAN)
    result = run("audit", str(path), str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0
    assert "audited 1 call" in result.output
    assert "no such file or folder" in (tmp_path / "o" / "rejects.jsonl").read_text()


def test_rules_check_and_test_pass_on_bundled_packs():
    bundled = ["--rules-root", str(REPO / "rules")]
    checked = CliRunner().invoke(main, [*bundled, "rules", "check"])
    assert checked.exit_code == 0, checked.output
    assert "rules/zh-CN: ok — zh-CN-telecom@" in checked.output
    assert "0 warning(s)" in checked.output
    tested = CliRunner().invoke(main, [*bundled, "rules", "test"])
    assert tested.exit_code == 0, tested.output
    assert "rules/en-US: ok" in tested.output and "rules/zh-CN: ok" in tested.output


def test_rules_check_reports_errors_with_exit_2(tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(Path(RULES) / "zh-CN", pack)
    text = (pack / "consent.yaml").read_text(encoding="utf-8")
    (pack / "consent.yaml").write_text(text.replace("severity: critical", "severity: urgent"),
                                       encoding="utf-8")
    result = run("rules", "check", str(pack))
    assert result.exit_code == 2
    assert "consent.yaml:5:15: error: severity 'urgent' is not one of the allowed values" in \
        result.output
    assert "help: allowed values: critical, info, major, minor" in result.output


def test_rules_test_names_the_failing_rule_and_example(tmp_path):
    pack = tmp_path / "pack"
    shutil.copytree(Path(RULES) / "zh-CN", pack)
    text = (pack / "forbidden.yaml").read_text(encoding="utf-8")
    (pack / "forbidden.yaml").write_text(text.replace("- agent: 您放心，这个是绝对免费的",
                                                      "- agent: 您放心，这个是免费的"),
                                         encoding="utf-8")
    result = run("rules", "test", str(pack))
    assert result.exit_code == 1
    assert "false-promise: violating example 1 did not trigger the rule" in result.output


def test_audit_with_a_broken_pack_stops_before_writing(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: x\n", encoding="utf-8")
    result = run("audit", str(write_jsonl(tmp_path / "c.jsonl", CLEAN)), "--out",
                 str(tmp_path / "o"), "--rules", str(pack))
    assert result.exit_code == 2
    assert "pack.yaml is missing 'version'" in result.output
    assert not (tmp_path / "o").exists()


def test_internal_error_is_reported_as_a_bug_not_a_traceback(tmp_path, monkeypatch, capsys):
    import cli
    import engine.batch

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.batch, "audit_call", explode)
    monkeypatch.setattr("sys.argv", ["callaudit", "--rules-root", RULES, "audit",
                                     str(write_jsonl(tmp_path / "c.jsonl", CLEAN)),
                                     "--out", str(tmp_path / "o")])
    monkeypatch.delenv("CALLAUDIT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:  # run() must exit, and with the bug's code
        cli.run()
    assert exit_.value.code == 4
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err
    assert not list((tmp_path / "o").glob(".*partial"))


def test_a_call_whose_language_has_no_pack_is_rejected_and_the_rest_audited(tmp_path):
    root = tmp_path / "rules"
    shutil.copytree(Path(RULES) / "zh-CN", root / "zh-CN")
    english = {**CLEAN, "call_id": "E-1", "language": "en"}
    path = write_jsonl(tmp_path / "c.jsonl", CLEAN, english)
    result = CliRunner().invoke(main, ["--rules-root", str(root), "audit", str(path), "--out",
                                       str(tmp_path / "o"), "--no-ledger"])
    assert result.exit_code == 0
    assert "audited 1 call" in result.output
    rejects = (tmp_path / "o" / "rejects.jsonl").read_text(encoding="utf-8")
    assert "no rule pack for language 'en'" in rejects


def test_output_folder_inside_the_input_is_refused(tmp_path):
    write_jsonl(tmp_path / "c.jsonl", CLEAN)
    result = run("audit", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "is inside the input folder" in result.output


def test_commands_start_without_the_heavy_libraries():
    """Every command pays for what `cli` imports; the libraries only some commands need
    (numpy, pandas, durable-rules, Dask, speech, pinyin) are imported when used."""
    import subprocess
    import sys

    heavy = ["numpy", "pandas", "durable", "distributed", "speech_recognition", "pypinyin",
             "openpyxl"]
    shown = subprocess.run(
        [sys.executable, "-c", "import sys, cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout.split()
    assert [name for name in heavy if name in shown] == []
