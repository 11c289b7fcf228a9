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
    path: str, lines: Iterable[bytes], first_line: int = 1, first_offset: int | None = None
) -> Iterator[Call | Rejected]:
    """Each line of a JSON Lines file (or of a shard of one, starting at `first_line`) as a
    Call or a Rejected record, one at a time. With `first_offset` (the byte offset of the
    first line in the file; the lines then keep their line ends), each record's source
    carries the byte offset of its line."""
    offset = first_offset
    for number, raw in enumerate(lines, start=first_line):
        at = offset
        if offset is not None:
            offset += len(raw)
        if not raw.strip():
            continue
        source = SourceRef(path, number, at)
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
        yield from read_jsonl(path, data.splitlines(keepends=True), first_offset=0)
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


def read_jsonl_at(path: str, offset: int, line: int | None = None) -> Call | Rejected:
    """The one record whose line starts at byte `offset` of a JSON Lines file (read back
    where a night found it); OSError when the file cannot be read."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        raw = handle.readline()
    for result in read_jsonl(path, [raw], line or 1, offset):
        return result
    return Rejected(SourceRef(path, line, offset), "no record at this place in the file",
                    "the file changed since the night read it")
