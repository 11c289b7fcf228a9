"""CSV exports with one row per turn, grouped into calls by their call id.

    通话编号,角色,内容,开始,结束,call_type
    C1,坐席,您好,00:00,00:04,sale

Call-level columns (agent_id, product_code, ...) are read from a call's rows: the first
non-empty value of each wins. Rows of one call need not be next to each other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.model import Call, Rejected, SourceRef, printable
from engine.transcripts.dialogue import (
    EXCERPT_CHARS,
    METADATA_KEYS,
    Metadata,
    SourceError,
    build_call,
    metadata_key,
    parse_clock,
    speaker_labels_hint,
)
from engine.transcripts.encoding import UndecodableError, decode_bytes
from engine.transcripts.record import speaker_name

# Turn-level columns and the names exports give them (after lower-casing, spaces to '_').
TURN_COLUMNS: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "通话id", "通话编号"),
    "speaker": ("speaker", "角色", "role"),
    "text": ("text", "内容", "content", "utterance"),
    "start": ("start", "开始", "start_time", "begin"),
    "end": ("end", "结束", "end_time"),
}
REQUIRED_COLUMNS = ("call_id", "speaker", "text")
_TURN_ALIASES = {alias: name for name, aliases in TURN_COLUMNS.items() for alias in aliases}
TIME_HINT = "write times as seconds (12.5) or as mm:ss / hh:mm:ss (01:05)"
CELLS_HINT = "quote cells that hold commas or line breaks, and give every row every column"


@dataclass(frozen=True)
class _Columns:
    """Where each known field sits in a row, and the header names as written."""

    names: list[str]
    turn: dict[str, int]  # 'call_id', 'speaker', 'text', 'start', 'end'
    call: dict[str, int]  # metadata key (known or extra) -> index


@dataclass
class _CallRows:
    call_id: str
    source: SourceRef  # the call's first row
    meta: Metadata = field(default_factory=Metadata)
    turns: list[dict[str, Any]] = field(default_factory=list)
    turn_sources: list[SourceRef] = field(default_factory=list)
    excerpt: str = ""
    rejected: Rejected | None = None


def _column_field(name: str) -> str:
    key = metadata_key(name)
    return _TURN_ALIASES.get(key, key)


def _columns(header: list[str], source: SourceRef) -> _Columns:
    """Map the header row; SourceError for a missing required or doubled column."""
    names = [name.strip() for name in header]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            continue
        key = _column_field(name)
        if key in seen:
            raise SourceError(
                source,
                f"columns '{names[seen[key]]}' and '{name}' both give {key}",
                "keep one of the two columns",
            )
        seen[key] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        found = ", ".join(f"'{name}'" for name in names if name) or "none"
        wanted = ", ".join(f"'{name}'" for name in missing)
        raise SourceError(
            source,
            f"missing column {wanted} (columns found: {found})",
            "name the columns call_id (通话编号), speaker (角色) and text (内容); "
            "start (开始) and end (结束) are optional",
        )
    turn = {key: index for key, index in seen.items() if key in TURN_COLUMNS}
    call = {key: index for key, index in seen.items() if key not in TURN_COLUMNS}
    return _Columns(names, turn, call)


def _cell_time(cells: list[str], columns: _Columns, key: str, source: SourceRef) -> float | None:
    index = columns.turn.get(key)
    if index is None or not cells[index]:
        return None
    try:
        return parse_clock(cells[index], bare_seconds=True)
    except ValueError:
        column = columns.names[index]
        reason = f"line {source.line}: column '{column}' is not a time: '{cells[index][:30]}'"
        raise SourceError(source, reason, TIME_HINT) from None


def _add_row(group: _CallRows, row: list[str], columns: _Columns, source: SourceRef) -> None:
    """One turn and its call-level cells into the call; SourceError rejects the call."""
    if len(row) != len(columns.names):
        raise SourceError(source, _cells_reason(row, columns, source), CELLS_HINT)
    cells = [cell.strip() for cell in row]
    label = cells[columns.turn["speaker"]]
    speaker = speaker_name(label)
    if speaker is None:
        column = columns.names[columns.turn["speaker"]]
        what = f"unknown speaker '{label}'" if label else "no speaker"
        raise SourceError(
            source, f"line {source.line}: {what} in column '{column}'", speaker_labels_hint()
        )
    start = _cell_time(cells, columns, "start", source)
    end = _cell_time(cells, columns, "end", source)
    for key, index in columns.call.items():
        # Unknown columns stay under their own name, as extra fields of the call.
        name = key if key in METADATA_KEYS else columns.names[index]
        if not group.meta.has(name):
            group.meta.set(name, cells[index], source)
    text = row[columns.turn["text"]].strip().replace("\r\n", "\n")
    group.turns.append({"speaker": speaker, "text": text, "start": start, "end": end})
    group.turn_sources.append(source)


def _cells_reason(row: list[str], columns: _Columns, source: SourceRef) -> str:
    return f"line {source.line}: row has {len(row)} cells but the header has {len(columns.names)}"


def _rows(reader: Any, path: str) -> Iterator[tuple[SourceRef, list[str]] | Rejected]:
    """Non-blank rows with the line each starts on; a CSV syntax error ends the file."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Rejected(
                SourceRef(path, line),
                f"line {line}: broken CSV ({exc}); this row and the rest of the file were not read",
                'check the quoting from this row on; a cell opened with " must close with "',
            )
            return
        if any(cell.strip() for cell in row):
            yield SourceRef(path, line), row


def read_turn_csv(path: str, data: bytes) -> Iterator[Call | Rejected]:
    """Every call in a one-row-per-turn CSV export, in the order the calls first appear."""
    try:
        text, _ = decode_bytes(data)
    except UndecodableError as exc:
        yield Rejected(
            SourceRef(path),
            f"undecodable text: {exc}",
            "re-export the CSV as UTF-8 (or GB18030)",
            excerpt=data[:EXCERPT_CHARS].decode("utf-8", "replace"),
        )
        return
    rows = _rows(csv.reader(io.StringIO(text, newline=""), strict=True), path)
    header = next(rows, None)
    if header is None or isinstance(header, Rejected):
        yield header or Rejected(
            SourceRef(path), "empty CSV file: no header row", "export the CSV with its header row"
        )
        return
    header_source, header_row = header
    try:
        columns = _columns(header_row, header_source)
    except SourceError as exc:
        yield Rejected(exc.source, exc.reason, exc.hint, excerpt=",".join(header_row))
        return
    yield from _calls(rows, columns, path)


def _calls(
    rows: Iterator[tuple[SourceRef, list[str]] | Rejected], columns: _Columns, path: str
) -> Iterator[Call | Rejected]:
    entries: list[_CallRows | Rejected] = []
    calls: dict[str, _CallRows] = {}
    id_index = columns.turn["call_id"]
    for item in rows:
        if isinstance(item, Rejected):
            entries.append(item)
            _cut_short(calls.values(), item)
            continue
        source, row = item
        excerpt = ",".join(row)[:EXCERPT_CHARS]
        if id_index >= len(row):
            reason = _cells_reason(row, columns, source)
            entries.append(Rejected(source, reason, CELLS_HINT, excerpt=excerpt))
            continue
        call_id = row[id_index].strip()
        if not call_id:
            reason = f"line {source.line}: no call id in column '{columns.names[id_index]}'"
            hint = "give every row the id of the call it belongs to"
            entries.append(Rejected(source, reason, hint, excerpt=excerpt))
            continue
        group = calls.get(call_id)
        if group is None:
            group = calls[call_id] = _CallRows(call_id, source, excerpt=excerpt)
            entries.append(group)
        if group.rejected is None:
            try:
                _add_row(group, row, columns, source)
            except SourceError as exc:
                group.rejected = Rejected(exc.source, exc.reason, exc.hint, printable(call_id),
                                          excerpt)
    if not entries:
        yield Rejected(
            SourceRef(path), "no turn rows below the header", "export the calls' rows as well"
        )
    for entry in entries:
        yield entry if isinstance(entry, Rejected) else _finish(entry)


def _cut_short(groups: Iterable[_CallRows], broken: Rejected) -> None:
    """After broken quoting, a call read so far may miss later turns: reject it, not guess."""
    for group in groups:
        if group.rejected is None:
            group.rejected = Rejected(
                group.source,
                f"the CSV breaks at line {broken.source.line} before this call's rows could all "
                "be read; the call may be incomplete",
                "fix the quoting at that line and audit the file again",
                printable(group.call_id),
                group.excerpt,
            )


def _finish(group: _CallRows) -> Call | Rejected:
    if group.rejected is not None:
        return group.rejected
    return build_call(
        group.meta,
        group.turns,
        group.turn_sources,
        default_call_id=group.call_id,
        source=group.source,
        excerpt=group.excerpt,
    )
