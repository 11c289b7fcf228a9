"""Plain-text dialogue transcripts: one call per .txt file.

    # call_id: C20261123-0001
    # monthly_fee: 10
    [00:00] 坐席：您好，我是中国电信的客服小王
    [00:04] 客户：嗯，你说

Call metadata comes from a `<stem>.meta.json` / `.meta.yaml` sidecar, then from header lines
above the first turn (which override the sidecar). The pieces shared with the CSV loader
(metadata keys, times, language detection, locating a RecordError) live here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from engine.model import Call, Rejected, SourceRef, printable
from engine.rules.yamlsource import check_aliases
from engine.transcripts import SIDECAR_SUFFIXES, open_regular
from engine.transcripts.encoding import UndecodableError, decode_bytes
from engine.transcripts.record import (
    CALL_FIELDS,
    SPEAKER_ALIASES,
    RecordError,
    call_from_record,
    speaker_name,
)

CALL_KEYS = CALL_FIELDS
# Flat metadata keys for the product, mapped to the interchange `product` fields.
PRODUCT_KEYS: dict[str, str] = {
    "product_code": "code",
    "product_name": "name",
    "monthly_fee": "monthly_fee",
    "currency": "currency",
    "trial_days": "trial_days",
}
PRODUCT_FIELD_KEYS: dict[str, str] = {sub: key for key, sub in PRODUCT_KEYS.items()}
METADATA_KEYS = frozenset(CALL_KEYS) | frozenset(PRODUCT_KEYS)
# Names call platforms use for the same metadata (after lower-casing, spaces to '_').
KEY_ALIASES: dict[str, str] = {
    "通话id": "call_id",
    "通话编号": "call_id",
    "坐席工号": "agent_id",
    "客户号码": "customer_phone",
    "phone": "customer_phone",
}
RESERVED_KEYS = frozenset({"turns"})

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
# CJK ideographs plus CJK and full-width punctuation: no space is written next to them.
_CJK_OR_PUNCT = re.compile(f"[{_CJK}\u3000-\u303f\uff00-\uffef]")
_LATIN_LETTER = re.compile("[A-Za-z]")
# zh when at least this share of the letters are Chinese characters; digits and
# punctuation do not count, so "5G套餐" or "OK" does not tip the balance.
ZH_SHARE = 0.2

_CLOCK = re.compile(r"(?:(\d+)[:：])?(\d+)[:：](\d+(?:\.\d+)?)")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

_TIME_BRACKET = re.compile(r"\[([^\]\n]*)\]\s*")
# A label is everything before the first colon, without spaces; '://' is a URL, not a label.
_LABELLED = re.compile(r"([^\s:：]+)\s*[:：](?!//)\s*(.*)")
# What a speaker label looks like, known or not ("经理", "说话人1", "Supervisor").
# Diarisation labels such as "Speaker 2:" are speakers too (unknown ones, to be rejected).
_NUMBERED_LABEL = re.compile(r"([A-Za-z]+ \d{1,2})\s*[:：]\s*(.*)")
_LABEL_LIKE = re.compile(rf"[A-Za-z][A-Za-z0-9_.\-]{{0,19}}|[{_CJK}][{_CJK}0-9A-Za-z]{{0,7}}")
_HEADER = re.compile(r"([^:：]+?)\s*[:：]\s*(.*)")
_EXTRA_KEY = re.compile(r"[^\W\d][\w\-]{0,39}")
_TURN_INDEX = re.compile(r"\bturn (\d+)\b")

TIME_HINT = "write the time as [mm:ss], [hh:mm:ss] or [mm:ss.s], e.g. [01:05]"
LINE_SHAPE = "'[00:04] 坐席：您好' or 'Agent: Hello' (the [mm:ss] time is optional)"
EXCERPT_CHARS = 200


class SourceError(RecordError):
    """A RecordError that knows where in the input it is."""

    def __init__(self, source: SourceRef, reason: str, hint: str, excerpt: str = "") -> None:
        super().__init__(reason, hint)
        self.source = source
        self.excerpt = excerpt


def speaker_labels_hint() -> str:
    """The accepted speaker labels, grouped by the speaker they stand for."""
    groups = [
        f"{who}: " + ", ".join(label for label, name in SPEAKER_ALIASES.items() if name == who)
        for who in ("agent", "customer")
    ]
    return "use a known speaker label (" + "; ".join(groups) + "; any letter case)"


def metadata_key(name: str) -> str:
    """The metadata key a header or column name stands for ('Call ID' -> 'call_id')."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return KEY_ALIASES.get(key, key)


def parse_clock(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds from 'mm:ss', 'hh:mm:ss', 'mm:ss.s' (or '12.5' if bare_seconds); ValueError."""
    value = text.strip()
    if bare_seconds and _SECONDS.fullmatch(value):
        return float(value)
    match = _CLOCK.fullmatch(value)
    if match is None:
        raise ValueError(f"{text!r} is not a time")
    hours, minutes, seconds = int(match[1] or 0), int(match[2]), float(match[3])
    if seconds >= 60 or (match[1] is not None and minutes >= 60):
        raise ValueError(f"{text!r} is not a time")
    return hours * 3600 + minutes * 60 + seconds


def detect_language(texts: Iterable[str]) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en'."""
    cjk = latin = 0
    for text in texts:
        cjk += len(_CJK_CHAR.findall(text))
        latin += len(_LATIN_LETTER.findall(text))
    if cjk + latin == 0:
        return "zh"  # the model's default; nothing to go on
    return "zh" if cjk / (cjk + latin) >= ZH_SHARE else "en"


def join_wrapped(text: str, more: str) -> str:
    """Join a wrapped line onto a turn: no space between Chinese characters, else one space."""
    if not text or not more:
        return text + more
    if _CJK_OR_PUNCT.match(text[-1]) or _CJK_OR_PUNCT.match(more[0]):
        return text + more
    return f"{text} {more}"


def _number(value: Any) -> Any:
    """A numeric string as a number; anything else unchanged, for call_from_record to judge."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


@dataclass
class Metadata:
    """Call-level fields from sidecars, header lines or CSV columns, each with its origin."""

    fields: dict[str, Any] = field(default_factory=dict)
    product: dict[str, Any] = field(default_factory=dict)
    # 'call_id' or 'product.monthly_fee' -> where the value came from
    origins: dict[str, SourceRef] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        if key in PRODUCT_KEYS:
            return PRODUCT_KEYS[key] in self.product
        return key in self.fields

    def get(self, key: str) -> Any:
        if key in PRODUCT_KEYS:
            return self.product.get(PRODUCT_KEYS[key])
        return self.fields.get(key)

    def set(self, key: str, value: Any, origin: SourceRef) -> None:
        """Set one flat key (see PRODUCT_KEYS); empty values are no value."""
        if key in RESERVED_KEYS:
            raise SourceError(
                origin,
                f"'{key}' cannot be given as call metadata",
                "write the dialogue itself as the turns, not as a metadata field",
            )
        if value is None or value == "":
            return
        if key in PRODUCT_KEYS:
            sub = PRODUCT_KEYS[key]
            self.product[sub] = _number(value) if sub in ("monthly_fee", "trial_days") else value
            self.origins[f"product.{sub}"] = origin
        else:
            self.fields[key] = value
            self.origins[key] = origin

    def update(self, mapping: Mapping[Any, Any], origin: SourceRef) -> None:
        """Take every field of a sidecar mapping; `product` may be a nested object."""
        for raw_key, value in mapping.items():
            key = metadata_key(str(raw_key))
            if key == "product" and isinstance(value, Mapping):
                for sub, sub_value in value.items():
                    flat = PRODUCT_FIELD_KEYS.get(str(sub), f"product_{sub}")
                    self.set(flat, sub_value, origin)
            else:
                self.set(key, value, origin)

    def record(self, turns: list[dict[str, Any]], default_call_id: str) -> dict[str, Any]:
        """The interchange record, with defaults for what no source gave."""
        record = dict(self.fields)
        record.setdefault("call_id", default_call_id)
        record.setdefault("call_type", "sale")
        record.setdefault("language", detect_language(turn["text"] for turn in turns))
        if self.product:
            # A non-object `product` given as such stays, so call_from_record rejects it.
            record.setdefault("product", dict(self.product))
        record["turns"] = turns
        return record

    def origin_of(self, reason: str) -> SourceRef | None:
        """Where the field a RecordError reason names first came from, if any."""
        found: list[tuple[int, SourceRef]] = []
        for key, origin in self.origins.items():
            match = re.search(rf"(?<![\w.]){re.escape(key)}(?![\w.])", reason)
            if match:
                found.append((match.start(), origin))
        return min(found, key=lambda item: item[0])[1] if found else None


def locate_error(
    reason: str, turn_sources: list[SourceRef], meta: Metadata, fallback: SourceRef
) -> SourceRef:
    """The line a call_from_record complaint is about: the turn's, the field's or the call's."""
    match = _TURN_INDEX.search(reason)
    if match and int(match[1]) < len(turn_sources):
        return turn_sources[int(match[1])]
    return meta.origin_of(reason) or fallback


def build_call(
    meta: Metadata,
    turns: list[dict[str, Any]],
    turn_sources: list[SourceRef],
    *,
    default_call_id: str,
    source: SourceRef,
    excerpt: str,
) -> Call | Rejected:
    """Validate through call_from_record; a RecordError becomes a Rejected at the right line."""
    record = meta.record(turns, default_call_id)
    try:
        return call_from_record(record, source)
    except RecordError as exc:
        where = locate_error(exc.reason, turn_sources, meta, source)
        return Rejected(where, exc.reason, exc.hint, printable(str(record["call_id"])), excerpt)


# --- the dialogue file itself -------------------------------------------------------------


@dataclass
class _Turn:
    speaker: str
    text: str
    start: float | None
    source: SourceRef


def find_sidecars(path: str) -> list[Path]:
    transcript = Path(path)
    candidates = (transcript.with_name(transcript.stem + suffix) for suffix in SIDECAR_SUFFIXES)
    return [candidate for candidate in candidates if candidate.is_file()]


def read_sidecar(sidecar: Path) -> Mapping[Any, Any]:
    """The metadata mapping in a sidecar; SourceError naming the sidecar when it is broken."""
    name = str(sidecar)

    def broken(what: str, hint: str, line: int | None = None) -> SourceError:
        reason = f"broken metadata sidecar {sidecar.name}: {what}"
        return SourceError(SourceRef(name, line), reason, hint)

    if sidecar.is_symlink():
        target = sidecar.resolve()
        if not target.is_relative_to(sidecar.parent.resolve()):
            raise broken(f"a link to {target}, outside the transcript's folder: not followed",
                         "copy the metadata file next to the transcript")
    try:
        with open_regular(sidecar) as handle:
            text, _ = decode_bytes(handle.read())
    except OSError as exc:
        raise broken(f"cannot read it ({exc.strerror or exc})", "check its permissions") from None
    except UndecodableError as exc:
        raise broken(f"undecodable text: {exc}", "save it as UTF-8") from None
    if sidecar.suffix.lower() == ".json":
        try:
            data = orjson.loads(text) if text.strip() else None
        except orjson.JSONDecodeError as exc:
            raise broken(f"not valid JSON ({exc})", "fix the JSON syntax") from None
    else:
        try:
            check_aliases(text)  # a few aliases must not stand for a billion values
            # BaseLoader keeps every scalar a string: no octal call ids, no datetime objects.
            data = yaml.load(text, Loader=yaml.BaseLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            line = mark.line + 1 if mark is not None else None
            raise broken(f"not valid YAML ({problem})", "fix the YAML syntax", line) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise broken(
            f"it holds {type(data).__name__}, not a mapping of call fields",
            "write it as key: value pairs (call_id, call_type, product, ...)",
        )
    return data


class _DialogueParser:
    """Reads a dialogue file line by line into metadata and turns."""

    def __init__(self, path: str, meta: Metadata) -> None:
        self.path = path
        self.meta = meta
        self.turns: list[_Turn] = []
        self.header_lines: dict[str, int] = {}
        self.last_timed: _Turn | None = None

    def feed(self, number: int, raw: str) -> None:
        line = raw.strip()
        if not line:
            return
        source = SourceRef(self.path, number)
        try:
            if line.startswith("#"):
                self._comment(line[1:].strip(), source)
            else:
                self._line(line, source)
        except SourceError as exc:
            exc.excerpt = exc.excerpt or line[:EXCERPT_CHARS]
            raise

    def _comment(self, body: str, source: SourceRef) -> None:
        match = _HEADER.fullmatch(body)
        if match is None:
            return  # a plain comment
        key = metadata_key(match[1])
        # Unknown keys must be one word, so '# exported 2026-11-23 09:30' stays a comment;
        # below the dialogue they are notes, not metadata.
        extra = not self.turns and _EXTRA_KEY.fullmatch(match[1].strip()) is not None
        if key in METADATA_KEYS or extra:
            self._header(key, match[2].strip(), source)

    def _line(self, line: str, source: SourceRef) -> None:
        time_text, body = _split_time(line)
        labelled = _LABELLED.fullmatch(body) or _NUMBERED_LABEL.fullmatch(body)
        if time_text is None and speaker_name(labelled[1] if labelled else None) is None:
            # "[笑声] 客户：好的": a sound note before the label belongs to the turn's text.
            note = _TIME_BRACKET.match(body)
            after = _LABELLED.fullmatch(body[note.end() :]) if note else None
            if note and after and speaker_name(after[1]) is not None:
                labelled = _LABELLED.fullmatch(f"{after[1]}：{note[0].strip()}{after[2]}")
        label = labelled[1] if labelled else None
        speaker = speaker_name(label)
        if speaker is not None:
            assert labelled is not None
            start = None if time_text is None else self._start(time_text, source)
            self._add_turn(_Turn(speaker, labelled[2].strip(), start, source))
        elif time_text is not None:
            what = f"unknown speaker '{label}'" if label else f"no speaker after [{time_text}]"
            raise SourceError(source, f"line {source.line}: {what}", speaker_labels_hint())
        elif labelled is not None and metadata_key(labelled[1]) in METADATA_KEYS:
            self._header(metadata_key(labelled[1]), labelled[2].strip(), source)
        elif label is not None and (_LABEL_LIKE.fullmatch(label) or " " in label):
            hint = speaker_labels_hint()
            if not self.turns:  # it may have been meant as a header line
                hint += "; write other metadata as '# key: value'"
            raise SourceError(source, f"line {source.line}: unknown speaker '{label}'", hint)
        elif self.turns:
            self.turns[-1].text = join_wrapped(self.turns[-1].text, line)
        else:
            raise SourceError(
                source,
                f"line {source.line}: text before the first speaker line",
                f"start each turn with a speaker label, e.g. {LINE_SHAPE}; "
                "write metadata as '# key: value'",
            )

    def _header(self, key: str, value: str, source: SourceRef) -> None:
        if self.turns:
            raise SourceError(
                source,
                f"line {source.line}: metadata '{key}' after the dialogue started",
                "move '# key: value' lines above the first turn",
            )
        if key in self.header_lines:
            first = self.header_lines[key]
            raise SourceError(
                source,
                f"line {source.line}: '{key}' is given twice (first on line {first})",
                "keep one of the two header lines",
            )
        self.header_lines[key] = source.line or 0
        self.meta.set(key, value, source)

    def _start(self, time_text: str, source: SourceRef) -> float:
        try:
            start = parse_clock(time_text)
        except ValueError:
            reason = f"line {source.line}: time [{time_text}] is not mm:ss or hh:mm:ss"
            raise SourceError(source, reason, TIME_HINT) from None
        previous = self.last_timed
        if previous is not None and previous.start is not None and start < previous.start:
            raise SourceError(
                source,
                f"line {source.line}: time [{time_text}] is earlier than the turn on "
                f"line {previous.source.line}",
                "check the times; turns must be in the order they were spoken",
            )
        return start

    def _add_turn(self, turn: _Turn) -> None:
        self.turns.append(turn)
        if turn.start is not None:
            self.last_timed = turn

    def interchange_turns(self) -> list[dict[str, Any]]:
        """Turns with ends: each turn ends where the next one starts; the last ends as it starts."""
        result = []
        for index, turn in enumerate(self.turns):
            following = self.turns[index + 1] if index + 1 < len(self.turns) else None
            end = following.start if following and following.start is not None else turn.start
            result.append(
                {"speaker": turn.speaker, "text": turn.text, "start": turn.start, "end": end}
            )
        return result


def _split_time(line: str) -> tuple[str | None, str]:
    """A leading [time] and the rest; '[笑声]' and other brackets without a colon are text."""
    match = _TIME_BRACKET.match(line)
    if match is None or not re.search("[:：]", match[1]):
        return None, line
    return match[1].strip(), line[match.end() :]


def read_dialogue(path: str, data: bytes) -> Iterator[Call | Rejected]:
    """The one call in a dialogue text file, or why it cannot be one."""
    yield _read_call(path, data)


def _read_call(path: str, data: bytes) -> Call | Rejected:
    stem = Path(path).stem
    file_source = SourceRef(path)
    try:
        text, _ = decode_bytes(data)
    except UndecodableError as exc:
        return Rejected(
            file_source,
            f"undecodable text: {exc}",
            "re-export the transcript as UTF-8 (or GB18030)",
            stem,
            data[:EXCERPT_CHARS].decode("utf-8", "replace"),
        )
    meta = Metadata()
    parser = _DialogueParser(path, meta)
    try:
        _load_sidecar(path, meta)
        for number, line in enumerate(text.splitlines(), start=1):
            parser.feed(number, line)
    except SourceError as exc:
        call_id = meta.get("call_id")
        return Rejected(
            exc.source, exc.reason, exc.hint, printable(str(call_id or stem)), exc.excerpt
        )
    if not parser.turns:
        return Rejected(
            file_source,
            "no dialogue lines found",
            f"write one turn per line, e.g. {LINE_SHAPE}",
            printable(str(meta.get("call_id") or stem)),
            text[:EXCERPT_CHARS],
        )
    return build_call(
        meta,
        parser.interchange_turns(),
        [turn.source for turn in parser.turns],
        default_call_id=stem,
        source=file_source,
        excerpt=text[:EXCERPT_CHARS],
    )


def _load_sidecar(path: str, meta: Metadata) -> None:
    sidecars = find_sidecars(path)
    if len(sidecars) > 1:
        names = " and ".join(sidecar.name for sidecar in sidecars)
        raise SourceError(
            SourceRef(path),
            f"more than one metadata sidecar: {names}",
            "keep one sidecar per transcript",
        )
    if sidecars:
        meta.update(read_sidecar(sidecars[0]), SourceRef(str(sidecars[0])))
