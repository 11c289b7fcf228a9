"""Guards for promises the rest of the suite let slip: each test here failed against a
small bug planted in the engine (the plant is named in the test's docstring) and passes on
the real code.

- a phone number said inside a turn is masked in the nightly report;
- a re-audit never reopens a blacklist proposal a manager rejected;
- agents flagged by failed calls are sampled at the higher rate;
- a corrected transcript (one turn's words) is audited again.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.actions.ledger import Ledger
from engine.actions.policy import load_policy
from engine.actions.runner import FollowUp
from engine.audit import PackChooser, audit_call
from tests.conftest import REPO, make_call
from tests.test_nightly import ACCEPT, DONE, HOLDER, MUMBLE, PITCH, YES  # the same sale

SAID = "13912345678"  # a number said in a turn, not the customer's number of record
SAID_MASKED = "139****5678"


def record(call_id: str, day: date, agent: str, turns: list[dict], phone: str) -> dict:
    return {"call_id": call_id, "call_type": "sale", "agent_id": agent,
            "customer_phone": phone, "started_at": f"{day.isoformat()}T10:00:00+08:00",
            "language": "zh", "product": {"code": "TV", "name": "视频会员", "monthly_fee": 10},
            "turns": [{**t, "start": i * 5.0, "end": i * 5.0 + 4} for i, t in enumerate(turns)]}


def centre(root: Path, day: date, calls: list[dict]) -> Path:
    """A QA folder with one night's transcripts and a config naming the bundled rules."""
    folder = root / "transcripts" / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    config = root / "callaudit.yaml"
    config.write_text(f"transcripts: transcripts\nrules: {REPO / 'rules'}\n"
                      "database: ledger.db\nreports: reports\n", encoding="utf-8")
    return config


def nightly(config: Path, day: date) -> str:
    result = CliRunner().invoke(main, ["nightly", "--date", day.isoformat(),
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.output


# -- a number said in a turn is masked in the report ----------------------------------------

def test_a_number_said_in_a_turn_is_masked_in_the_nights_report(tmp_path):
    """Plant: engine/report/nightly.py `_quoted` quoting the turn unmasked
    (`text = mask_numbers_in_text(text) if mask else text` -> `text = text`)."""
    day = date(2026, 11, 23)
    turns = [HOLDER, YES, PITCH, MUMBLE,
             {"speaker": "agent", "text": f"好的，{SAID}这个号已经为您开通了"},
             {"speaker": "customer", "text": f"你打我{SAID}这个号我就去工信部投诉"}]
    config = centre(tmp_path, day, [record("M-1", day, "A1", turns, "13800000001")])
    nightly(config, day)
    folder = tmp_path / "reports" / day.isoformat()
    page = (folder / "report.html").read_text(encoding="utf-8")
    # The invalid call's findings are quoted with the turn each one points at.
    assert "activation-without-explicit-consent" in page and "complaint-threat" in page
    assert f"你打我{SAID_MASKED}这个号" in page
    assert f"好的，{SAID_MASKED}这个号" in page
    findings = (folder / "findings.jsonl").read_text(encoding="utf-8")
    assert SAID_MASKED in findings
    # Nowhere in what the night wrote for people is the number whole.
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"report.html", "findings.jsonl", "report.xlsx"}
    for path in written:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                texts = [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
        else:
            texts = [path.read_text(encoding="utf-8", errors="replace")]
        for text in texts:
            assert SAID not in text, path.relative_to(folder)


# -- a rejected blacklist proposal stays rejected -----------------------------------------

CHOOSER = PackChooser(REPO / "rules")


def audited(turns: list[tuple[str, str]]):
    call = make_call(turns, customer_phone="13800138000", agent_id="A7")
    return audit_call(CHOOSER.for_call(call), call)


def test_a_re_audit_never_reopens_a_rejected_blacklist_proposal(tmp_path):
    """Plant: engine/actions/ledger.py `_do_blacklist` proposing a decided entry again
    (`elif row["status"] == "withdrawn":` -> `elif row["status"] in ("withdrawn", "rejected"):`)."""
    threat = [(HOLDER["speaker"], HOLDER["text"]), ("customer", "我要去工信部投诉你们")]
    with Ledger(tmp_path / "ledger.db") as ledger:
        follow_up = FollowUp(load_policy(REPO / "rules" / "actions.yaml"), ledger)
        first = audited(threat)
        follow_up.apply(first)
        (entry,) = ledger.blacklist("pending")
        ledger.decide_blacklist(entry["id"], approve=False, by="王经理", reason="只是抱怨")

        def status_after(result) -> tuple[str, list[str]]:
            report = follow_up.apply(result)
            (row,) = ledger.blacklist()
            return report.status, [row["status"], *ledger.suppression("+8613800138000")]

        # The same call again, unchanged: nothing happens.
        assert status_after(first) == ("unchanged", ["rejected"])
        # Changed rules: the call is audited again, the manager's rejection stands.
        rules_changed = replace(first, verdict=replace(first.verdict,
                                                       rule_pack_hash="sha256:new-rules"))
        assert status_after(rules_changed) == ("re-audited", ["rejected"])
        # A corrected transcript, still a complaint: the rejection stands too.
        corrected = audited([*threat[:1], ("customer", "我要去工信部投诉你们！")])
        assert status_after(corrected) == ("re-audited", ["rejected"])
        events = [r["event"] for r in ledger.history_of_phone("+8613800138000")]
        assert events == ["proposed", "rejected"]


# -- flagged agents are sampled at the higher rate ----------------------------------------

def test_a_flagged_agents_valid_sales_are_sampled_at_the_flagged_rate(tmp_path):
    """Plant: engine/nightly/analysis.py `draw_sample` giving every agent the base rate
    (`rate = max(base, config.flagged_rate) if agent in flagged else base` -> `rate = base`).

    Agent F makes 5 invalid sales (each flags F) and 100 valid ones, G 100 valid ones. At
    the default rates (0.10, flagged 0.30) F's sample is about 30, G's about 10; the bounds
    hold for a draw at those rates call by call too (30 +- 2.2 sd, 10 +- 2 sd)."""
    day = date(2026, 11, 23)  # a past night: flags count by the calls' date, not today's
    calls = [record(f"F-{n:03d}", day, "F", [HOLDER, YES, PITCH, MUMBLE, DONE],
                    f"1380000{n:04d}") for n in range(5)]
    calls += [record(f"{agent}-{n:03d}", day, agent, [HOLDER, YES, PITCH, ACCEPT, DONE],
                     f"1390000{n:04d}") for agent in ("F", "G") for n in range(100, 200)]
    config = centre(tmp_path, day, calls)
    nightly(config, day)
    with Ledger(tmp_path / "ledger.db") as ledger:
        flagged = {r["agent_id"] for r in ledger.agent_flags()}
    assert flagged == {"F"}
    table = tmp_path / "reports" / day.isoformat() / "tables" / "sample.csv"
    with table.open(encoding="utf-8-sig", newline="") as handle:
        drawn = [row["call_id"] for row in csv.DictReader(handle) if row["kind"] == "daily"]
    of_f = sum(c.startswith("F-") for c in drawn)
    of_g = sum(c.startswith("G-") for c in drawn)
    assert 20 <= of_f <= 40, drawn
    assert 4 <= of_g <= 16, drawn
    assert all(not c.startswith("F-00") for c in drawn)  # valid sales only


# -- a corrected turn is audited again ----------------------------------------------------

def test_correcting_one_turns_words_audits_the_call_again(tmp_path):
    """Plant: engine/actions/ledger.py `content_hash` leaving the words out
    (`[[t.speaker, t.text, t.start, t.end] ...]` -> `[[t.speaker, t.start, t.end] ...]`).

    The transcriber heard "嗯" where the customer said "好的，那就开通吧": corrected,
    the sale is valid and its callback is withdrawn."""
    day = date(2026, 11, 23)
    heard = record("C-1", day, "A1", [HOLDER, YES, PITCH, MUMBLE, DONE], "13800000001")
    config = centre(tmp_path, day, [heard])
    nightly(config, day)
    with Ledger(tmp_path / "ledger.db") as ledger:
        before = ledger.db.execute("SELECT valid, content_hash FROM calls").fetchone()
        assert [r["status"] for r in ledger.callbacks(status=None)] == ["open"]
    corrected = record("C-1", day, "A1", [HOLDER, YES, PITCH, ACCEPT, DONE], "13800000001")
    # Same speakers, same times, same everything else: only the words of turn 3 differ.
    assert [t["text"] != u["text"] for t, u in zip(heard["turns"], corrected["turns"],
                                                    strict=True)] == [False] * 3 + [True, False]
    (tmp_path / "transcripts" / day.isoformat() / "calls.jsonl").write_text(
        json.dumps(corrected, ensure_ascii=False) + "\n", encoding="utf-8")
    output = nightly(config, day)
    assert "1 re-audited" in output, output
    with Ledger(tmp_path / "ledger.db") as ledger:
        after = ledger.db.execute("SELECT valid, content_hash FROM calls").fetchone()
        assert (before["valid"], after["valid"]) == (0, 1)
        assert after["content_hash"] != before["content_hash"]
        assert [r["status"] for r in ledger.callbacks(status=None)] == ["superseded"]



# -- how much of a number is shown, at the boundaries ---------------------------------------

@pytest.mark.parametrize(("number", "masked"), [
    ("4155550142", "415***0142"),  # ten digits: the first three and the last four shown
    ("415555014", "41*****14"),  # nine: two and two
    ("请拨4155550142或者415555014", "请拨415***0142或者41*****14"),
])
def test_ten_digits_show_three_and_four_nine_show_two_and_two(number, masked):
    """Mutation testing found the 10-digit boundary untried (`>= 10` -> `> 10` survived)."""
    from engine.privacy import mask_numbers_in_text

    assert mask_numbers_in_text(number) == masked


# -- found by mutation testing of engine/nightly --------------------------------------------

def test_a_night_picks_its_days_calls_from_a_folder_of_many_days(tmp_path):
    """With no folder per day, the night audits the calls started on its date only (in
    the call's own time zone), on one process as on many."""
    monday, tuesday = date(2026, 11, 23), date(2026, 11, 24)
    calls = [record(f"D-{n}", day, "A1", [HOLDER, YES, PITCH, ACCEPT, DONE], f"1380000000{n}")
             for n, day in enumerate([monday, monday, tuesday])]
    calls.append({**record("D-late", monday, "A1", [HOLDER, YES], "13800000009"),
                  "started_at": "2026-11-23T23:30:00-05:00"})  # Tuesday in UTC+8
    config = centre(tmp_path, monday, calls)
    folder = tmp_path / "transcripts"
    (folder / monday.isoformat() / "calls.jsonl").rename(folder / "calls.jsonl")
    (folder / monday.isoformat()).rmdir()
    output = nightly(config, monday)
    assert "audited 3 calls" in output, output
    with Ledger(tmp_path / "ledger.db") as ledger:
        audited_ids = [r[0] for r in ledger.db.execute("SELECT call_id FROM calls ORDER BY 1")]
    assert audited_ids == ["D-0", "D-1", "D-late"]


def test_mask_phone_numbers_false_shows_whole_numbers_in_the_nights_files(tmp_path):
    """`mask_phone_numbers: false` reaches the night's findings and verdicts."""
    day = date(2026, 11, 23)
    turns = [HOLDER, YES, PITCH, MUMBLE, DONE,
             {"speaker": "customer", "text": f"你打我{SAID}这个号我就去工信部投诉"}]
    config = centre(tmp_path, day, [record("U-1", day, "A1", turns, "13800000001")])
    config.write_text(config.read_text(encoding="utf-8") + "mask_phone_numbers: false\n",
                      encoding="utf-8")
    nightly(config, day)
    folder = tmp_path / "reports" / day.isoformat()
    assert SAID in (folder / "findings.jsonl").read_text(encoding="utf-8")
    assert "13800000001" in (folder / "verdicts.jsonl").read_text(encoding="utf-8")
    assert SAID in (folder / "report.html").read_text(encoding="utf-8")


def test_a_seven_day_warning_counts_the_day_and_the_six_before_it(tmp_path):
    """A 7d window on day D counts D-6 to D, by standard, signal or rule id. Threats on
    D-7 (2 calls) fall outside, threats on D-6 (3 calls) inside."""
    day = date(2026, 11, 30)
    threat = {"speaker": "customer", "text": "你们再打我就去工信部投诉"}
    config = centre(tmp_path, day, [record("Q-0", day, "A1", [HOLDER, YES], "13800000000")])
    for back, threats in ((7, 2), (6, 3)):
        earlier = day - timedelta(days=back)
        folder = tmp_path / "transcripts" / earlier.isoformat()
        folder.mkdir()
        (folder / "calls.jsonl").write_text("".join(
            json.dumps(record(f"Q-{back}-{n}", earlier, "A1", [HOLDER, threat],
                              f"1390000{back}{n:03d}"), ensure_ascii=False) + "\n"
            for n in range(threats)), encoding="utf-8")
    levels = "    window: 7d\n    levels: {notice: 1, warning: 3, critical: 5}\n"
    config.write_text(config.read_text(encoding="utf-8") + "warnings:\n"
                      "  - id: by-signal\n    category: {signal: complaint_risk}\n" + levels
                      + "  - id: by-rule\n    category: {rule: complaint-threat}\n" + levels,
                      encoding="utf-8")
    for night in (day - timedelta(days=7), day - timedelta(days=6), day):
        nightly(config, night)
    alerts = json.loads((tmp_path / "reports" / day.isoformat() / "alerts.json")
                        .read_text(encoding="utf-8"))["alerts"]
    assert sorted((a["warning_id"], a["count"], a["level"]) for a in alerts) == [
        ("by-rule", 3, "warning"), ("by-signal", 3, "warning")]


def test_the_same_night_draws_the_same_sample_in_two_ledgers_at_the_daily_rate(tmp_path):
    """The sample follows from the seed, the date and the calls alone: two centres with the
    same night and seed draw the same calls, at the daily rate (not the weekly one)."""
    day = date(2026, 11, 23)
    calls = [record(f"S-{n:03d}", day, "A1", [HOLDER, YES, PITCH, ACCEPT, DONE],
                    f"1390000{n:04d}") for n in range(40)]
    drawn = []
    for centre_name in ("one", "two"):
        config = centre(tmp_path / centre_name, day, calls)
        config.write_text(config.read_text(encoding="utf-8") + "sampling:\n"
                          "  daily_rate: 0.5\n  weekly_rate: 0.05\n  seed: 11\n",
                          encoding="utf-8")
        nightly(config, day)
        table = tmp_path / centre_name / "reports" / day.isoformat() / "tables" / "sample.csv"
        with table.open(encoding="utf-8-sig", newline="") as handle:
            drawn.append([r["call_id"] for r in csv.DictReader(handle) if r["kind"] == "daily"])
    assert drawn[0] == drawn[1]
    assert 12 <= len(drawn[0]) <= 28  # half of 40 (+- 2.5 sd of a draw call by call)
