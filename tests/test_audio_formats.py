"""Recordings as call platforms store them: G.711 μ-law and A-law WAV at 8 kHz, 32-bit
WAVE_FORMAT_EXTENSIBLE, MP3, Ogg/Opus; one stereo file or two mono files per call; a
call-record CSV with Chinese headers beside them. Each gives the speakers and turn times
(within 0.2 s, in the original file's seconds) of the 16-bit PCM original.

The calls are made here: espeak-ng speaks a short script, sox converts it. Without them the
tests skip, except where CALLAUDIT_AUDIO_REQUIRED=1 (CI, .ci/run) makes them fail."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.audio.engines import Heard
from engine.audio.formats import AudioError, read_recording
from engine.audio.transcribe import (
    PairedCall,
    TranscribeOptions,
    pair_recordings,
    parse_pair,
    read_call_records,
    transcribe_recording,
)
from tests.conftest import REPO

TOOLS = ("espeak-ng", "sox")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]
if MISSING:
    if os.environ.get("CALLAUDIT_AUDIO_REQUIRED") == "1":
        pytest.fail(f"CALLAUDIT_AUDIO_REQUIRED=1 but {', '.join(MISSING)} not installed "
                    "(apt-get install espeak-ng sox libsox-fmt-all)", pytrace=False)
    pytest.skip(f"needs {', '.join(MISSING)} (apt-get install espeak-ng sox libsox-fmt-all)",
                allow_module_level=True)

# A few seconds of call: who speaks, when, what.
SCRIPT = [("agent", 0.3, "Hello, this is the bank."),
          ("customer", 2.4, "Please stop calling me."),
          ("agent", 4.6, "Goodbye.")]
SECONDS = 6.0
TOLERANCE = 0.2


class Stub:
    """Hears something in every utterance: these tests compare speakers and times."""

    name = "stub"

    def transcribe(self, pcm: bytes) -> Heard:
        return Heard("words")


def sox(*args: object) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def synthetic_call(folder: Path, script: list = SCRIPT, seconds: float = SECONDS) -> Path:
    """SCRIPT spoken by espeak-ng as a call: FOLDER/original.wav, 16 kHz 16-bit PCM stereo,
    the agent on the left (tools/make_test_recordings.py)."""
    spec = importlib.util.spec_from_file_location("make_test_recordings",
                                                  REPO / "tools" / "make_test_recordings.py")
    maker = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_test_recordings", maker)
    spec.loader.exec_module(maker)
    agent, customer = maker.tracks(script, seconds, folder)
    original = folder / "original.wav"
    maker.write(original, [agent, customer])
    return original


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    """The original (16 kHz 16-bit PCM stereo, agent left) and its conversions."""
    folder = tmp_path_factory.mktemp("formats")
    original = synthetic_call(folder)
    sox(original, "-r", "8000", "-e", "u-law", folder / "ulaw.wav")
    sox(original, "-r", "8000", "-e", "a-law", folder / "alaw.wav")
    sox(original, "-b", "32", "-e", "signed-integer", folder / "ext32.wav")
    sox(original, "-r", "8000", folder / "call.mp3")
    sox(original, "-r", "44100", folder / "cd.wav")
    import soundfile  # sox in Debian writes no Opus; libsndfile does

    data, rate = soundfile.read(original, dtype="int16")
    soundfile.write(folder / "call.opus", data, rate, format="OGG", subtype="OPUS")
    pairs = folder / "pairs"
    pairs.mkdir()
    sox(original, pairs / "C7-agent.wav", "remix", "1")
    sox(original, "-r", "8000", "-e", "u-law", pairs / "C7-customer.wav", "remix", "2")
    sox(original, pairs / "C8_A.wav", "remix", "1")
    sox(original, pairs / "C8_C.wav", "remix", "2")
    sox(original, pairs / "C9-customer.wav", "remix", "2")
    return folder


def turns(call: Path | PairedCall, **options) -> list[tuple[str, float, float]]:
    record = transcribe_recording(call, Stub(), TranscribeOptions(**options))
    return [(t["speaker"], t["start"], t["end"]) for t in record["turns"]]


def assert_same_turns(got: list, expected: list) -> None:
    assert [s for s, _, _ in got] == [s for s, _, _ in expected], (got, expected)
    for (_, start, end), (_, want_start, want_end) in zip(got, expected, strict=True):
        assert abs(start - want_start) <= TOLERANCE and abs(end - want_end) <= TOLERANCE, \
            (got, expected)


def test_the_original_has_each_scripted_line_as_a_turn(calls):
    got = turns(calls / "original.wav")
    assert [s for s, _, _ in got] == [s for s, _, _ in SCRIPT]
    for (_, start, _), (_, want, _) in zip(got, SCRIPT, strict=True):
        assert abs(start - want) <= 0.3


@pytest.mark.parametrize(("name", "described", "rate"), [
    ("ulaw.wav", "WAV μ-law", 8000),
    ("alaw.wav", "WAV A-law", 8000),
    ("ext32.wav", "WAV (extensible) 32-bit PCM", 16000),
    ("cd.wav", "WAV 16-bit PCM", 44100),
    ("call.mp3", "MP3", 8000),
    ("call.opus", "Ogg Opus", 16000),
])
def test_each_format_gives_the_originals_speakers_and_times(calls, name, described, rate):
    recording = read_recording(calls / name)
    assert (recording.format, recording.source_rate, len(recording.channels)) == \
        (described, rate, 2)
    assert recording.seconds == pytest.approx(SECONDS, abs=0.25)  # MP3 pads to whole frames
    assert_same_turns(turns(calls / name), turns(calls / "original.wav"))


def test_the_agent_on_the_right_swaps_the_speakers(calls):
    swapped = [({"agent": "customer", "customer": "agent"}[s], a, b)
               for s, a, b in turns(calls / "original.wav")]
    assert_same_turns(turns(calls / "ulaw.wav", agent_channel="right"), swapped)


def test_two_mono_files_per_call_are_paired_by_name(calls):
    folder = calls / "pairs"
    found, problems = pair_recordings(sorted(folder.iterdir()))
    paired = [c for c in found if isinstance(c, PairedCall)]
    assert [(c.call_id, c.agent.name, c.customer.name) for c in paired] == \
        [("C7", "C7-agent.wav", "C7-customer.wav")]
    record = transcribe_recording(paired[0], Stub(), TranscribeOptions())
    assert record["call_id"] == "C7"
    assert record["recording"]["files"] == [str(folder / "C7-agent.wav"),
                                            str(folder / "C7-customer.wav")]
    got = [(t["speaker"], t["start"], t["end"]) for t in record["turns"]]
    assert_same_turns(got, turns(calls / "original.wav"))
    ((lone, error),) = problems  # C9 has only a customer's half
    assert lone.name == "C9-customer.wav"
    assert error.reason == "the agent's half of call C9 is missing: no C9-agent.wav beside it"


def test_a_pattern_the_user_gives_pairs_other_names(calls):
    folder = calls / "pairs"
    found, _ = pair_recordings(sorted(folder.iterdir()),
                               parse_pair("{call_id}_A.wav,{call_id}_C.wav"))
    (pair,) = [c for c in found if isinstance(c, PairedCall)]
    assert (pair.call_id, pair.agent.name, pair.customer.name) == ("C8", "C8_A.wav", "C8_C.wav")
    assert_same_turns(turns(pair), turns(calls / "original.wav"))


@pytest.mark.parametrize(("text", "message"), [
    ("{call_id}_A.wav", "two file names separated by a comma"),
    ("{call_id}_A.wav,{agent_id}_C.wav", "must hold {call_id} once"),
    ("{call_id}.wav,{call_id}.wav", "must differ"),
])
def test_a_bad_pair_pattern_says_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_pair(text)


CSV_ROWS = ("录音编号,坐席工号,客户号码,开始时间,产品名称,备注\n"
            "C7,A017,13800138000,2026-11-23T10:00:00+08:00,安心保,\n"
            "C8,A018,13900139000,2026-11-23T10:05:00+08:00,流量包,回访\n")


def test_call_records_with_chinese_headers_need_no_mapping(calls, tmp_path):
    records = tmp_path / "话单.csv"
    records.write_bytes(CSV_ROWS.encode("gb18030"))  # as platforms export them
    options = TranscribeOptions(call_records=read_call_records(records))
    pair = PairedCall("C7", calls / "pairs" / "C7-agent.wav", calls / "pairs" / "C7-customer.wav")
    record = transcribe_recording(pair, Stub(), options)
    assert {k: record[k] for k in ("call_id", "agent_id", "customer_phone", "started_at",
                                   "product")} == \
        {"call_id": "C7", "agent_id": "A017", "customer_phone": "13800138000",
         "started_at": "2026-11-23T10:00:00+08:00", "product": "安心保"}
    assert_same_turns([(t["speaker"], t["start"], t["end"]) for t in record["turns"]],
                      turns(calls / "original.wav"))


def test_call_record_columns_mapped_by_the_workspace(tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("ID,Seat,Callee,When,Offer\nC7,A017,138,2026-11-23T10:00:00+08:00,X\n",
                       encoding="utf-8")
    columns = {"call_id": "ID", "agent_id": "Seat", "customer_phone": "Callee",
               "started_at": "When", "product": "Offer"}
    assert read_call_records(records, columns)["C7"] == {
        "call_id": "C7", "agent_id": "A017", "customer_phone": "138",
        "started_at": "2026-11-23T10:00:00+08:00", "product": "X"}
    with pytest.raises(AudioError, match="no column 'Agent' \\(mapped to agent_id\\)"):
        read_call_records(records, {**columns, "agent_id": "Agent"})
    (tmp_path / "none.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(AudioError, match="no call id or file column"):
        read_call_records(tmp_path / "none.csv")


def test_m4a_without_pyav_is_refused_naming_its_format(tmp_path, monkeypatch):
    m4a = tmp_path / "call.m4a"
    m4a.write_bytes(b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom" + b"\0" * 64 + b"mp4a" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "av", None)  # as without the callaudit[av] extra
    with pytest.raises(AudioError) as refused:
        read_recording(m4a)
    assert refused.value.reason == "AAC in an M4A container: install callaudit[av] to read it"


def test_a_wav_codec_libsndfile_cannot_read_is_named(tmp_path, monkeypatch):
    wav = tmp_path / "g729.wav"
    fmt = (0x0055).to_bytes(2, "little") + b"\x01\0" + (8000).to_bytes(4, "little") + b"\0" * 8
    wav.write_bytes(b"RIFF\x30\0\0\0WAVEfmt \x10\0\0\0" + fmt + b"data\x04\0\0\0\xff\xfb\0\0")
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(AudioError, match="MP3 in a WAV file: install callaudit\\[av\\]"):
        read_recording(wav)


def test_the_workspace_says_how_its_platform_lays_out_calls(tmp_path):
    from engine.nightly.config import load_config
    from engine.rules.problems import RulePackError

    config = tmp_path / "callaudit.yaml"
    config.write_text("recordings:\n  pair: '{call_id}_A.wav,{call_id}_C.wav'\n"
                      "  call_records:\n    file: 话单.csv\n"
                      "    columns: {call_id: 录音编号, agent_id: 坐席工号}\n", encoding="utf-8")
    loaded = load_config(config)
    assert loaded.pair == ("{call_id}_A.wav", "{call_id}_C.wav")
    assert loaded.call_records == (tmp_path / "话单.csv").resolve()
    assert loaded.call_record_columns == (("call_id", "录音编号"), ("agent_id", "坐席工号"))
    config.write_text("recordings:\n  pair: '{call_id}_A.wav'\n  call_records:\n"
                      "    columns: {call_idd: 录音编号}\n", encoding="utf-8")
    with pytest.raises(RulePackError) as wrong:
        load_config(config)
    assert [(p.location.line, p.message) for p in wrong.value.problems] == [
        (2, "a pair is two file names separated by a comma, not '{call_id}_A.wav'"),
        (4, "unknown key 'call_idd' in columns")]
