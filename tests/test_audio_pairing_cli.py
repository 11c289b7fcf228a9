"""`callaudit transcribe` on calls recorded as two mono files, with the platform's
call-record CSV (Chinese headers): one call per pair, a lone half refused while the batch
goes on, and resume that redoes a call when either half changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.audio import batch as audio_batch
from engine.audio import transcribe as audio_transcribe
from tests.test_audio_formats import SCRIPT, Stub, sox, synthetic_call

# Importing test_audio_formats skips (or, in CI, fails) this module without espeak-ng/sox.

# As a platform exports them: Chinese headers, GB18030, start times with their offset.
CALL_RECORDS = ("录音编号,坐席工号,客户号码,开始时间,产品名称\n"
                "C1,A017,13800138000,2026-11-23T10:00:00+08:00,安心保\n"
                "C2,A018,13900139000,2026-11-23T10:05:00+08:00,流量包\n")


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A short synthetic call: 16 kHz stereo, agent left, customer right."""
    return synthetic_call(tmp_path_factory.mktemp("pairing"))


@pytest.fixture
def transcribed(monkeypatch) -> list[str]:
    """The stub engine in place of a model; the calls this process transcribed, by id."""
    monkeypatch.setattr(audio_transcribe, "cached_engine", lambda options: Stub())
    done: list[str] = []
    real = audio_batch.one

    def one(item):
        done.append(getattr(item, "call_id", None) or item.stem)
        return real(item)

    monkeypatch.setattr(audio_batch, "one", one)
    return done


def _calls(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _pairs(original: Path, folder: Path, agent: str, customer: str, ids: list[str]) -> None:
    folder.mkdir()
    for call_id in ids:
        sox(original, folder / agent.format(call_id=call_id), "remix", "1")
        sox(original, "-r", "8000", "-e", "u-law", folder / customer.format(call_id=call_id),
            "remix", "2")


def test_two_mono_files_per_call_become_one_call_with_its_call_record(original, tmp_path,
                                                                      transcribed):
    folder = tmp_path / "recs"
    _pairs(original, folder, "{call_id}-agent.wav", "{call_id}-customer.wav", ["C1", "C2"])
    sox(original, folder / "C3-agent.wav", "remix", "1")  # its customer's half is missing
    records = tmp_path / "话单.csv"
    records.write_bytes(CALL_RECORDS.encode("gb18030"))
    out = tmp_path / "calls.jsonl"
    args = ["transcribe", str(folder), "--out", str(out), "--call-records", str(records)]

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert (f"rejected: {folder / 'C3-agent.wav'}: the customer's half of call C3 is "
            f"missing: no C3-customer.wav beside it — put C3-customer.wav in {folder}") \
        in first.output
    assert "transcribed 2 recording(s)" in first.output
    calls = _calls(out)
    assert [c["call_id"] for c in calls] == ["C1", "C2"]
    assert [{k: c[k] for k in ("agent_id", "customer_phone", "started_at", "product")}
            for c in calls] == [
        {"agent_id": "A017", "customer_phone": "13800138000",
         "started_at": "2026-11-23T10:00:00+08:00", "product": "安心保"},
        {"agent_id": "A018", "customer_phone": "13900139000",
         "started_at": "2026-11-23T10:05:00+08:00", "product": "流量包"}]
    for call in calls:
        assert [t["speaker"] for t in call["turns"]] == [s for s, _, _ in SCRIPT]
        assert call["recording"]["files"] == [str(folder / f"{call['call_id']}-agent.wav"),
                                              str(folder / f"{call['call_id']}-customer.wav")]
        assert call["recording"]["channels"] == 2
    assert sorted(transcribed) == ["C1", "C2"]

    # Unchanged pairs are copied from the earlier output, not transcribed again.
    transcribed.clear()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "transcribed 0 recording(s)" in again.output and "2 unchanged, skipped" in again.output
    assert transcribed == [] and _calls(out) == calls

    # One half of C2 changes (the customer's, now 16 kHz): that call alone is redone.
    sox(original, folder / "C2-customer.wav", "remix", "2")
    transcribed.clear()
    third = CliRunner().invoke(main, args)
    assert third.exit_code == 0, third.output
    assert transcribed == ["C2"]
    assert "transcribed 1 recording(s)" in third.output and "1 unchanged, skipped" in third.output
    assert [c["call_id"] for c in _calls(out)] == ["C1", "C2"]
    assert _calls(out)[1]["recording"]["format"] == "WAV 16-bit PCM"


def test_the_pair_and_call_records_come_from_the_workspace(original, tmp_path, transcribed):
    assert CliRunner().invoke(main, ["init", str(tmp_path / "ws"), "--no-git"]).exit_code == 0
    workspace = tmp_path / "ws"
    folder = workspace / "recs"
    _pairs(original, folder, "{call_id}_A.wav", "{call_id}_C.wav", ["C1"])
    (workspace / "records.csv").write_text(
        "ID,Seat,Callee,When\nC1,A017,138,2026-11-23T10:00:00+08:00\n", encoding="utf-8")
    config = workspace / "callaudit.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "recordings:\n"
        "  folder: recs\n"
        '  pair: "{call_id}_A.wav,{call_id}_C.wav"\n'
        "  call_records:\n"
        "    file: records.csv\n"
        "    columns: {call_id: ID, agent_id: Seat, customer_phone: Callee, started_at: When}\n"),
        encoding="utf-8")
    out = tmp_path / "calls.jsonl"
    result = CliRunner().invoke(main, ["transcribe", str(folder), "--out", str(out),
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output
    (call,) = _calls(out)
    assert (call["call_id"], call["agent_id"], call["customer_phone"], call["started_at"]) == \
        ("C1", "A017", "138", "2026-11-23T10:00:00+08:00")
    assert {t["speaker"] for t in call["turns"]} == {"agent", "customer"}


def test_a_bad_pair_pattern_is_refused_before_any_file_is_read(tmp_path, transcribed):
    out = tmp_path / "calls.jsonl"
    result = CliRunner().invoke(main, ["transcribe", str(tmp_path), "--out", str(out),
                                       "--pair", "{call_id}_A.wav"])
    assert result.exit_code != 0
    assert "--pair: a pair is two file names separated by a comma" in result.output
    assert transcribed == [] and not out.exists()
