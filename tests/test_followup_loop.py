"""The whole loop, as the people who act on it live it: a night is audited, a manager
decides the blacklist, a campaign is scrubbed, the next night's calls close what the first
night opened, and re-running a night changes nothing."""

from __future__ import annotations

import csv
import json
import sqlite3

from click.testing import CliRunner

from cli import main
from tests.conftest import REPO

HOLDER = {"speaker": "agent", "text": "您好，请问您是机主本人吗？现在方便耽误您一分钟吗？"}
YES = {"speaker": "customer", "text": "是我，你说"}
PITCH = {
    "speaker": "agent",
    "text": (
        "给您推荐视频会员，可以看热门剧，下载APP用手机号登录就能看。资费每月10元，免费体验到12月23号，"
        "之后每月10元，不需要发TD到10001退订。您看需要开通吗？"
    ),
}
TRIAL = {"code": "TV", "name": "视频会员", "monthly_fee": 10, "trial_days": 30}


def call(call_id, phone, turns, **fields):
    record = {
        "call_id": call_id,
        "call_type": "sale",
        "agent_id": "A7",
        "customer_phone": phone,
        "started_at": "2026-11-23T10:00:00+08:00",
        "language": "zh",
        "product": TRIAL,
    }
    record.update(fields)
    record["turns"] = [{**t, "start": i * 5.0, "end": i * 5.0 + 4} for i, t in enumerate(turns)]
    return record


def turn(speaker, text):
    return {"speaker": speaker, "text": text}


NIGHT_1 = [
    call(
        "N1-OK",
        "13800000001",
        [
            HOLDER,
            YES,
            PITCH,
            turn("customer", "好的，那就开通吧"),
            turn("agent", "好的，已经为您开通了"),
        ],
    ),
    call(
        "N1-BAD",
        "13800000002",
        [HOLDER, YES, PITCH, turn("customer", "嗯"), turn("agent", "好的，已经为您开通了")],
    ),
    call("N1-DNC", "13800000003", [HOLDER, turn("customer", "以后别给我打电话了")]),
    call("N1-CPL-A", "13800000004", [HOLDER, turn("customer", "我要去工信部投诉你们")]),
    call("N1-CPL-B", "13800000005", [HOLDER, turn("customer", "再打我就打12315投诉")]),
]
NIGHT_2 = [
    call(
        "N2-CONF",
        "13800000001",
        [
            turn("agent", "您好，您的视频会员体验期快到了，还继续使用吗？"),
            turn("customer", "不要了，给我取消吧"),
            turn("agent", "好的，已经为您取消包月，不会再扣费"),
        ],
        call_type="second_confirmation",
        related_call_id="N1-OK",
        started_at="2026-12-20T10:00:00+08:00",
    ),
    call(
        "N2-CB",
        "13800000002",
        [HOLDER, YES, turn("agent", "之前给您开通的会员，跟您确认一下是否需要")],
        call_type="callback",
        related_call_id="N1-BAD",
        started_at="2026-11-24T10:00:00+08:00",
    ),
]


def write(path, records):
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8"
    )
    return path


def cli(*args):
    result = CliRunner().invoke(main, ["--rules-root", str(REPO / "rules"), *args])
    assert result.exit_code in (0, 1), result.output
    return result


def snapshot(db):
    with sqlite3.connect(db) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("callbacks", "blacklist", "dnc", "trials", "agent_flags", "findings")
        }


def test_a_night_and_the_next(tmp_path, monkeypatch):
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("CALLAUDIT_DB", str(db))
    night1 = write(tmp_path / "night1.jsonl", NIGHT_1)

    result = cli("audit", str(night1), "--out", str(tmp_path / "out1"))
    verdicts = {
        v["call_id"]: v
        for v in map(
            json.loads,
            (tmp_path / "out1" / "verdicts.jsonl").read_text(encoding="utf-8").splitlines(),
        )
    }
    assert verdicts["N1-OK"]["actions"] == ["trial_open"]
    assert verdicts["N1-BAD"]["actions"] == ["callback", "agent_recheck"]
    assert verdicts["N1-DNC"]["actions"] == ["dnc"]
    assert verdicts["N1-CPL-A"]["actions"] == ["blacklist"]

    listed = cli("callbacks", "list").output
    assert "N1-BAD" in listed and "13800000002" not in listed  # masked

    pending = cli("blacklist", "list", "--status", "pending").output
    assert "N1-CPL-A" in pending and "N1-CPL-B" in pending
    with sqlite3.connect(db) as conn:
        ids = dict(conn.execute("SELECT call_id, id FROM blacklist").fetchall())
    cli(
        "blacklist", "approve", str(ids["N1-CPL-A"]), "--by", "王经理", "--reason", "威胁投诉工信部"
    )
    cli("blacklist", "reject", str(ids["N1-CPL-B"]), "--by", "王经理", "--reason", "气话，已安抚")

    campaign = tmp_path / "campaign.csv"
    campaign.write_text(
        "name,phone\n甲,13800000001\n丙,+86 138-0000-0003\n丁,138 0000 0004\n"
        "戊,13800000005\n己,13800000006\n",
        encoding="utf-8",
    )
    cli("suppress", "scrub", str(campaign), "--out", str(tmp_path / "clean.csv"))
    with (tmp_path / "clean.csv").open(encoding="utf-8-sig") as handle:
        kept = [row["name"] for row in csv.DictReader(handle)]
    assert kept == ["甲", "戊", "己"]  # dnc and approved blacklist removed; rejected kept
    with (tmp_path / "clean.removed.csv").open(encoding="utf-8-sig") as handle:
        removed = {row["name"]: row["reason"] for row in csv.DictReader(handle)}
    assert removed == {"丙": "dnc", "丁": "blacklist approved"}

    night2 = write(tmp_path / "night2.jsonl", NIGHT_2)
    result = cli("audit", str(night2), "--out", str(tmp_path / "out2"))
    assert "trial_confirmation" in result.output and "callback_result" in result.output
    trials = cli("trials", "list").output
    assert "cancelled" in trials
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, closed_by FROM callbacks").fetchall() == [
            ("done", "N2-CB")
        ]

    before = snapshot(db)
    again = cli("audit", str(night1), "--out", str(tmp_path / "out1-again"))
    assert "5 already in the ledger unchanged" in again.output
    assert snapshot(db) == before
    changed = [NIGHT_1[0], {**NIGHT_1[1], "agent_id": "A8"}]  # a corrected transcript
    rerun = cli("audit", str(write(tmp_path / "night1b.jsonl", changed)), "--out",
                str(tmp_path / "out1b"))
    assert "1 already in the ledger unchanged" in rerun.output
    assert "1 re-audited with changed rules or transcripts" in rerun.output
    decided = cli("blacklist", "list").output
    assert "approved" in decided and "rejected" in decided
