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
from engine.audio.formats import RATE, AudioError, Recording, read_recording

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
    # A platform's call records, by call id and by recording file name (read_call_records).
    call_records: dict[str, dict[str, Any]] = field(default_factory=dict)


# Two mono files per call: the agent's and the customer's, paired by name. A half without
# an extension matches any audio file ("{call_id}-agent" matches C1-agent.wav, C1-agent.mp3).
DEFAULT_PAIR = ("{call_id}-agent", "{call_id}-customer")


@dataclass(frozen=True)
class PairedCall:
    """One call recorded as two mono files, the agent's and the customer's."""

    call_id: str
    agent: Path
    customer: Path

    @property
    def name(self) -> str:
        return self.agent.name


def parse_pair(text: str) -> tuple[str, str]:
    """ "{call_id}_A.wav,{call_id}_C.wav" as (agent half, customer half); ValueError says why."""
    halves = tuple(part.strip() for part in text.split(","))
    if len(halves) != 2 or not all(halves):
        raise ValueError(f"a pair is two file names separated by a comma, not '{text}'")
    for half in halves:
        if half.count("{call_id}") != 1 or re.search(r"{(?!call_id})", half):
            raise ValueError(f"'{half}' must hold {{call_id}} once and no other field")
    if halves[0] == halves[1]:
        raise ValueError("the agent's and the customer's file names must differ")
    return halves[0], halves[1]


def _half_match(path: Path, half: str) -> str | None:
    target = path.name if "." in half else path.stem
    regex = re.escape(half).replace(re.escape("{call_id}"), "(?P<call_id>.+)")
    match = re.fullmatch(regex, target, flags=re.IGNORECASE)
    return match.group("call_id") if match else None


def pair_recordings(paths: list[Path], pair: tuple[str, str] = DEFAULT_PAIR
                    ) -> tuple[list[Path | PairedCall], list[tuple[Path, AudioError]]]:
    """The calls among recordings: a file of its own, or an agent and a customer half
    paired by name (same folder, same call id); a lone half is refused, naming the
    missing file. Order kept: a pair stands where its first half was."""
    halves: dict[tuple[Path, str], dict[int, Path]] = {}
    side_of: dict[Path, tuple[Path, str]] = {}
    for path in paths:
        for side, half in enumerate(pair):
            call_id = _half_match(path, half)
            if call_id is not None:
                key = (path.parent, call_id)
                halves.setdefault(key, {})[side] = path
                side_of[path] = key
                break
    calls: list[Path | PairedCall] = []
    problems: list[tuple[Path, AudioError]] = []
    done: set[tuple[Path, str]] = set()
    for path in paths:
        key = side_of.get(path)
        if key is None:
            calls.append(path)
            continue
        if key in done:
            continue
        done.add(key)
        found = halves[key]
        if len(found) == 2:
            calls.append(PairedCall(key[1], found[0], found[1]))
            continue
        (side, present), = found.items()
        missing = pair[1 - side].replace("{call_id}", key[1])
        if "." not in pair[1 - side]:
            missing += present.suffix
        who = ("customer", "agent")[side]
        problems.append((present, AudioError(
            f"the {who}'s half of call {key[1]} is missing: no {missing} beside it",
            f"put {missing} in {present.parent}, or give the pair's names with --pair")))
    return calls, problems


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


# Column names call platforms export, for when callaudit.yaml maps none
# (recordings: call_records: columns:). Matched after trimming, case-insensitively.
CALL_RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "录音编号", "通话ID", "通话编号", "呼叫ID", "录音ID", "话单编号",
                "流水号"),
    "file": ("file", "录音文件", "录音文件名", "文件名", "录音名称"),
    "agent_id": ("agent_id", "坐席工号", "工号", "坐席号", "坐席ID", "座席工号", "员工工号"),
    "customer_phone": ("customer_phone", "客户号码", "被叫号码", "客户电话", "被叫", "手机号码",
                       "电话号码"),
    "started_at": ("started_at", "开始时间", "呼叫时间", "通话开始时间", "拨打时间", "接通时间"),
    "product": ("product", "产品", "产品名称", "营销产品"),
    "call_type": ("call_type", "呼叫类型", "通话类型"),
}


def read_call_records(path: Path, columns: dict[str, str] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """A platform's call-record CSV: one row per call, keyed by call id and by recording
    file name when there is a file column. `columns` maps our names to the CSV's
    (callaudit.yaml's recordings.call_records.columns); common Chinese headers are
    understood without it. UTF-8 or GB18030, as platforms export."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read the call records {path.name} ({exc.strerror or exc})",
                         "check the path and that this user may read it") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    headers = {h.strip().lower(): h for h in reader.fieldnames or [] if h}
    chosen: dict[str, str] = {}
    for ours, names in CALL_RECORD_COLUMNS.items():
        wanted = (columns or {}).get(ours)
        candidates = (wanted,) if wanted else names
        for name in candidates:
            if name.strip().lower() in headers:
                chosen[ours] = headers[name.strip().lower()]
                break
        else:
            if wanted:
                raise AudioError(f"the call records {path.name} have no column '{wanted}' "
                                 f"(mapped to {ours})",
                                 f"its columns: {', '.join(headers.values())}; fix "
                                 "recordings.call_records.columns in callaudit.yaml")
    if "call_id" not in chosen and "file" not in chosen:
        raise AudioError(f"the call records {path.name} have no call id or file column",
                         "map one in callaudit.yaml: recordings: {call_records: {columns: "
                         "{call_id: <its column>}}}")
    rows: dict[str, dict[str, Any]] = {}
    for row in reader:
        fields = {ours: (row.get(theirs) or "").strip() for ours, theirs in chosen.items()}
        fields = {k: v for k, v in fields.items() if v}
        keys = [fields.pop("file", None)]
        keys.append(fields.get("call_id"))
        for key in keys:
            if key:
                rows[Path(key).name if "/" in key or "\\" in key else key] = fields
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


def read_call(call: Path | PairedCall) -> Recording:
    """A call's channels: one file's, or a paired call's agent then customer channel."""
    if isinstance(call, Path):
        return read_recording(call)
    halves = []
    for who, path in (("agent", call.agent), ("customer", call.customer)):
        try:
            half = read_recording(path)
        except AudioError as exc:
            raise AudioError(f"the {who}'s file {path.name}: {exc.reason}", exc.hint) from None
        if len(half.channels) != 1:
            raise AudioError(f"the {who}'s file {path.name} is not mono "
                             f"({len(half.channels)} channels)",
                             "a paired call is one mono file per speaker")
        halves.append(half)
    return Recording(str(call.agent), (halves[0].channels[0], halves[1].channels[0]),
                     halves[0].source_rate, halves[0].rate,
                     " + ".join(dict.fromkeys(h.format for h in halves)))


def transcribe_recording(call: Path | PairedCall, engine: SpeechEngine,
                         options: TranscribeOptions) -> dict:
    """One recording (or a call's two mono files) as an interchange record (AudioError
    when it cannot be read)."""
    recording = read_call(call)
    path = call if isinstance(call, Path) else call.agent
    record: dict[str, Any] = {"call_id": path.stem, "call_type": "sale",
                              "language": options.language}
    if isinstance(call, Path):
        record.update(name_fields(path, options.name_pattern))
        record.update(sidecar_fields(path))
    else:
        record["call_id"] = call.call_id
        record.update(sidecar_fields(path.with_name(call.call_id + path.suffix)))
    record.update(options.metadata.get(path.name, {}))
    record.update(options.call_records.get(path.name)
                  or options.call_records.get(str(record["call_id"])) or {})
    # A paired call's channels are (agent, customer) whatever --agent-channel says.
    agent_channel = options.agent_channel if isinstance(call, Path) else "left"
    record["turns"] = turns_of(recording, engine, agent_channel)
    record["recording"] = {"file": str(path), "seconds": round(recording.seconds, 2),
                           "channels": len(recording.channels), "engine": engine.name,
                           "format": recording.format}
    if isinstance(call, PairedCall):
        record["recording"]["files"] = [str(call.agent), str(call.customer)]
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
