"""Verdicts know their rules: nights audited under one version of the rules, the rules
edited (a phrase, the version bumped), `nightly --reaudit` over some of the nights. The
history says what each call's re-audit changed, the lines printed tell the flips, the
versions view and the reports show which rules judged each night, and nothing is written
when the rules did not change."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from engine.actions.ledger import Ledger
from engine.nightly.run import night_lock
from engine.nightly.versions import PackVersion, current_packs, night_versions
from engine.rules.pack import load_pack, pack_identity
from tests.conftest import REPO, write_pack
from tests.test_manager_loop import DONE, HOLDER, PITCH, YES, flaw, say

D1, D2, EMPTY, D3, D4 = "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"
NIGHTS = (D1, D2, D3, D4)  # EMPTY has no transcripts


def call(call_id: str, day: str, phone: str, answer: str) -> dict:
    return {"call_id": call_id, "call_type": "sale", "agent_id": "A7", "customer_phone": phone,
            "started_at": f"{day}T10:00:00+08:00", "language": "zh",
            "product": {"code": "TV", "name": "视频会员", "monthly_fee": 10},
            "turns": [{**t, "start": i * 5.0, "end": i * 5.0 + 4} for i, t in
                      enumerate([HOLDER, YES, PITCH, say("customer", answer), DONE])]}


def night_calls(day: str) -> dict[str, list[dict]]:
    """A night's transcripts, in two files. Under the bundled rules a plain "好的" is
    consent and "知道了" is not; the edited rules (`flaw`) hold the opposite."""
    tag = day[-2:]
    return {
        "a.jsonl": [call(f"FP-{tag}", day, f"138{tag}000011", "好的"),      # valid → invalid
                    call(f"MISS-{tag}", day, f"138{tag}000012", "知道了")],  # invalid → valid
        "b.jsonl": [call(f"OK-{tag}", day, f"138{tag}000013", "好的，那就开通吧")],  # valid
    }


def nightly(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["nightly", *args, "--config", str(ws / "callaudit.yaml")])


def versions(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["report", "versions", *args, "--config",
                                     str(ws / "callaudit.yaml")])


def query(ws: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(ws / "callaudit-ledger.db") as conn:
        return conn.execute(sql, args).fetchall()


def reaudit_rows(ws: Path, kind: str) -> dict[str, tuple[str, dict]]:
    return {ref: (who, json.loads(detail)) for ref, who, detail in query(
        ws, "SELECT ref, who, detail FROM history WHERE kind = ? AND event = 're-audited' "
            "ORDER BY id", kind)}


def edit_rules(ws: Path) -> None:
    """The officers' edit: the consent phrases changed, and the version bumped."""
    flaw(ws / "rules")
    pack = ws / "rules" / "zh-CN" / "pack.yaml"
    text = pack.read_text(encoding="utf-8")
    assert "version: 2.0.0" in text
    pack.write_text(text.replace("version: 2.0.0", "version: 2.1.0"), encoding="utf-8")


def workspace(root: Path) -> Path:
    """A workspace (`callaudit init`) whose four nights were audited with the bundled rules."""
    root.mkdir()
    for day in NIGHTS:
        folder = root / "transcripts" / day
        folder.mkdir(parents=True)
        for name, calls in night_calls(day).items():
            (folder / name).write_text("".join(json.dumps(c, ensure_ascii=False) + "\n"
                                               for c in calls), encoding="utf-8")
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    for day in NIGHTS:
        result = nightly(root, "--date", day)
        assert result.exit_code == 0, result.output
    return root


OLD = pack_identity(REPO / "rules" / "zh-CN")


@pytest.fixture(scope="module")
def reaudited(tmp_path_factory) -> tuple[Path, Result]:
    """The nights D1..D3 re-audited under the edited rules; D4 left as it was."""
    ws = workspace(tmp_path_factory.mktemp("reaudit") / "centre")
    edit_rules(ws)
    result = nightly(ws, "--reaudit", f"{D1}..{D3}")
    return ws, result


def test_the_bundled_rules_judged_the_nights_as_the_test_expects(tmp_path):
    ws = workspace(tmp_path / "centre")
    valid = dict(query(ws, "SELECT call_id, valid FROM calls WHERE call_id LIKE '%-20'"))
    assert valid == {"FP-20": 1, "MISS-20": 0, "OK-20": 1}
    assert set(query(ws, "SELECT rule_pack, rule_pack_hash FROM calls")) == {OLD}
    # A plain re-run with the rules unchanged re-audits nothing and writes no re-audit.
    before = query(ws, "SELECT COUNT(*) FROM history")
    result = nightly(ws, "--date", D1)
    assert result.exit_code == 0, result.output
    assert "3 already in the ledger unchanged" in result.output
    assert "re-audited" not in result.output
    assert query(ws, "SELECT COUNT(*) FROM history WHERE event = 're-audited'") == [(0,)]
    assert query(ws, "SELECT COUNT(*) FROM history") == before
    page = (ws / "reports" / D1 / "report.html").read_text(encoding="utf-8")
    assert f"{OLD[0]} ({OLD[1][7:19]}), 3 calls — current rules" in page
    assert "re-audited" not in page


def test_each_reaudited_call_has_its_change_in_the_history(reaudited):
    ws, result = reaudited
    assert result.exit_code == 0, result.output
    new = pack_identity(ws / "rules" / "zh-CN")
    assert new[0] == "zh-CN-telecom@2.1.0" and new[1] != OLD[1]
    calls = reaudit_rows(ws, "call")
    assert sorted(calls) == sorted(f"{kind}-{day[-2:]}" for kind in ("FP", "MISS", "OK")
                                   for day in (D1, D2, D3))
    who, fp = calls["FP-20"]
    assert who == "audit"
    assert fp == {"changed": ["rules"],
                  "pack": {"before": OLD[0], "after": new[0]},
                  "pack_hash": {"before": OLD[1], "after": new[1]},
                  "valid": {"before": True, "after": False},
                  "violations": {"before": [], "after": ["consent"]},
                  "findings_added": 1, "findings_superseded": 0}
    miss = calls["MISS-21"][1]
    assert (miss["valid"], miss["violations"]) == ({"before": False, "after": True},
                                                   {"before": ["consent"], "after": []})
    assert (miss["findings_added"], miss["findings_superseded"]) == (0, 1)
    assert calls["OK-23"][1]["valid"] == {"before": True, "after": True}
    # The ledger's verdicts follow, and the night not re-audited keeps its own.
    assert dict(query(ws, "SELECT call_id, valid FROM calls WHERE call_id LIKE '%-23'")) == {
        "FP-23": 0, "MISS-23": 1, "OK-23": 1}
    assert dict(query(ws, "SELECT call_id, rule_pack FROM calls WHERE call_id LIKE '%-24'")) \
        == {f"{kind}-24": OLD[0] for kind in ("FP", "MISS", "OK")}


def test_each_reaudited_night_has_a_row_by_nightly_reaudit(reaudited):
    ws, _ = reaudited
    nights = reaudit_rows(ws, "night")
    assert sorted(nights) == [D1, D2, D3]  # not the night without transcripts, nor D4
    who, detail = nights[D2]
    assert who == "nightly --reaudit"
    new = pack_identity(ws / "rules" / "zh-CN")
    assert detail == {
        "calls": 3, "re_audited": 3, "unchanged": 0, "new": 0,
        "valid_to_invalid": 1, "invalid_to_valid": 1, "other_verdict_changes": 0,
        "findings_added": 1, "findings_superseded": 1,
        "packs_before": [{"pack": OLD[0], "hash": OLD[1], "calls": 3}],
        "packs_after": [{"pack": new[0], "hash": new[1], "calls": 3}]}


def test_the_engine_gives_each_nights_versions_for_other_commands(reaudited):
    ws, _ = reaudited
    current = current_packs(ws / "rules")
    assert [p.label for p in current] == ["en-US-telecom@2.0.0", "zh-CN-telecom@2.1.0"]
    with Ledger(ws / "callaudit-ledger.db") as ledger:
        first, last = date.fromisoformat(D1), date.fromisoformat(D4)
        nights = night_versions(ledger, first, last, current)
        unknown = night_versions(ledger, last, last)  # no current rules given: not compared
    assert [n.night.isoformat() for n in nights] == [D1, D2, D3, D4]
    assert [(bool(n.outdated), bool(n.mixed), n.calls) for n in nights] == [
        (False, False, 3), (False, False, 3), (False, False, 3), (True, False, 3)]
    assert nights[3].uses[0].version == PackVersion(*OLD)
    assert unknown[0].uses[0].current is None and unknown[0].warnings() == []


def test_a_line_per_night_tells_its_flips_and_the_last_line_the_total(reaudited):
    ws, result = reaudited
    new = pack_identity(ws / "rules" / "zh-CN")
    lines = result.output.splitlines()
    change = (f"re-audited 3 of 3 call(s), 0 unchanged; 1 valid→invalid, 1 invalid→valid; "
              f"{OLD[0]} ({OLD[1][7:19]}) → {new[0]} ({new[1][7:19]})")
    assert lines == [f"{D1}: {change}", f"{D2}: {change}",
                     f"no transcripts for {EMPTY}: skipped", f"{D3}: {change}",
                     f"re-audit {D1}..{D3}: 3 night(s) re-audited, 1 skipped (no "
                     "transcripts), 0 failed; 9 call(s) re-audited, 0 unchanged; "
                     "3 valid→invalid, 3 invalid→valid"]
    log = (ws / "reports" / "latest.log").read_text(encoding="utf-8").splitlines()
    assert log[0].startswith(f"callaudit nightly --reaudit {D1}..{D3} (")
    assert log[1:] == lines


def test_the_versions_view_shows_which_rules_judged_each_night(reaudited):
    ws, _ = reaudited
    new = pack_identity(ws / "rules" / "zh-CN")
    result = versions(ws, "--from", D1, "--to", D4)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()
            if line[:4] == "2026"}
    assert rows[D1] == [D1, "3", new[0], new[1][7:19], "3", "yes"]
    assert rows[D3] == [D3, "3", new[0], new[1][7:19], "3", "yes"]
    assert rows[D4] == [D4, "3", OLD[0], OLD[1][7:19], "3", "NO"]  # not re-audited
    assert EMPTY not in rows
    assert "1 warning(s):" in result.output
    assert (f"{D4}: 3 calls audited under {OLD[0]} ({OLD[1][7:19]}), not the current rules "
            f"(zh-CN-telecom@2.1.0 ({new[1][7:19]})); `callaudit nightly --reaudit "
            f"{D4}..{D4}` re-audits them") in result.output

    document = json.loads(versions(ws, "--from", D3, "--to", D4, "--format", "json").output)
    assert document["schema"] == "callaudit.versions/1"
    assert {"pack": new[0], "hash": new[1]} in document["current"]
    assert [(n["night"], n["outdated"], n["mixed"], n["packs"]) for n in document["nights"]] == [
        (D3, False, False, [{"pack": new[0], "hash": new[1], "calls": 3, "current": True}]),
        (D4, True, False, [{"pack": OLD[0], "hash": OLD[1], "calls": 3, "current": False}])]


def test_a_reaudited_nights_report_says_so_and_under_which_rules(reaudited):
    ws, _ = reaudited
    new = pack_identity(ws / "rules" / "zh-CN")
    folder = ws / "reports" / D2
    page = (folder / "report.html").read_text(encoding="utf-8")
    (at,) = query(ws, "SELECT at FROM history WHERE kind = 'night' AND ref = ?", D2)[0]
    assert (f'<p class="muted">re-audited {at} by nightly --reaudit under {new[0]} '
            f"({new[1][7:19]})</p>") in page
    assert f"<li>{new[0]} ({new[1][7:19]}), 3 calls — current rules</li>" in page
    assert (f"before: {OLD[0]} ({OLD[1][7:19]}); 3 of 3 call(s) re-audited, 1 valid→invalid, "
            "1 invalid→valid") in page
    assert '<div class="kpi"><b>1</b>invalid</div>' in page  # FP now, no longer MISS
    assert "13821000011" not in page  # numbers still masked
    table = (folder / "tables" / "rule_packs.csv").read_text(encoding="utf-8-sig")
    assert table.splitlines() == ["pack,hash,calls,current", f"{new[0]},{new[1]},3,True"]
    # D4 was not re-audited: its report is the one written under the old rules.
    assert "re-audited" not in (ws / "reports" / D4 / "report.html").read_text(encoding="utf-8")


def test_re_running_the_reaudit_changes_nothing_more(reaudited, tmp_path):
    ws, _ = reaudited
    rows = query(ws, "SELECT COUNT(*) FROM history WHERE kind = 'call'")
    result = nightly(ws, "--reaudit", f"{D1}..{D1}")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(
        f"{D1}: re-audited 0 of 3 call(s), 3 unchanged; 0 valid→invalid, 0 invalid→valid; "
        "under zh-CN-telecom@2.1.0")
    assert query(ws, "SELECT COUNT(*) FROM history WHERE kind = 'call'") == rows
    # Asked for, so the night's row is written all the same, saying nothing changed.
    detail = json.loads(query(ws, "SELECT detail FROM history WHERE kind = 'night' AND ref = ? "
                                  "ORDER BY id DESC", D1)[0][0])
    assert (detail["re_audited"], detail["unchanged"]) == (0, 3)


def test_a_plain_rerun_under_edited_rules_is_recorded_too(tmp_path):
    ws = workspace(tmp_path / "centre")
    edit_rules(ws)
    result = nightly(ws, "--date", D1)
    assert result.exit_code == 0, result.output
    assert f"{D1}: re-audited 3 of 3 call(s), 0 unchanged; 1 valid→invalid" in result.output
    assert sorted(reaudit_rows(ws, "call")) == ["FP-20", "MISS-20", "OK-20"]
    assert {ref: who for ref, (who, _) in reaudit_rows(ws, "night").items()} == {D1: "nightly"}


def test_a_night_partly_audited_under_new_rules_is_flagged_mixed(tmp_path):
    ws = workspace(tmp_path / "centre")
    edit_rules(ws)
    new = pack_identity(ws / "rules" / "zh-CN")
    # Only one of the night's files is audited again (a resumed export, say).
    result = nightly(ws, "--date", D1, str(ws / "transcripts" / D1 / "b.jsonl"))
    assert result.exit_code == 0, result.output
    text = versions(ws, "--from", D1, "--to", D1)
    assert (f"{D1}: mixed: zh-CN-telecom judged this night's calls under 2 versions "
            f"({OLD[0]} ({OLD[1][7:19]}), 2 calls; {new[0]} ({new[1][7:19]}), 1 call)"
            ) in text.output
    assert f"{D1}: 2 calls audited under {OLD[0]} ({OLD[1][7:19]}), not the current rules" \
        in text.output
    page = (ws / "reports" / D1 / "report.html").read_text(encoding="utf-8")
    assert '<p class="warning">⚠ 2026-11-20: mixed: zh-CN-telecom judged' in page
    assert '— <span class="warning">not the current rules</span>' in page


def test_the_same_version_with_other_rules_is_told_to_bump_it(tmp_path):
    ws = workspace(tmp_path / "centre")
    flaw(ws / "rules")  # edited, version not bumped
    result = nightly(ws, "--date", D1, str(ws / "transcripts" / D1 / "b.jsonl"))
    assert result.exit_code == 0, result.output
    text = versions(ws, "--from", D1, "--to", D1).output
    assert f"{D1}: mixed: zh-CN-telecom judged this night's calls under 2 versions" in text
    assert "the same version number with different rules: bump `version:`" in text


def test_a_pack_the_night_does_not_use_cannot_stop_its_report(tmp_path):
    ws = workspace(tmp_path / "centre")
    edit_rules(ws)
    (ws / "rules" / "en-US" / "pack.yaml").write_bytes(b"name: \xff\xfe\n")  # not UTF-8
    result = nightly(ws, "--reaudit", f"{D1}..{D1}")
    assert result.exit_code == 0, result.output
    page = (ws / "reports" / D1 / "report.html").read_text(encoding="utf-8")
    new = pack_identity(ws / "rules" / "zh-CN")
    assert f"<li>{new[0]} ({new[1][7:19]}), 3 calls</li>" in page  # not compared
    result = versions(ws, "--from", D1, "--to", D1)
    assert result.exit_code == 2 and "rules/en-US/pack.yaml" in result.output
    assert "Traceback" not in result.output


def test_a_failed_night_does_not_stop_the_others_and_sets_the_exit_code(tmp_path):
    ws = workspace(tmp_path / "centre")
    edit_rules(ws)
    (ws / "reports" / D2 / "verdicts.jsonl").write_text("someone else's file\n")
    result = nightly(ws, "--reaudit", f"{D1}..{D3}")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"error: {D2}: " in result.output and "verdicts.jsonl" in result.output
    assert (f"re-audit {D1}..{D3}: 2 night(s) re-audited, 1 skipped (no transcripts), "
            "1 failed") in result.output
    assert f"error: 1 night(s) failed: {D2} (see above)" in result.output
    assert sorted(reaudit_rows(ws, "night")) == [D1, D3]


def test_a_cause_every_night_shares_stops_the_range_and_names_the_rest(tmp_path):
    ws = workspace(tmp_path / "centre")
    edit_rules(ws)
    with night_lock(ws / "reports"):  # another nightly run is going
        result = nightly(ws, "--reaudit", f"{D1}..{D3}")
    assert result.exit_code == 2
    assert f"error: {D1}: another nightly run is going" in result.output
    assert (f"the re-audit stopped at {D1}: nights {D1}..{D3} were not re-audited; put that "
            f"right, then run `callaudit nightly --reaudit {D1}..{D3}`") in result.output
    assert "Traceback" not in result.output
    assert reaudit_rows(ws, "call") == {}
    (ws / "rules" / "zh-CN" / "consent.yaml").write_text("rules: [\n", encoding="utf-8")
    result = nightly(ws, "--reaudit", f"{D1}..{D3}")
    assert result.exit_code == 2
    assert (f"error: the re-audit stopped at {D1}: a rule file does not compile (below); fix "
            f"it, then run `callaudit nightly --reaudit {D1}..{D3}`") in result.output
    assert "consent.yaml:" in result.output and "Traceback" not in result.output
    assert reaudit_rows(ws, "night") == {}


def test_a_range_without_any_transcripts_exits_as_an_empty_night(tmp_path):
    ws = workspace(tmp_path / "centre")
    result = nightly(ws, "--reaudit", f"{EMPTY}..{EMPTY}")
    assert result.exit_code == 6
    assert f"no transcripts for {EMPTY}: skipped" in result.output
    assert f"warning: no transcripts for any night of {EMPTY}..{EMPTY}" in result.output


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --date YYYY-MM-DD (one night) or --reaudit FROM..TO"),
    (["--date", D1, "--reaudit", f"{D1}..{D2}"], "not both"),
    (["--reaudit", f"{D2}..{D1}"], f"{D2} is after {D1}; give the earlier date first"),
    (["--reaudit", "2026-11-31..2026-12-01"], "'2026-11-31' is not a date like 2026-11-23"),
    (["--reaudit", "1999-12-31..2000-01-02"], "1999-12-31 is outside the dates callaudit"),
    (["--reaudit", "2026-11"], "'2026-11' is not a date like"),
    (["--reaudit", f"{D1}.."], f"--reaudit '{D1}..' is not a range like"),
    (["--reaudit", "2026-01-01..2026-11-23"], "spans 327 nights; more than 92 at once needs "
                                              "--yes"),
    (["--reaudit", f"{D1}..{D2}", "x.jsonl"], "give no INPUTS"),
    (["--date", D1, "--yes"], "--yes goes with --reaudit"),
])
def test_bad_ranges_are_refused_with_a_clear_error(tmp_path, args, message):
    ws = tmp_path / "centre"
    assert CliRunner().invoke(main, ["init", str(ws)]).exit_code == 0
    (ws / "x.jsonl").write_text("")
    args = [str(ws / a) if a == "x.jsonl" else a for a in args]
    result = nightly(ws, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (ws / "callaudit-ledger.db").exists()  # nothing audited


def test_a_long_range_goes_ahead_with_yes(tmp_path):
    ws = workspace(tmp_path / "centre")
    result = nightly(ws, "--reaudit", "2026-08-20..2026-11-21", "--yes")
    assert result.exit_code == 0, result.output
    assert "re-audit 2026-08-20..2026-11-21: 2 night(s) re-audited, 92 skipped" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--from", D2, "--to", D1], f"--from {D2} is after --to {D1}"),
    (["--from", "2026-13-01", "--to", D1], "--from: '2026-13-01' is not a date"),
    (["--from", D1], "Missing option '--to'"),
])
def test_the_versions_view_refuses_bad_dates(tmp_path, args, message):
    ws = tmp_path / "centre"
    assert CliRunner().invoke(main, ["init", str(ws)]).exit_code == 0
    result = versions(ws, *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_pack_identity_is_the_compiled_packs(tmp_path):
    for folder in (REPO / "rules" / "zh-CN", REPO / "rules" / "en-US"):
        pack = load_pack(folder)
        assert pack_identity(folder) == (pack.label, pack.content_hash)
    # A catalogue shared from outside the pack folder is part of the pack's hash.
    (tmp_path / "products.yaml").write_text(
        "products:\n  - {code: TV, name: 视频会员, monthly_fee: 10}\n", encoding="utf-8")
    folder = write_pack(tmp_path / "pack", {"rules.yaml": "rules: []\n"},
                        header="catalogue: ../products.yaml\n")
    pack = load_pack(folder)
    assert pack_identity(folder) == (pack.label, pack.content_hash) == (
        "test-pack@1.0", pack.content_hash)
    before = pack.content_hash
    (tmp_path / "products.yaml").write_text(
        "products:\n  - {code: TV, name: 视频会员, monthly_fee: 12}\n", encoding="utf-8")
    assert pack_identity(folder)[1] == load_pack(folder).content_hash != before
