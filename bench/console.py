"""Server time of the web console's pages on a big ledger, and the query plans behind them.

    python -m bench.console                          # 1,000,000 calls over 30 nights
    python -m bench.console --calls 200000 --keep /tmp/big   # keep the workspace to look at

The ledger is filled with SQL in bulk (the nightly audit would take an hour for a million
calls), in the ledger's own schema: calls spread over the nights and agents, about 1.5
findings a call, callbacks for the invalid sales, blacklist proposals, reviews, the nights'
samples, and each night's transcripts as a JSON Lines file the call page reads back. Each
page is requested through the console's ASGI app (no network), signed in as a manager;
the figure is the median of several requests, after one that warms the caches.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from engine.actions.ledger import Ledger
from engine.nightly.config import load_config
from engine.users import add_user
from engine.workspace import lay_out

AGENTS = [f"A{n:03d}" for n in range(1, 301)]
RULES = [("activation-without-explicit-consent", "consent", "critical"),
         ("fee-not-stated", "script", "major"), ("identity-not-verified", "identity", "major"),
         ("emotional-pressure", "forbidden_phrase", "major"),
         ("customer-asks-not-to-be-called", "opt_out", "info"),
         ("complaint-threat", "complaint_risk", "major")]
TURN = {"speaker": "customer", "text": "我要投诉你们，以后别再打了，我的号码是13812345678",
        "start": 30.0, "end": 34.0}


def build(folder: Path, calls: int, nights: int, seed: int = 7) -> Path:
    """A workspace whose ledger holds CALLS calls over NIGHTS nights ending yesterday."""
    lay_out(folder)
    config = load_config(folder / "callaudit.yaml")
    rng = random.Random(seed)
    last = date.today() - timedelta(days=1)
    per_night = calls // nights
    with Ledger(config.database) as ledger:
        add_user(ledger, "bench", "bench-password", ("manager", "qa", "compliance"), "bench")
        db = ledger.db
        db.execute("PRAGMA synchronous = OFF")
        number = 0
        for back in range(nights - 1, -1, -1):
            night = last - timedelta(days=back)
            transcripts = folder / "transcripts" / night.isoformat()
            transcripts.mkdir(parents=True, exist_ok=True)
            path = transcripts / "calls.jsonl"
            call_rows, finding_rows, callback_rows, blacklist_rows = [], [], [], []
            offset = 0
            with path.open("wb") as out:
                for _ in range(per_night):
                    number += 1
                    call_id = f"C{number:08d}"
                    started = f"{night.isoformat()}T{rng.randrange(9, 21):02d}:" \
                              f"{rng.randrange(60):02d}:00+08:00"
                    agent = rng.choice(AGENTS)
                    phone = f"+86138{number:08d}"
                    sale = rng.random() < 0.4
                    valid = None if not sale else int(rng.random() < 0.7)
                    record = {"call_id": call_id, "call_type": "sale", "language": "zh",
                              "agent_id": agent, "customer_phone": phone[3:],
                              "started_at": started,
                              "turns": [{"speaker": "agent", "text": "您好，我是客服小王",
                                         "start": 1.0, "end": 3.0}, TURN]}
                    line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
                    out.write(line)
                    found = []
                    for rule_id, standard, severity in RULES:
                        if rng.random() < (0.35 if valid == 0 or standard in
                                           ("opt_out", "complaint_risk") else 0.12):
                            found.append((rule_id, standard, severity))
                    violations = sorted({s for _, s, _ in found if s in
                                         ("consent", "script", "identity")}) if valid == 0 \
                        else []
                    call_rows.append((call_id, "sha256:x", "zh-CN-telecom@2.0.0", "sha256:p",
                                      "sha256:q", "sale", agent, phone, started, None, valid,
                                      json.dumps(violations), "[]", "[]", "[]", started,
                                      f"{path}:{number}", offset))
                    offset += len(line)
                    for index, (rule_id, standard, severity) in enumerate(found):
                        evidence = json.dumps([{"turn": 1, "speaker": "customer",
                                                "char_start": 0, "char_end": 5,
                                                "quote": TURN["text"][:5], "text": TURN["text"],
                                                "start": 30.0, "end": 34.0}],
                                              ensure_ascii=False)
                        finding_rows.append((f"fp-{call_id}-{index}", "sha256:p", call_id,
                                             rule_id, standard, severity, "message", evidence,
                                             "rules/zh-CN/x.yaml:1:1", started))
                    if valid == 0:
                        callback_rows.append((call_id, phone, agent, "critical",
                                              json.dumps(violations), "[]",
                                              (night + timedelta(days=1)).isoformat(),
                                              "open" if back < 3 else "done", started))
                    if any(s == "complaint_risk" for _, s, _ in found) and rng.random() < 0.1:
                        blacklist_rows.append((phone, call_id, agent, "[]",
                                               "pending" if back < 5 else "approved", started))
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO calls(call_id, content_hash, rule_pack, rule_pack_hash, "
                "policy_hash, call_type, agent_id, phone, started_at, related_call_id, valid, "
                "violations, signals, outcomes, actions, audited_at, source, source_offset) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", call_rows)
            db.executemany(
                "INSERT INTO findings(fingerprint, rule_pack_hash, call_id, rule_id, standard, "
                "severity, message, evidence, rule_source, recorded_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)", finding_rows)
            db.executemany(
                "INSERT INTO callbacks(call_id, phone, agent_id, severity, reasons, points, "
                "due_date, status, created_at) VALUES (?,?,?,?,?,?,?,?,?)", callback_rows)
            db.executemany(
                "INSERT OR IGNORE INTO blacklist(phone, call_id, agent_id, evidence, status, "
                "proposed_at) VALUES (?,?,?,?,?,?)", blacklist_rows)
            sampled = [row[0] for row in rng.sample(call_rows, min(30, len(call_rows)))]
            db.execute("INSERT INTO samplings(kind, period, drawn_at, drawn_by, rates, seed, "
                       "calls) VALUES ('daily', ?, ?, 'bench', '{}', 7, ?)",
                       (night.isoformat(), night.isoformat(), json.dumps(sampled)))
            reviewed = rng.sample(finding_rows, min(200, len(finding_rows)))
            db.executemany(
                "INSERT INTO reviews(fingerprint, rule_id, call_id, verdict, by, note, kind, "
                "at, standard) VALUES (?,?,?,?,?,'', 'review', ?, ?)",
                [(f[0], f[3], f[2], rng.choice(("upheld", "upheld", "overturned")), "qa",
                  f[9], f[4]) for f in reviewed])
            db.execute("COMMIT")
        db.execute("ANALYZE")
    return folder


PAGES = {
    "home": "/",
    "blacklist queue": "/queues/blacklist",
    "callbacks queue": "/queues/callbacks",
    "review queue": "/queues/review",
    "call page": "/calls/{call}",
    "calls of a night": "/calls?night={night}&valid=no",
    "agents (7 nights)": "/agents",
    "an agent": "/agents/A001",
    "search a number": "/search?q={phone}",
}


def time_pages(folder: Path, repeat: int) -> dict[str, list[float]]:
    from starlette.testclient import TestClient

    from webconsole.app import create_app

    app = create_app(load_config(folder / "callaudit.yaml"))
    client = TestClient(app, base_url="https://bench")
    signed = client.post("/login", data={"name": "bench", "password": "bench-password"},
                         follow_redirects=False)
    assert signed.status_code == 303, signed.text
    with Ledger(load_config(folder / "callaudit.yaml").database) as ledger:
        call, phone, started_at = ledger.db.execute(
            "SELECT call_id, phone, started_at FROM calls ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    times: dict[str, list[float]] = {}
    for name, path in PAGES.items():
        target = path.format(call=call, phone=phone, night=started_at[:10])
        first = client.get(target)
        if first.status_code == 404 and name == "call page":
            continue  # the call page is not in this build
        assert first.status_code == 200, (target, first.status_code, first.text[:300])
        times[name] = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(target)
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    return times


def plans(folder: Path) -> list[tuple[str, list[str]]]:
    """EXPLAIN QUERY PLAN of the queries the pages run most."""
    night = (date.today() - timedelta(days=1)).isoformat()
    after = (date.today()).isoformat()
    queries = {
        "night figures": ("SELECT count(*), count(valid), sum(valid = 1) FROM calls WHERE "
                          "started_at >= ? AND started_at < ?", (night, after)),
        "blacklist pending": ("SELECT b.* FROM blacklist b LEFT JOIN calls c ON c.call_id = "
                              "b.call_id WHERE b.status = ? ORDER BY b.id LIMIT 50",
                              ("pending",)),
        "callbacks open": ("SELECT k.* FROM callbacks k WHERE k.status = ? ORDER BY "
                           "k.due_date, k.id LIMIT 50", ("open",)),
        "night findings": ("SELECT fi.* FROM findings fi JOIN calls c ON c.call_id = "
                           "fi.call_id WHERE c.started_at >= ? AND c.started_at < ? AND "
                           "fi.active = 1 ORDER BY c.started_at, c.call_id, fi.rowid LIMIT 50",
                           (night, after)),
        "latest review": ("SELECT verdict FROM reviews WHERE fingerprint = ? ORDER BY id DESC "
                          "LIMIT 1", ("fp",)),
        "a call": ("SELECT * FROM calls WHERE call_id = ?", ("C00000001",)),
    }
    found = []
    with Ledger(load_config(folder / "callaudit.yaml").database) as ledger:
        for name, (sql, args) in queries.items():
            rows = ledger.db.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
            found.append((name, [row[3] for row in rows]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it")
    options = parser.parse_args()
    scratch = None
    if options.keep:
        folder = options.keep
        if not (folder / "callaudit.yaml").is_file():
            started = time.perf_counter()
            build(folder, options.calls, options.nights)
            print(f"built {options.calls:,} calls in {time.perf_counter() - started:.0f} s")
    else:
        scratch = tempfile.mkdtemp(prefix="bench-console-")
        folder = Path(scratch)
        started = time.perf_counter()
        build(folder, options.calls, options.nights)
        print(f"built {options.calls:,} calls in {time.perf_counter() - started:.0f} s")
    try:
        for name, steps in plans(folder):
            print(f"{name}: " + " | ".join(steps))
        print(f"\nserver time, median of {options.repeat} (min–max), ms:")
        for name, times in time_pages(folder, options.repeat).items():
            ms = [t * 1000 for t in times]
            print(f"  {name:<18} {statistics.median(ms):7.1f}   ({min(ms):.1f}–{max(ms):.1f})")
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
