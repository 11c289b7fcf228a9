"""JSON Lines: one interchange-format call per line, streamed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from engine.model import Call, Rejected, SourceRef, printable
from engine.transcripts.encoding import UndecodableError, decode_line
from engine.transcripts.record import RecordError, call_from_record


def _call_id_of(obj: object) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("call_id"), (str, int)):
        return printable(str(obj["call_id"]))
    return None


def read_jsonl(
    path: str, lines: Iterable[bytes], first_line: int = 1
) -> Iterator[Call | Rejected]:
    """Each line of a JSON Lines file (or of a shard of one, starting at `first_line`) as a
    Call or a Rejected record, one at a time."""
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        source = SourceRef(path, number)
        try:
            line = decode_line(raw)
        except UndecodableError as exc:
            yield Rejected(
                source,
                f"undecodable text: {exc}",
                "re-export this call as UTF-8 (or GB18030)",
                excerpt=raw[:200].decode("utf-8", "replace"),
            )
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Rejected(
                source,
                f"broken JSON ({exc.args[0] if exc.args else exc})",
                "fix or remove this line; each line must be one complete JSON object",
                excerpt=line[:200],
            )
            continue
        try:
            yield call_from_record(obj, source)
        except RecordError as exc:
            yield Rejected(source, exc.reason, exc.hint, _call_id_of(obj), line[:200])


def read_json_document(path: str, data: bytes) -> Iterator[Call | Rejected]:
    """A .json file: one call object, a list of them, or (despite the name) JSON Lines."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield from read_jsonl(path, data.splitlines(keepends=True))
        return
    records = document if isinstance(document, list) else [document]
    for number, obj in enumerate(records, start=1):
        # A record's place in the list stands in for a line number: "file.json:3" is the third.
        source = SourceRef(path, number)
        try:
            yield call_from_record(obj, source)
        except RecordError as exc:
            excerpt = orjson.dumps(obj)[:200].decode("utf-8", "replace")
            yield Rejected(source, exc.reason, exc.hint, _call_id_of(obj), excerpt)
