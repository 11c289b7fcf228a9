"""Recordings as call platforms store them: long batches resume and tell their speed, the
nightly job takes a folder of recordings, the whisper/vosk path works for Mandarin with
a stand-in engine, and `check` tells where in the recording each evidence turn is."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.audio import batch as audio_batch
from engine.audio.batch import Speed, state_path, transcribe_batch
from engine.audio.transcribe import TranscribeOptions
from tests.conftest import REPO

AUDIO = REPO / "tests" / "fixtures" / "audio"
STEREO, MONO = AUDIO / "stereo_optout.wav", AUDIO / "mono_optout.wav"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def counted(monkeypatch) -> list[Path]:
    """The recordings this process transcribed (the real engine still runs)."""
    done: list[Path] = []
    real = audio_batch.one

    def one(path: Path):
        done.append(path.resolve())
        return real(path)

    monkeypatch.setattr(audio_batch, "one", one)
    return done


def test_resume_skips_unchanged_recordings_and_redoes_changed_ones(tmp_path, counted):
    folder = tmp_path / "recs"
    folder.mkdir()
    a, b = folder / "a.wav", folder / "b.wav"
    shutil.copy(STEREO, a)
    shutil.copy(MONO, b)
    out = tmp_path / "calls.jsonl"
    options = TranscribeOptions()
    first = transcribe_batch([a, b], out, options)
    assert (first.done, first.skipped) == (2, 0) and len(counted) == 2
    assert state_path(out).is_file() and state_path(out).name.startswith(".")
    before = _records(out)

    counted.clear()
    again = transcribe_batch([a, b], out, options)
    assert (again.done, again.skipped, counted) == (0, 2, [])
    assert _records(out) == before  # still written whole, the same records

    # A touched file with the same content is still unchanged; an edited one is redone,
    # and so is a new one.
    os.utime(a, ns=(1, 1))
    shutil.copy(STEREO, b)  # b now holds other audio
    c = folder / "c.wav"
    shutil.copy(MONO, c)
    counted.clear()
    third = transcribe_batch([a, b, c], out, options)
    assert sorted(counted) == [b.resolve(), c.resolve()]
    assert (third.done, third.skipped) == (2, 1)
    records = _records(out)
    assert [Path(r["recording"]["file"]).name for r in records] == ["a.wav", "b.wav", "c.wav"]
    assert records[1]["recording"]["channels"] == 2  # b's new audio

    # Other options (the agent on the other channel) make every record different.
    counted.clear()
    other = transcribe_batch([a], out, TranscribeOptions(agent_channel="right"))
    assert (other.done, other.skipped) == (1, 0) and counted == [a.resolve()]


def test_speed_figures_in_progress_and_summary():
    speed = Speed(0.0, lambda: 120.0, done=42, skipped=12,
                  audio_seconds=31.5 * 60)
    assert speed.progress() == "31.5 audio min, 15.8 audio min/min"
    assert speed.summary() == ("transcribed 42 recording(s), 31.5 audio minutes in 2.0 min "
                               "(15.8× real time); 12 unchanged, skipped")


def test_transcribe_command_resumes_and_says_how_fast(tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    shutil.copy(MONO, folder / "m.wav")
    out = tmp_path / "calls.jsonl"
    args = ["transcribe", str(folder), "--out", str(out)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "transcribed 1 recording(s), 0.3 audio minutes in " in first.output
    assert "× real time)" in first.output and "skipped" not in first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "transcribed 0 recording(s)" in again.output
    assert "; 1 unchanged, skipped" in again.output
    assert len(_records(out)) == 1
    forced = CliRunner().invoke(main, [*args, "--no-resume"])
    assert "transcribed 1 recording(s)" in forced.output


def test_check_quotes_each_evidence_turn_with_its_time_in_the_recording(tmp_path):
    # Straight from the recording, and from the transcript `transcribe` wrote of it; the
    # customer's number in the file name stays masked.
    named = tmp_path / "C7_A042_13800138000.wav"
    shutil.copy(STEREO, named)
    out = tmp_path / "calls.jsonl"
    made = CliRunner().invoke(main, ["transcribe", str(named), "--out", str(out)])
    assert made.exit_code == 0, made.output
    for source in (named, out):
        result = CliRunner().invoke(main, ["check", str(source)])
        assert result.exit_code == 0, result.output
        assert "recording: " in result.output and "evidence times are from its start" \
            in result.output
        assert "[00:09 in C7_A042_138****8000.wav] customer #4: please ⟦stop calling⟧" \
            in result.output, result.output
        assert "13800138000.wav" not in result.output


@pytest.mark.parametrize("where", ["recordings", "transcripts"])
def test_nightly_transcribes_a_folder_of_recordings_once(tmp_path, where, counted):
    assert CliRunner().invoke(main, ["init", str(tmp_path), "--no-git"]).exit_code == 0
    config = tmp_path / "callaudit.yaml"
    if where == "recordings":  # `recordings:` in callaudit.yaml
        config.write_text(config.read_text(encoding="utf-8") + "recordings: audio\n",
                          encoding="utf-8")
        night = tmp_path / "audio" / "2026-11-23"
    else:  # the night's transcripts folder holds recordings
        night = tmp_path / "transcripts" / "2026-11-23"
    night.mkdir(parents=True)
    shutil.copy(STEREO, night / "good.wav")
    shutil.copy(AUDIO / "stereo_optout.json", night / "good.json")
    (night / "broken.wav").write_bytes(b"RIFF....")
    args = ["nightly", "--date", "2026-11-23", "--config", str(config)]

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "2026-11-23: recordings: transcribed 1 recording(s)" in first.output
    assert "1 could not be read" in first.output
    transcripts = tmp_path / "transcripts" / "2026-11-23" / "recordings.jsonl"
    assert [r["call_id"] for r in _records(transcripts)] == ["REC-stereo_optout"]
    out = tmp_path / "reports" / "2026-11-23"
    verdicts = _records(out / "verdicts.jsonl")
    assert [v["call_id"] for v in verdicts] == ["REC-stereo_optout"]
    (reject,) = _records(out / "rejects.jsonl")
    assert reject["file"].endswith("broken.wav") and reject["call_id"] == "broken"
    assert "not a readable WAV file" in reject["reason"]
    assert len(counted) == 2  # the good recording and the broken one, each tried once

    counted.clear()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "transcribed 0 recording(s)" in again.output and "1 unchanged, skipped" in again.output
    assert counted == [(night / "broken.wav").resolve()]  # only the failed one is tried again
    assert [v["call_id"] for v in _records(out / "verdicts.jsonl")] == ["REC-stereo_optout"]


# -- Mandarin through whisper and vosk: stand-ins with the API the wrappers call ---------------

SCRIPT = [("agent", 0.5), ("customer", 3.5), ("agent", 5.5), ("customer", 9.5), ("agent", 12.5)]
def _fake_faster_whisper(calls: list[dict]) -> object:
    class Segment:
        def __init__(self, text: str) -> None:
            self.text, self.avg_logprob = text, -0.2

    class WhisperModel:
        def __init__(self, path: str, device: str, compute_type: str) -> None:
            calls.append({"model": path, "device": device, "compute_type": compute_type})

        def transcribe(self, audio, language: str, **extra):
            calls.append({"language": language, "samples": len(audio), **extra})
            return iter([Segment(" 以后别再"), Segment("给我打电话了 ")]), None

    return type("faster_whisper", (), {"WhisperModel": WhisperModel})


def _fake_vosk(calls: list[dict]) -> object:
    class Model:
        def __init__(self, path: str) -> None:
            calls.append({"model": path})

    class KaldiRecognizer:
        def __init__(self, model: Model, rate: int) -> None:
            calls.append({"rate": rate})
            self.pcm = b""

        def AcceptWaveform(self, pcm: bytes) -> bool:
            self.pcm += pcm
            return True

        def FinalResult(self) -> str:
            return json.dumps({"text": "以后 别 再 给 我 打 电话 了"}, ensure_ascii=False)

    return type("vosk", (), {"Model": Model, "KaldiRecognizer": KaldiRecognizer,
                             "SetLogLevel": staticmethod(lambda level: None)})


@pytest.mark.parametrize("engine", ["whisper", "vosk"])
def test_mandarin_engines_give_chinese_turns_at_the_recorded_times(engine, tmp_path,
                                                                    monkeypatch):
    import sys

    from engine.audio.transcribe import load_engine, transcribe_recording

    calls: list[dict] = []
    fake = _fake_faster_whisper(calls) if engine == "whisper" else _fake_vosk(calls)
    monkeypatch.setitem(sys.modules, "faster_whisper" if engine == "whisper" else "vosk", fake)
    model = tmp_path / "model"
    model.mkdir()
    options = TranscribeOptions(engine=engine, model=model, language="zh",
                                hints=("以后别再", "打电话"))
    recording = tmp_path / "zh_call.wav"  # no sidecar: the language is the option's
    shutil.copy(STEREO, recording)
    record = transcribe_recording(recording, load_engine(options), options)
    turns = record["turns"]
    assert {t["text"] for t in turns} == ({"以后别再给我打电话了"} if engine == "whisper"
                                          else {"以后 别 再 给 我 打 电话 了"})
    for speaker, start in SCRIPT:  # the turn times come from the audio, whatever the engine
        assert any(t["speaker"] == speaker and abs(t["start"] - start) < 0.3 for t in turns)
    assert record["language"] == "zh" and record["recording"]["engine"] == engine
    assert calls[0]["model"] == str(model)
    if engine == "whisper":
        assert calls[0]["compute_type"] == "int8"
        assert all(c["language"] == "zh" and c["hotwords"] == "以后别再 打电话"
                   for c in calls[1:])
        assert all(t["confidence"] == 0.0 for t in turns)  # avg_logprob, clamped to 0..1
    else:
        assert all(c["rate"] == 16_000 for c in calls[1:])
