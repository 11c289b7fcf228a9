"""Recordings in: channels, utterances, speakers and times; an opt-out spoken in a
recording is found by the audit; a mono recording says what it could not check."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.audio.transcribe import (
    TranscribeOptions,
    cached_engine,
    load_engine,
    name_fields,
    transcribe_recording,
)
from engine.audio.wav import AudioError, read_recording
from engine.audit import PackChooser, audit_call
from engine.model import Call
from engine.transcripts import load_calls
from tests.conftest import REPO

AUDIO = REPO / "tests" / "fixtures" / "audio"
STEREO, MONO = AUDIO / "stereo_optout.wav", AUDIO / "mono_optout.wav"
# When each scripted line starts (tools/make_test_recordings.py), and who says it.
SCRIPT = [("agent", 0.5), ("customer", 3.5), ("agent", 5.5), ("customer", 9.5), ("agent", 12.5)]


@pytest.fixture(scope="module")
def stereo_call() -> dict:
    options = TranscribeOptions()
    return transcribe_recording(STEREO, cached_engine(options), options)


def test_recordings_are_read_as_16khz_channels():
    stereo, mono = read_recording(STEREO), read_recording(MONO)
    assert len(stereo.channels) == 2 and len(mono.channels) == 1
    assert stereo.seconds == pytest.approx(16.0) and mono.seconds == pytest.approx(16.0)


def test_other_rates_and_widths_are_converted(tmp_path):
    path = tmp_path / "phone.wav"
    with wave.open(str(path), "wb") as handle:  # 8 kHz, 8-bit: what old call recorders write
        handle.setnchannels(1)
        handle.setsampwidth(1)
        handle.setframerate(8000)
        handle.writeframes(bytes([128]) * 8000)
    assert read_recording(path).seconds == pytest.approx(1.0, abs=0.01)


def test_unreadable_recordings_say_why(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....not audio")
    with pytest.raises(AudioError, match="not a readable WAV file"):
        read_recording(broken)


def test_every_scripted_line_is_a_turn_of_the_right_speaker_at_the_right_time(stereo_call):
    turns = stereo_call["turns"]
    for speaker, start in SCRIPT:
        assert any(t["speaker"] == speaker and abs(t["start"] - start) < 0.3 for t in turns), \
            (speaker, start, turns)
    assert [t["start"] for t in turns] == sorted(t["start"] for t in turns)
    assert all(t["end"] > t["start"] for t in turns)
    assert stereo_call["call_id"] == "REC-stereo_optout"  # from the sidecar
    assert stereo_call["agent_id"] == "A042"


def test_an_opt_out_spoken_in_a_recording_is_found_by_the_audit():
    (call,) = [c for c in load_calls([STEREO]) if isinstance(c, Call)]
    result = audit_call(PackChooser(REPO / "rules").for_call(call), call)
    assert result.verdict.signals == ("opt_out",)
    (finding,) = [f for f in result.findings if f.standard == "opt_out"]
    assert finding.evidence[0].speaker == "customer"
    assert finding.evidence[0].start == pytest.approx(9.5, abs=0.3)


def test_a_mono_recording_has_no_speakers_and_the_audit_says_so():
    (call,) = [c for c in load_calls([MONO]) if isinstance(c, Call)]
    assert {t.speaker for t in call.turns} == {"unknown"}
    result = audit_call(PackChooser(REPO / "rules").for_call(call), call)
    assert result.verdict.signals == ()  # the opt-out rule needs to know the customer spoke
    assert "have no known speaker" in result.verdict.notes[0]


def test_metadata_from_the_file_name():
    assert name_fields(Path("C001_A17_13800138000.wav"), "{call_id}_{agent_id}_{customer_phone}") \
        == {"call_id": "C001", "agent_id": "A17", "customer_phone": "13800138000"}
    assert name_fields(Path("other.wav"), "{call_id}_{agent_id}") == {}


@pytest.mark.parametrize(
    ("engine", "message"),
    [("whisper", "the whisper engine needs a local model directory"),
     ("vosk", "the vosk engine needs a local model directory"),
     ("nope", "unknown engine 'nope'")],
)
def test_engines_that_need_a_model_say_so(engine, message):
    with pytest.raises(AudioError, match=message):
        load_engine(TranscribeOptions(engine=engine))


def test_transcribe_command_writes_calls_and_lists_what_it_could_not_read(tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    (folder / "stereo.wav").write_bytes(STEREO.read_bytes())
    (folder / "broken.wav").write_bytes(b"RIFF....")
    out = tmp_path / "calls.jsonl"
    result = CliRunner().invoke(main, ["transcribe", str(folder), "--out", str(out),
                                       "--name-pattern", "{call_id}"])
    assert result.exit_code == 0, result.output
    assert "broken.wav: not a readable WAV file" in result.output
    assert "transcribed 1 recording(s)" in result.output
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["call_id"] == "stereo" and record["recording"]["channels"] == 2
    assert {t["speaker"] for t in record["turns"]} == {"agent", "customer"}
