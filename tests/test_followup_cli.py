"""The follow-up commands end to end, as an outbound manager runs them on the ledger."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.actions.ledger import Ledger

T0 = "2026-11-23T02:00:00+00:00"

# The numbers as the ledger stores them (normalised) and as people write them.
P_CALLBACK1 = "+8613800138000"  # callback 1, blacklist 1 (pending)
P_CALLBACK2 = "+8613912345678"
P_DNC = "+8618600000001"
P_PENDING2 = "+8615000000002"
P_APPROVED = "+8615000000003"
P_REJECTED = "+8615000000004"

EVIDENCE_1 = [
    {"quote": "我要去工信部投诉你们", "text": "再打来我要去工信部投诉你们", "start": 65.2,
     "turn": 5},
    {"quote": "12315", "text": "我打12315", "start": 130.0, "turn": 9},
]
EVIDENCE_2 = [{"quote": "I will call the media", "text": "I will call the media",
               "start": 12.0, "turn": 3}]


def _insert(ledger: Ledger, table: str, **row: object) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" * len(row))
    ledger.db.execute(f"INSERT INTO {table}({names}) VALUES ({marks})", tuple(row.values()))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    ledger = Ledger(path)
    with ledger.transaction():
        for cid, call, phone, agent, sev, reasons, points, due, status in (
            (1, "C-1", P_CALLBACK1, "A01", "critical", ["consent", "identity"],
             ["开通前没有明确同意", "没有核实机主身份"], "2026-11-24", "open"),
            (2, "C-2", P_CALLBACK2, "A02", "major", ["script"], ["没有说明资费"],
             "2026-11-26", "open"),
            (3, "C-3", "+8613700001111", "A01", "minor", ["script"], ["没有说明取消方式"],
             "2026-11-20", "done"),
            (4, "C-4", "+8613700002222", "A03", "major", ["identity"], ["没有核实机主身份"],
             "2026-11-30", "open"),
        ):
            _insert(ledger, "callbacks", id=cid, call_id=call, phone=phone, agent_id=agent,
                    severity=sev, reasons=json.dumps(reasons),
                    points=json.dumps(points, ensure_ascii=False), due_date=due,
                    status=status, created_at=T0)
        for eid, phone, call, agent, evidence, status, by in (
            (1, P_CALLBACK1, "C-1", "A01", EVIDENCE_1, "pending", None),
            (2, P_PENDING2, "C-5", "A02", EVIDENCE_2, "pending", None),
            (3, P_APPROVED, "C-6", "A01", [], "approved", "Wang"),
            (4, P_REJECTED, "C-7", "A03", [], "rejected", "Li"),
        ):
            _insert(ledger, "blacklist", id=eid, phone=phone, call_id=call, agent_id=agent,
                    evidence=json.dumps(evidence, ensure_ascii=False), status=status,
                    proposed_at=T0, decided_by=by, decided_at=T0 if by else None,
                    reason="客户明确投诉" if by == "Wang" else ("号码错误" if by else None))
            _insert(ledger, "history", kind="blacklist", ref=str(eid), at=T0, who="audit",
                    event="proposed", detail=json.dumps({"call_id": call}))
        _insert(ledger, "dnc", phone=P_DNC, call_id="C-8", evidence='["别再打了"]', added_at=T0)
        _insert(ledger, "history", kind="dnc", ref=P_DNC, at=T0, who="audit", event="added",
                detail=json.dumps({"call_id": "C-8", "evidence": ["别再打了"]},
                                  ensure_ascii=False))
        for sale, phone, status, due, ext in (
            ("S-1", P_CALLBACK1, "open", "2026-11-20", 0),
            ("S-2", P_CALLBACK2, "open", "2026-12-20", 0),
            ("S-3", "+8613700001111", "confirmed", "2026-11-10", 0),
            ("S-4", "+8613700002222", "open", "2026-11-25", 1),
        ):
            _insert(ledger, "trials", sale_call_id=sale, phone=phone, product_code="TV30",
                    trial_days=30, trial_end=due, due_date=due, status=status, extensions=ext)
    ledger.close()
    return path


def run(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, [*args, "--db", str(db)], input=input,
                              catch_exceptions=False)


def rows_of(path: Path, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding=encoding), newline="")))


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    ledger = Ledger(db)
    try:
        return [tuple(r) for r in ledger.db.execute(sql, args).fetchall()]
    finally:
        ledger.close()


def full_numbers_in(text: str) -> list[str]:
    digits = ["13800138000", "13912345678", "18600000001", "15000000002", "15000000003",
              "15000000004", "13611112222", "13700001111", "13700002222"]
    squeezed = "".join(c for c in text if c.isdigit() or c == "\n")
    return [d for d in digits if d in text or d in squeezed]


# -- callbacks -----------------------------------------------------------------------------


def test_callbacks_list_shows_open_orders_masked(db):
    result = run(db, "callbacks", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "call", "agent", "phone", "severity", "reasons", "due",
                                "attempts"]
    assert lines[2].split() == ["1", "C-1", "A01", "+861******8000", "critical", "consent,",
                                "identity", "2026-11-24", "0"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "4"]  # done order 3 left out
    assert full_numbers_in(result.output) == []


def test_callbacks_list_due_status_and_unmasked(db):
    result = run(db, "callbacks", "list", "--due", "2026-11-25", "--status", "all",
                 "--unmasked")
    assert result.exit_code == 0
    body = result.output.splitlines()[2:]
    assert [line.split()[0] for line in body] == ["3", "1"]
    assert body[0].split()[-1] == "done"
    assert P_CALLBACK1 in result.output


def test_callbacks_export_writes_dialer_csv_and_marks_exported(db, tmp_path):
    out = tmp_path / "dial.csv"
    result = run(db, "callbacks", "export", "--due", "2026-11-26", "--out", str(out),
                 "--unmasked")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = rows_of(out)
    assert rows == [
        {"callback_id": "1", "call_id": "C-1", "phone": P_CALLBACK1, "agent_id": "A01",
         "severity": "critical", "due_date": "2026-11-24", "reasons": "consent; identity",
         "points": "开通前没有明确同意; 没有核实机主身份"},
        {"callback_id": "2", "call_id": "C-2", "phone": P_CALLBACK2, "agent_id": "A02",
         "severity": "major", "due_date": "2026-11-26", "reasons": "script",
         "points": "没有说明资费"},
    ]
    assert "2 open callback(s) due by 2026-11-26" in result.stdout
    assert "cannot be dialled" not in result.output
    exported = query(db, "SELECT id FROM callbacks WHERE exported_at IS NOT NULL ORDER BY id")
    assert exported == [(1,), (2,)]
    events = query(db, "SELECT ref, who, event FROM history WHERE kind = 'callback'")
    assert sorted(events) == [("1", "export", "exported"), ("2", "export", "exported")]


def test_callbacks_export_masked_by_default_warns_and_does_not_mark(db, tmp_path):
    out = tmp_path / "dial.csv"
    result = run(db, "callbacks", "export", "--due", "2026-11-26", "--out", str(out))
    assert result.exit_code == 0
    assert [r["phone"] for r in rows_of(out)] == ["+861******8000", "+861******5678"]
    assert full_numbers_in(out.read_text(encoding="utf-8-sig")) == []
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1 and "cannot be dialled" in warning[0]
    assert query(db, "SELECT COUNT(*) FROM callbacks WHERE exported_at IS NOT NULL") == [(0,)]


def test_callbacks_export_errors(db, tmp_path):
    result = run(db, "callbacks", "export", "--due", "26/11/2026", "--out",
                 str(tmp_path / "x.csv"))
    assert result.exit_code == 2
    assert "'26/11/2026' does not match the format '%Y-%m-%d'" in result.output
    result = run(db, "callbacks", "export", "--due", "2026-11-26", "--out",
                 str(tmp_path / "missing" / "x.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_callbacks_import_applies_good_rows_and_reports_bad_lines(db, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text(
        "callback_id,outcome,note\n"
        "1,done,客户确认取消\n"
        "2,unreachable,无人接听\n"
        "99,done,\n"
        "4,hung_up,\n"
        "4\n"
        "\n"
        "3,done,again\n",
        encoding="utf-8-sig")
    result = run(db, "callbacks", "import", str(results), "--by", "Zhao")
    assert result.exit_code == 1
    err = result.stderr
    assert f"{results}:4: rejected: no callback 99 in the ledger" in err
    assert f"{results}:5: rejected: unknown outcome 'hung_up'" in err
    assert f"{results}:6: rejected: no outcome" in err
    assert f"{results}:8: not applied: callback 3 is already done" in err
    assert result.stdout.strip() == (f"{results}: 2 applied, 3 rejected (line 4, 5, 6), "
                                     "1 already closed")
    rows = query(db, "SELECT id, status, attempts, closed_by, result FROM callbacks ORDER BY id")
    assert rows[0] == (1, "done", 1, "Zhao", "客户确认取消")
    assert rows[1] == (2, "open", 1, None, None)
    assert rows[3] == (4, "open", 0, None, None)
    events = query(db, "SELECT ref, who, event FROM history WHERE kind = 'callback' ORDER BY id")
    assert events == [("1", "Zhao", "done"), ("2", "Zhao", "unreachable")]


def test_callbacks_import_all_good_exits_zero(db, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("outcome,callback_id\nrefused,2\n", encoding="utf-8")
    result = run(db, "callbacks", "import", str(results), "--by", "Zhao")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("1 applied, 0 rejected")
    assert query(db, "SELECT attempts FROM callbacks WHERE id = 2") == [(1,)]


def test_callbacks_import_without_outcome_column_is_a_user_error(db, tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("callback_id,result\n1,done\n", encoding="utf-8")
    result = run(db, "callbacks", "import", str(results), "--by", "Zhao")
    assert result.exit_code == 2
    assert "the header has no outcome column" in result.output
    assert query(db, "SELECT status FROM callbacks WHERE id = 1") == [("open",)]


# -- blacklist -----------------------------------------------------------------------------


def test_blacklist_list_filters_and_masks(db):
    result = run(db, "blacklist", "list", "--status", "pending")
    assert result.exit_code == 0
    body = result.output.splitlines()[2:]
    assert [line.split()[:3] for line in body] == [["1", "+861******8000", "pending"],
                                                   ["2", "+861******0002", "pending"]]
    assert full_numbers_in(result.output) == []
    everything = run(db, "blacklist", "list").output
    assert "Wang 2026-11-23T02:00:00+00:00" in everything and "客户明确投诉" in everything


def test_blacklist_approve_and_reject_change_status_and_history(db):
    result = run(db, "blacklist", "approve", "1", "--by", "Wang")
    assert result.exit_code == 0
    assert result.output.strip() == "entry 1 (+861******8000) approved by Wang"
    result = run(db, "blacklist", "reject", "2", "--by", "Li", "--reason", "客户只是抱怨")
    assert result.exit_code == 0
    rows = query(db, "SELECT id, status, decided_by, reason FROM blacklist WHERE id IN (1, 2)")
    assert rows == [(1, "approved", "Wang", ""), (2, "rejected", "Li", "客户只是抱怨")]
    events = query(db, "SELECT ref, who, event, detail FROM history WHERE kind = 'blacklist' "
                       "AND event != 'proposed' ORDER BY id")
    assert events == [("1", "Wang", "approved", '{"reason": ""}'),
                      ("2", "Li", "rejected", '{"reason": "客户只是抱怨"}')]


def test_blacklist_reject_without_reason_is_refused(db):
    result = run(db, "blacklist", "reject", "1", "--by", "Li")
    assert result.exit_code == 2
    assert "a rejection needs a reason (--reason TEXT)" in result.output
    result = run(db, "blacklist", "reject", "1", "--by", "Li", "--reason", "  ")
    assert result.exit_code == 2
    assert query(db, "SELECT status FROM blacklist WHERE id = 1") == [("pending",)]


def test_blacklist_deciding_a_decided_entry_names_who_decided(db):
    result = run(db, "blacklist", "reject", "3", "--by", "Li", "--reason", "搞错了")
    assert result.exit_code == 2
    assert "entry 3 is approved (by Wang on 2026-11-23T02:00:00+00:00)" in result.output
    assert query(db, "SELECT status, decided_by FROM blacklist WHERE id = 3") == [
        ("approved", "Wang")]
    result = run(db, "blacklist", "approve", "42", "--by", "Wang")
    assert result.exit_code == 2
    assert "no blacklist entry 42" in result.output


def test_blacklist_review_decides_one_proposal_at_a_time(db):
    result = run(db, "blacklist", "review", "--by", "Wang", input="a\nr\nwrong number\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "entry 1 (1 of 2) · +861******8000 · agent A01 · call C-1" in out
    assert '  [01:05] "我要去工信部投诉你们"' in out
    assert '  [02:10] "12315"' in out
    assert "entry 2 (2 of 2) · +861******0002 · agent A02 · call C-5" in out
    assert '  [00:12] "I will call the media"' in out
    assert "[a]pprove / [r]eject / [s]kip / [q]uit" in out
    assert out.strip().endswith("review by Wang: 1 approved, 1 rejected, 0 skipped; "
                                "0 still pending")
    assert full_numbers_in(out) == []
    rows = query(db, "SELECT id, status, decided_by, reason FROM blacklist WHERE id IN (1, 2)")
    assert rows == [(1, "approved", "Wang", ""), (2, "rejected", "Wang", "wrong number")]


def test_blacklist_review_refuses_empty_reason_skips_and_quits(db):
    result = run(db, "blacklist", "review", "--by", "Wang", input="s\nr\n\nnot serious\n")
    assert result.exit_code == 0, result.output
    assert "a rejection needs a reason" in result.output
    assert query(db, "SELECT id, status, reason FROM blacklist WHERE id IN (1, 2)") == [
        (1, "pending", None), (2, "rejected", "not serious")]
    assert "0 approved, 1 rejected, 1 skipped; 1 still pending" in result.output
    result = run(db, "blacklist", "review", "--by", "Wang", input="q\n")
    assert "0 approved, 0 rejected, 0 skipped; 1 still pending" in result.output


def test_blacklist_export_lists_approved_and_pending(db, tmp_path):
    out = tmp_path / "bl.csv"
    result = run(db, "blacklist", "export", "--out", str(out))
    assert result.exit_code == 0
    rows = rows_of(out)
    assert [(r["entry_id"], r["phone"], r["status"]) for r in rows] == [
        ("1", "+861******8000", "pending"), ("2", "+861******0002", "pending"),
        ("3", "+861******0003", "approved")]
    assert rows[2]["decided_by"] == "Wang"
    assert "cannot be dialled" in result.stderr
    assert full_numbers_in(out.read_text(encoding="utf-8-sig")) == []
    result = run(db, "blacklist", "export", "--out", str(out), "--unmasked")
    assert [r["phone"] for r in rows_of(out)] == [P_CALLBACK1, P_PENDING2, P_APPROVED]
    assert result.stderr == ""


def test_blacklist_history_finds_the_number_in_any_form(db):
    run(db, "blacklist", "approve", "1", "--by", "Wang", "--reason", "多次投诉")
    result = run(db, "blacklist", "history", "+86 138-0013-8000")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "+861******8000 (now: blacklist approved)"
    assert lines[3].split() == ["2026-11-23T02:00:00+00:00", "audit", "blacklist", "#1",
                                "proposed", "call_id:", "C-1"]
    assert lines[4].split()[1:] == ["Wang", "blacklist", "#1", "approved", "reason:", "多次投诉"]
    assert full_numbers_in(result.output) == []
    same = run(db, "blacklist", "history", "138 0013 8000")
    assert same.output == result.output
    dnc = run(db, "blacklist", "history", "18600000001", "--unmasked")
    assert dnc.output.splitlines()[0] == f"{P_DNC} (now: dnc)"
    assert "added  call_id: C-8; evidence: 别再打了" in dnc.output


def test_blacklist_history_errors(db):
    result = run(db, "blacklist", "history", "12-34")
    assert result.exit_code == 2
    assert "is not a readable phone number" in result.output
    result = run(db, "blacklist", "history", "13611112222")
    assert result.exit_code == 0
    assert result.output.strip() == "no history for +861******2222 or +136****2222"


# -- suppression -----------------------------------------------------------------------------

CAMPAIGN = (
    "name,手机号,city\n"
    "张三,+86 138-0013-8000,北京\n"       # blacklist pending (stored as 13800138000)
    "李四,186 0000 0001,上海\n"           # dnc
    "王五,15000000003,广州\n"             # blacklist approved
    "赵六,150-0000-0004,深圳\n"           # blacklist rejected: may be called
    "钱七,13611112222,杭州\n"             # nothing against it
    "孙八,12345,南京\n"                   # unreadable
    "周九,,武汉\n"                        # no number at all
)


def test_scrub_removes_suppressed_numbers_in_any_format(db, tmp_path):
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    clean = tmp_path / "clean.csv"
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(clean))
    assert result.exit_code == 0, result.output
    assert clean.read_text(encoding="utf-8") == (
        "name,手机号,city\n赵六,150-0000-0004,深圳\n钱七,13611112222,杭州\n")
    removed = rows_of(tmp_path / "clean.removed.csv")
    assert [(r["name"], r["手机号"], r["reason"]) for r in removed] == [
        ("张三", "+86 1**-****-8000", "blacklist pending"),
        ("李四", "186 **** 0001", "dnc"),
        ("王五", "150****0003", "blacklist approved"),
        ("孙八", "12*45", "unreadable number"),
        ("周九", "", "unreadable number"),
    ]
    assert list(removed[0]) == ["name", "手机号", "city", "reason"]
    assert full_numbers_in((tmp_path / "clean.removed.csv").read_text(encoding="utf-8")) == []
    assert result.output.strip() == (
        f"7 row(s): 2 kept → {clean}; 5 removed → {tmp_path / 'clean.removed.csv'} "
        "(blacklist approved: 1, blacklist pending: 1, dnc: 1, unreadable number: 2)")


def test_scrub_unmasked_removed_list_and_named_column(db, tmp_path):
    campaign = tmp_path / "campaign.csv"
    campaign.write_text("客户,联系方式\r\nA,13800138000\r\nB,13611112222\r\n",
                        encoding="utf-8-sig")
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(tmp_path / "ok.csv"))
    assert result.exit_code == 2
    assert "no phone column" in result.output and "--phone-column" in result.output
    removed = tmp_path / "gone.csv"
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(tmp_path / "ok.csv"),
                 "--removed", str(removed), "--phone-column", "联系方式", "--unmasked")
    assert result.exit_code == 0
    assert (tmp_path / "ok.csv").read_bytes() == "\ufeff客户,联系方式\r\nB,13611112222\r\n".encode()
    assert rows_of(removed) == [{"客户": "A", "联系方式": "13800138000",
                                 "reason": "blacklist pending"}]


def test_scrub_refuses_to_overwrite_its_input(db, tmp_path):
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    result = run(db, "suppress", "scrub", str(campaign), "--out", str(campaign))
    assert result.exit_code == 2
    assert "three different files" in result.output
    assert campaign.read_text(encoding="utf-8") == CAMPAIGN


# -- trials --------------------------------------------------------------------------------


def test_trials_overdue_lists_only_open_obligations_past_due(db):
    result = run(db, "trials", "list", "--overdue", "--as-of", "2026-11-25")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["sale", "call", "phone", "product", "trial", "end", "due",
                                "status", "extensions"]
    assert lines[2].split() == ["S-1", "+861******8000", "TV30", "2026-11-20", "2026-11-20",
                                "open", "0"]
    assert len(lines) == 4
    assert lines[3] == ("1 trial(s) past due as of 2026-11-25 without a second confirmation: "
                        "charging must not start for them")
    later = run(db, "trials", "list", "--overdue", "--as-of", "2026-11-26")
    assert [line.split()[0] for line in later.output.splitlines()[2:-1]] == ["S-1", "S-4"]
    none = run(db, "trials", "list", "--overdue", "--as-of", "2026-11-01")
    assert none.output.strip() == "no open trial obligation is past due as of 2026-11-01"


def test_trials_list_all_and_as_of_needs_overdue(db):
    result = run(db, "trials", "list")
    assert [line.split()[0] for line in result.output.splitlines()[2:]] == [
        "S-3", "S-1", "S-4", "S-2"]
    assert full_numbers_in(result.output) == []
    result = run(db, "trials", "list", "--as-of", "2026-11-25")
    assert result.exit_code == 2
    assert "--as-of only applies with --overdue" in result.output


# -- the ledger itself ---------------------------------------------------------------------


def test_missing_ledger_is_a_user_error_and_is_not_created(tmp_path):
    missing = tmp_path / "nope.db"
    result = run(missing, "callbacks", "list")
    assert result.exit_code == 2
    assert f"no ledger at {missing}" in result.output
    assert not missing.exists()


def test_ledger_from_environment(db):
    result = CliRunner().invoke(main, ["trials", "list", "--overdue", "--as-of", "2026-11-25"],
                                env={"CALLAUDIT_DB": str(db)}, catch_exceptions=False)
    assert result.exit_code == 0
    assert "S-1" in result.output
