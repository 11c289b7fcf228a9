"""A recording into an interchange-format call: channels, utterances, turns, metadata."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audio.engines import ENGINES, SpeechEngine
from engine.audio.wav import RATE, AudioError, Recording, read_recording

META_KEYS = ("call_id", "call_type", "agent_id", "customer_phone", "started_at", "language",
             "related_call_id", "product")


@dataclass(frozen=True)
class TranscribeOptions:
    """How recordings are read: engine, model, which channel is the agent, metadata."""

    engine: str = "sphinx"
    model: Path | None = None
    language: str = "en"
    agent_channel: str = "left"  # the other channel is the customer
    # "{call_id}_{agent_id}_{customer_phone}" reads metadata from the file name.
    name_pattern: str = "{call_id}"
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # from --metadata CSV
    # The rule pack's key phrases, for engines that take hints (faster-whisper's hotwords).
    hints: tuple[str, ...] = ()


@dataclass
class Utterance:
    speaker: str
    start: float
    end: float
    pcm: bytes


def utterances(pcm: bytes, speaker: str) -> list[Utterance]:
    """Stretches of speech in one channel (pocketsphinx's voice activity detection)."""
    from pocketsphinx import Segmenter

    found = []
    for speech in Segmenter(sample_rate=RATE).segment(io.BytesIO(pcm)):
        found.append(Utterance(speaker, round(speech.start_time, 2), round(speech.end_time, 2),
                               speech.pcm))
    return found


def name_fields(path: Path, pattern: str) -> dict[str, str]:
    """Metadata from a file name: "{call_id}_{agent_id}" against "C001_A17.wav"."""
    names = re.findall(r"{(\w+)}", pattern)
    regex = re.escape(pattern)
    for name in names:
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>.+?)")
    match = re.fullmatch(regex, path.stem)
    return {k: v for k, v in match.groupdict().items() if v} if match else {}


def sidecar_fields(path: Path) -> dict[str, Any]:
    """Metadata from <name>.json next to the recording."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise AudioError(f"the metadata sidecar {sidecar.name} is not valid JSON ({exc})",
                         "fix the sidecar or remove it") from None
    return {k: v for k, v in data.items() if k in META_KEYS} if isinstance(data, dict) else {}


def read_metadata_csv(path: Path) -> dict[str, dict[str, Any]]:
    """One metadata row per recording: a 'file' column plus call_id, agent_id, ..."""
    rows: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            name = (row.get("file") or "").strip()
            if name:
                rows[Path(name).name] = {k: v for k, v in row.items() if k in META_KEYS and v}
    return rows


def turns_of(recording: Recording, engine: SpeechEngine, agent_channel: str) -> list[dict]:
    """Every utterance of every channel, transcribed and merged by start time."""
    if len(recording.channels) == 1:
        speakers = ["unknown"]
    else:
        speakers = ["agent", "customer"] if agent_channel == "left" else ["customer", "agent"]
    spoken = [u for pcm, who in zip(recording.channels, speakers, strict=True)
              for u in utterances(pcm, who)]
    spoken.sort(key=lambda u: (u.start, u.speaker))
    turns = []
    for utterance in spoken:
        heard = engine.transcribe(utterance.pcm)
        if not heard.text:
            continue
        turn: dict[str, Any] = {"speaker": utterance.speaker, "text": heard.text,
                                "start": utterance.start, "end": utterance.end}
        if heard.confidence is not None:
            turn["confidence"] = max(0.0, min(1.0, heard.confidence))
        turns.append(turn)
    return turns


def transcribe_recording(path: Path, engine: SpeechEngine, options: TranscribeOptions) -> dict:
    """One recording as an interchange record (AudioError when it cannot be read)."""
    recording = read_recording(path)
    record: dict[str, Any] = {"call_id": path.stem, "call_type": "sale",
                              "language": options.language}
    record.update(name_fields(path, options.name_pattern))
    record.update(sidecar_fields(path))
    record.update(options.metadata.get(path.name, {}))
    record["turns"] = turns_of(recording, engine, options.agent_channel)
    record["recording"] = {"file": str(path), "seconds": round(recording.seconds, 2),
                           "channels": len(recording.channels), "engine": engine.name}
    if not record["turns"]:
        raise AudioError("no speech was recognised in the recording",
                         "check the recording has audible speech and the right engine/model")
    return record


def load_engine(options: TranscribeOptions) -> SpeechEngine:
    """The chosen engine, loaded once (the caller keeps it for every file)."""
    kind = ENGINES.get(options.engine)
    if kind is None:
        raise AudioError(f"unknown engine '{options.engine}'",
                         f"engines: {', '.join(sorted(ENGINES))}")
    engine = kind(options.model, options.language)
    if options.hints and hasattr(engine, "hints"):
        engine.hints = options.hints
    return engine


_engines: dict[tuple[str, str | None, str], SpeechEngine] = {}


def cached_engine(options: TranscribeOptions) -> SpeechEngine:
    """One engine per process and setting: a model is loaded once, not once per file."""
    key = (options.engine, str(options.model) if options.model else None, options.language)
    if key not in _engines:
        _engines[key] = load_engine(options)
    return _engines[key]


def pack_hints(rules_root: Path, language: str, limit: int = 200) -> tuple[str, ...]:
    """The phrases of the pack for a language, as hints for the speech engine."""
    from engine.rules.pack import load_pack, resolve_pack_path

    pack = load_pack(resolve_pack_path(rules_root, language))
    phrases = dict.fromkeys(p for m in pack.index.matchers for p in m.phrases)
    return tuple(phrases)[:limit]
