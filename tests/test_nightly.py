"""A simulated week of nights: samples reproducible and at the right rates, an injected
spike of complaint threats raises the right alert level, the report holds the ledger's
numbers, re-running a night changes nothing, a second run at once is refused."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.actions.ledger import Ledger
from engine.nightly.analysis import draw_sample, totals
from engine.nightly.config import load_config
from engine.nightly.run import NightlyBusy, night_lock
from tests.conftest import REPO

MONDAY = date(2026, 11, 23)
AGENTS = [f"A{i:02d}" for i in range(1, 7)]
HOLDER = {"speaker": "agent", "text": "您好，请问您是机主本人吗？现在方便耽误您一分钟吗？"}
YES = {"speaker": "customer", "text": "是我，你说"}
PITCH = {"speaker": "agent", "text": (
    "给您推荐视频会员，可以看热门剧，下载APP用手机号登录就能看。资费每月10元，"
    "不需要发TD到10001退订。您看需要开通吗？")}
ACCEPT = {"speaker": "customer", "text": "好的，那就开通吧"}
MUMBLE = {"speaker": "customer", "text": "嗯"}
DONE = {"speaker": "agent", "text": "好的，已经为您开通了"}
THREAT = {"speaker": "customer", "text": "你们再打我就去工信部投诉"}


def call(day: date, number: int, agent: str, turns: list[dict]) -> dict:
    return {"call_id": f"{day:%m%d}-{number:03d}", "call_type": "sale", "agent_id": agent,
            "customer_phone": f"1380{day:%m%d}{number:03d}",
            "started_at": f"{day.isoformat()}T10:00:00+08:00", "language": "zh",
            "product": {"code": "TV", "name": "视频会员", "monthly_fee": 10},
            "turns": [{**t, "start": i * 5.0, "end": i * 5.0 + 4} for i, t in enumerate(turns)]}


def night(day: date, threats: int) -> list[dict]:
    calls = []
    for number in range(60):
        agent = AGENTS[number % len(AGENTS)]
        # A03 makes invalid sales (activation after a mumble); everyone else sells cleanly.
        turns = [HOLDER, YES, PITCH, MUMBLE if agent == "A03" else ACCEPT, DONE]
        calls.append(call(day, number, agent, turns))
    for extra in range(threats):
        calls.append(call(day, 100 + extra, "A05", [HOLDER, THREAT]))
    return calls


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("centre")
    shutil.copytree(REPO / "rules", root / "rules")
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        folder = root / "transcripts" / day.isoformat()
        folder.mkdir(parents=True)
        threats = 6 if offset == 4 else 0  # Friday: a spike of complaint threats
        (folder / "calls.jsonl").write_text(
            "\n".join(json.dumps(c, ensure_ascii=False) for c in night(day, threats)) + "\n",
            encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--path", str(root / "callaudit.yaml")]).exit_code == 0
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        result = runner.invoke(main, ["nightly", "--date", day.isoformat(),
                                      "--config", str(root / "callaudit.yaml")])
        assert result.exit_code == 0, result.output
    return root


def ledger_of(root: Path) -> Ledger:
    return Ledger(load_config(root / "callaudit.yaml").database)


def test_every_call_of_the_week_is_in_the_ledger(week):
    with ledger_of(week) as ledger:
        assert ledger.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 7 * 60 + 6
        friday = totals(ledger, MONDAY + timedelta(days=4), MONDAY + timedelta(days=4))
        assert (friday.calls, friday.valid, friday.invalid) == (66, 50, 10)


def test_daily_samples_are_stratified_at_the_rates_and_reproducible(week):
    config = load_config(week / "callaudit.yaml")
    with ledger_of(week) as ledger:
        sample = draw_sample(ledger, config, "daily", MONDAY.isoformat())
        agents = {}
        for call_id in sample.calls:
            agent = ledger.db.execute("SELECT agent_id FROM calls WHERE call_id = ?",
                                      (call_id,)).fetchone()[0]
            agents[agent] = agents.get(agent, 0) + 1
        # 10 valid sales per clean agent at 10%: one each; A03 has no valid sale.
        assert agents == {"A01": 1, "A02": 1, "A04": 1, "A05": 1, "A06": 1}
        assert len(sample.invalid_calls) == 10
        registered = ledger.db.execute("SELECT COUNT(*) FROM samplings WHERE kind = 'daily'"
                                       ).fetchone()[0]
        assert registered == 7
        weekly = ledger.db.execute("SELECT calls, seed FROM samplings WHERE kind = 'weekly'"
                                   ).fetchone()
        assert len(json.loads(weekly["calls"])) == 5 * round(0.05 * 70)
    again = draw_sample(Ledger(config.database), config, "daily", MONDAY.isoformat())
    assert again.calls == sample.calls  # registered once, the same every time


def test_the_spike_raises_the_right_level(week):
    friday = week / "reports" / (MONDAY + timedelta(days=4)).isoformat()
    alerts = json.loads((friday / "alerts.json").read_text(encoding="utf-8"))["alerts"]
    complaint = next(a for a in alerts if a["warning_id"] == "complaint-risk")
    assert (complaint["level"], complaint["count"]) == ("warning", 6)
    thursday = week / "reports" / (MONDAY + timedelta(days=3)).isoformat()
    assert not [a for a in json.loads((thursday / "alerts.json").read_text())["alerts"]
                if a["warning_id"] == "complaint-risk"]
    consent = next(a for a in alerts if a["warning_id"] == "consent-violations")
    assert (consent["level"], consent["count"]) == ("warning", 10)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_holds_the_ledgers_numbers_and_masks_phones(week):
    folder = week / "reports" / (MONDAY + timedelta(days=4)).isoformat()
    page = (folder / "report.html").read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(page)
    text = " ".join(parser.text)
    assert '<div class="kpi"><b>66</b>calls</div>' in page
    assert '<div class="kpi"><b>10</b>invalid</div>' in page
    assert "83.3%" in text  # 50 valid of 60 sales
    assert "A03" in text and "100.0%" in text  # A03's invalid rate, ranked first
    assert "<svg" in page and "13801127" not in page  # chart inline; numbers masked
    assert "activation-without-explicit-consent" in page and "<mark>" in page
    assert (folder / "report.xlsx").stat().st_size > 0
    agents = (folder / "tables" / "agents.csv").read_text(encoding="utf-8-sig").splitlines()
    assert agents[1].startswith("A03,10,10,0,10,0.0,1.0")


def test_re_running_a_night_changes_nothing(week):
    with ledger_of(week) as ledger:
        before = ledger.db.execute("SELECT COUNT(*), SUM(times_audited) FROM calls").fetchone()
    result = CliRunner().invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                       str(week / "callaudit.yaml"), "--fail-on-alert",
                                       "critical"])
    assert result.exit_code == 0, result.output
    assert "60 already in the ledger unchanged" in result.output
    assert "actions:" not in result.output  # none taken again
    with ledger_of(week) as ledger:
        after = ledger.db.execute("SELECT COUNT(*), SUM(times_audited) FROM calls").fetchone()
    assert tuple(before) == tuple(after)
    folder = week / "reports" / MONDAY.isoformat()
    verdicts = (folder / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(verdicts) == 60  # the night's files still hold every call of the night
    assert len({json.loads(line)["call_id"] for line in verdicts}) == 60
    findings = (folder / "findings.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(findings) >= sum(json.loads(line)["findings"] for line in verdicts) > 0


def test_re_running_a_night_tells_its_alerts_as_already_raised(week):
    result = CliRunner().invoke(main, ["nightly", "--date", (MONDAY + timedelta(days=4))
                                       .isoformat(), "--config", str(week / "callaudit.yaml"),
                                       "--fail-on-alert", "warning"])
    assert result.exit_code == 0  # raised by the night's first run; --fail-on-alert: new ones
    assert "warning already raised for this night at " in result.output
    assert "complaint-risk — 6 ≥ 5" in result.output


def test_a_second_run_at_once_is_refused(tmp_path):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from engine.nightly.run import night_lock\n"
         "with night_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n"
         "    time.sleep(30)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = f"another nightly run is going \\(pid {holder.pid}"
        with pytest.raises(NightlyBusy, match=busy), night_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with night_lock(tmp_path):  # free again once the other run has gone
        pass


def test_reviews_give_rule_precision_and_examples(week, tmp_path):
    with ledger_of(week) as ledger:
        prints = [r[0] for r in ledger.db.execute(
            "SELECT fingerprint FROM findings WHERE rule_id = "
            "'activation-without-explicit-consent' AND active = 1 LIMIT 4")]
    config = ["--config", str(week / "callaudit.yaml")]
    runner = CliRunner()
    for fingerprint, verdict in zip(prints, ["upheld", "upheld", "upheld", "overturned"],
                                    strict=True):
        result = runner.invoke(main, ["review", fingerprint, "--verdict", verdict, "--by",
                                      "质检员", *config])
        assert result.exit_code == 0, result.output
    out = tmp_path / "examples.yaml"
    result = runner.invoke(main, ["review", "export-examples", "--out", str(out), *config])
    assert "1 overturned finding(s)" in result.output
    assert "compliant" in out.read_text(encoding="utf-8")
    from engine.nightly.analysis import rule_precision

    with ledger_of(week) as ledger:
        assert rule_precision(ledger) == [("activation-without-explicit-consent", 3, 1, 0.75)]


def test_a_wrong_configuration_names_the_line(tmp_path):
    path = tmp_path / "callaudit.yaml"
    path.write_text("rules: rules\nsampling:\n  daily_rate: 10\nwarnings:\n  - id: w\n"
                    "    category: {standard: consnt}\n    window: week\n"
                    "    levels: {notice: 1}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", "--config", str(path)])
    assert result.exit_code == 2
    assert "callaudit.yaml:3:15: error: daily_rate must be a fraction from 0 to 1, not 10.0" \
        in result.output
    assert "callaudit.yaml:6:26: error: standard 'consnt' is not one of the allowed values" \
        in result.output
    assert "window 'week' is not one of the allowed values" in result.output


def test_a_damaged_ledger_is_a_clear_error_not_a_traceback(tmp_path):
    (tmp_path / "ledger.db").write_text("not a database", encoding="utf-8")
    config = tmp_path / "callaudit.yaml"
    config.write_text(f"rules: {REPO / 'rules'}\ndatabase: ledger.db\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["sample", "export", "--date", "2026-11-23", "--out",
                                       str(tmp_path / "s.csv"), "--config", str(config)])
    assert result.exit_code == 2
    assert "ledger.db is not a callaudit ledger" in result.output


def centre_of_one_night(root: Path, day: date) -> Path:
    shutil.copytree(REPO / "rules", root / "rules")
    folder = root / "transcripts"  # no folder per day: the night picks its calls by date
    folder.mkdir(parents=True)
    calls = night(day, threats=3) + night(day + timedelta(days=1), threats=0)[:5]  # + Tuesday's
    (folder / "calls.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in calls) + "\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["init", "--path", str(root / "callaudit.yaml")]).exit_code == 0
    return root / "callaudit.yaml"


def test_a_night_on_a_dask_cluster_records_what_a_local_night_records(tmp_path):
    from distributed import LocalCluster

    configs = {where: centre_of_one_night(tmp_path / where, MONDAY) for where in ("here", "dask")}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        for where, how in (("here", ["--workers", "1"]),
                           ("dask", ["--cluster", cluster.scheduler_address])):
            result = CliRunner().invoke(main, ["nightly", "--date", MONDAY.isoformat(),
                                               "--config", str(configs[where]), *how])
            assert result.exit_code == 0, result.output
            assert "63 calls" in result.output  # Monday's only: Tuesday's five are left out
        assert "audit_on_worker" in cluster.scheduler.task_prefixes  # the cluster audited
    reports = {where: tmp_path / where / "reports" / MONDAY.isoformat() for where in configs}
    for name in ("verdicts.jsonl", "findings.jsonl"):
        here, dask = ((reports[w] / name).read_text(encoding="utf-8") for w in ("here", "dask"))
        assert here.replace(str(tmp_path / "here"), "ROOT") == \
            dask.replace(str(tmp_path / "dask"), "ROOT")
    rows = {}
    for where, config in configs.items():
        with Ledger(load_config(config).database) as ledger:
            rows[where] = {table: ledger.db.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2")
                           .fetchall() for table, columns in (
                               ("calls", "call_id, content_hash, valid, violations, actions"),
                               ("findings", "fingerprint, evidence"),
                               ("callbacks", "call_id, due_date"), ("blacklist", "phone, call_id"))}
    assert [tuple(r) for r in rows["here"]["calls"]] == [tuple(r) for r in rows["dask"]["calls"]]
    for table in ("findings", "callbacks", "blacklist"):
        assert [tuple(r) for r in rows["here"][table]] == [tuple(r) for r in rows["dask"][table]]
    assert rows["here"]["blacklist"] and rows["here"]["callbacks"]


def test_a_night_names_the_cluster_it_cannot_reach(tmp_path):
    import dask

    config = centre_of_one_night(tmp_path, MONDAY)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):  # not the default 30
        result = CliRunner().invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                           str(config), "--cluster", "tcp://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "cannot use the Dask cluster at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_night_workers_pick_the_nights_calls_themselves(tmp_path, monkeypatch):
    """With transcripts of many days in one place, a night on worker processes sends them
    the file's shards as bytes and the date to pick; the process writing the ledger parses
    no call (it did all of them when it had to pick them for the workers)."""
    from engine import batch

    configs = {w: centre_of_one_night(tmp_path / f"w{w}", MONDAY) for w in (1, 2)}
    parsed_here = []
    load_shard = batch.load_shard
    monkeypatch.setattr(batch, "load_shard",
                        lambda shard: parsed_here.append(shard) or load_shard(shard))
    for workers, config in configs.items():
        result = CliRunner().invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                           str(config), "--workers", str(workers)])
        assert result.exit_code == 0, result.output
        assert "63 calls" in result.output  # Monday's only: Tuesday's five are left out
    assert parsed_here == []
    outputs = {w: (tmp_path / f"w{w}" / "reports" / MONDAY.isoformat() / "findings.jsonl")
               .read_text(encoding="utf-8").replace(str(tmp_path / f"w{w}"), "ROOT")
               for w in configs}
    assert outputs[1] == outputs[2] and outputs[1]


def two_nights(root: Path) -> list[str]:
    """Monday (invalid sales, no complaint) and Tuesday (complaint threats), each audited."""
    shutil.copytree(REPO / "rules", root / "rules")
    for day, threats in ((MONDAY, 0), (MONDAY + timedelta(days=1), 3)):
        folder = root / "transcripts" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "calls.jsonl").write_text(
            "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in night(day, threats)),
            encoding="utf-8")
    assert CliRunner().invoke(main, ["init", "--path", str(root / "callaudit.yaml")]).exit_code == 0
    return ["--config", str(root / "callaudit.yaml")]


def report_files(folder: Path) -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8-sig") for p in (folder / "tables").glob("*.csv")}
    files["report.html"] = (folder / "report.html").read_text(encoding="utf-8")
    return files


def test_re_running_an_old_night_shows_that_night_as_it_was(tmp_path):
    config = two_nights(tmp_path)
    runner = CliRunner()
    monday = tmp_path / "reports" / MONDAY.isoformat()
    assert runner.invoke(main, ["nightly", "--date", MONDAY.isoformat(), *config]).exit_code == 0
    as_it_was = report_files(monday)
    assert runner.invoke(main, ["nightly", "--date", (MONDAY + timedelta(days=1)).isoformat(),
                                *config]).exit_code == 0
    # Since Monday's report: Tuesday's proposals wait for a manager, and Monday's first
    # callback is done.
    with ledger_of(tmp_path) as ledger:
        assert ledger.blacklist("pending")
        first = ledger.callbacks()[0]["id"]
        ledger.callback_result(first, "done", "回访组", "客户确认")
    result = runner.invoke(main, ["nightly", "--date", MONDAY.isoformat(), *config])
    assert result.exit_code == 0, result.output
    again = report_files(monday)
    for name in ("blacklist_pending.csv", "callbacks_due.csv", "trend.csv", "totals.csv",
                 "agents.csv", "report.html"):
        assert again[name] == as_it_was[name], name
    assert len(as_it_was["callbacks_due.csv"].splitlines()) == 11  # header + 10 invalid sales


def test_re_running_a_night_does_not_raise_its_alerts_again(tmp_path):
    config = two_nights(tmp_path)
    runner = CliRunner()
    args = ["nightly", "--date", MONDAY.isoformat(), *config, "--fail-on-alert", "warning"]
    first = runner.invoke(main, args)
    assert first.exit_code == 5, first.output
    assert "ALERT warning: consent-violations" in first.output
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output  # nothing new to alert anyone about
    assert "ALERT" not in again.output
    assert "already raised" in again.output and "consent-violations" in again.output
    alerts = json.loads((tmp_path / "reports" / MONDAY.isoformat() / "alerts.json")
                        .read_text(encoding="utf-8"))["alerts"]
    consent = next(a for a in alerts if a["warning_id"] == "consent-violations")
    assert consent["level"] == "warning" and consent["new"] is False
    assert consent["first_raised_at"]


def test_an_agent_flagged_by_the_nights_failed_call_is_sampled_more(tmp_path):
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    calls = night(MONDAY, threats=0)
    calls[0]["turns"][3] = {**MUMBLE, "start": 15.0, "end": 19.0}  # A01: one invalid sale
    folder = tmp_path / "transcripts" / MONDAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "calls.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    assert CliRunner().invoke(main, ["init", "--path", str(tmp_path / "callaudit.yaml")]
                              ).exit_code == 0
    result = CliRunner().invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                       str(tmp_path / "callaudit.yaml")])
    assert result.exit_code == 0, result.output
    sample = (tmp_path / "reports" / MONDAY.isoformat() / "tables" / "sample.csv").read_text(
        encoding="utf-8-sig")
    with ledger_of(tmp_path) as ledger:
        agents = [ledger.db.execute("SELECT agent_id FROM calls WHERE call_id = ?",
                                    (line.split(",")[1],)).fetchone()[0]
                  for line in sample.splitlines()[1:]]
    # A01's 9 valid sales at the flagged agents' 30%: 3; the others' 10 at 10%: 1 each.
    assert sorted(agents) == ["A01", "A01", "A01", "A02", "A04", "A05", "A06"]


def test_the_weekly_report_shows_a_managers_reason_masked_and_escaped(week, tmp_path):
    # A reason is typed by a person: it may hold a customer's number, or a pasted escape
    # sequence that would clear the operator's terminal (or the mailed report).
    root = tmp_path / "centre"
    shutil.copytree(week, root)
    with ledger_of(root) as ledger, ledger.transaction():
        ledger.db.execute("UPDATE blacklist SET status = 'rejected', decided_by = 'Wang', "
                          "reason = ? WHERE id = (SELECT MIN(id) FROM blacklist)",
                          ("客户13912345678说误会\x1b[2J",))
    result = CliRunner().invoke(main, ["report", "weekly", "--week", "2026-W48",
                                       "--config", str(root / "callaudit.yaml")])
    assert result.exit_code == 0, result.output
    assert "13912345678" not in result.output and "\x1b" not in result.output
    assert "blacklist rejected by Wang: 客户139****5678说误会\\x1b[2J" in result.output
