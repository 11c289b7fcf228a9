"""Shards: the input cut into pieces that worker processes (or Dask workers) load and audit
themselves, so the process that writes the results never parses a transcript.

A JSON Lines file is cut at line ends into pieces of about `SHARD_BYTES`, each carrying
its bytes and the number of its first line (rejects still name `file:line`). Other formats
(dialogue text, CSV, `.json` documents, recordings) are small or slow per file: they are
loaded here and travel as calls. Shards come out in input order, and loading them one
after another gives exactly what `load_calls` gives.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.model import Call, Rejected
from engine.transcripts import (
    NotRegularFile,
    empty_file,
    expand_inputs,
    load_file,
    not_regular,
    open_regular,
    unreadable_file,
)
from engine.transcripts.jsonl import read_jsonl
from engine.transcripts.remote import RemoteFile

SHARD_BYTES = 1 << 18  # about 75 calls: no worker waits long for the last one
LINE_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class LinesShard:
    """Consecutive whole lines of one JSON Lines file."""

    path: str
    first_line: int
    data: bytes
    offset: int = 0  # the byte offset of its first line in the file


@dataclass(frozen=True)
class CallsShard:
    """Calls (and rejects) already loaded from one file of another format."""

    items: tuple[Call | Rejected, ...]


Shard = LinesShard | CallsShard


def plan_shards(
    inputs: Iterable[str | os.PathLike[str]],
    skip: Iterable[Path] = (),
    size: int | None = None,
) -> Iterator[Shard | Rejected]:
    """The inputs as shards, in order; files that cannot be read come out as Rejected."""
    for item in expand_inputs(inputs, skip):
        if isinstance(item, Rejected):
            yield item
        elif item.suffix.lower() in LINE_SUFFIXES:
            yield from _line_shards(item, size or SHARD_BYTES)
        else:
            loaded = tuple(load_file(item))
            yield CallsShard(loaded or (empty_file(item),))


def _line_shards(path: Path | RemoteFile, size: int) -> Iterator[LinesShard | Rejected]:
    name = str(path)
    line = 1
    offset = 0
    pending: list[bytes] = []  # the start of a line longer than one block
    blank = True
    try:
        with path.open("rb") if isinstance(path, RemoteFile) else open_regular(path) as handle:
            while block := handle.read(size):
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    pending.append(block)
                    continue
                data = b"".join([*pending, block[:cut]]) if pending else block[:cut]
                pending = [block[cut:]] if cut < len(block) else []
                blank = blank and data.isspace()
                yield LinesShard(name, line, data, offset)
                line += data.count(b"\n")
                offset += len(data)
    except NotRegularFile as exc:
        yield not_regular(path, exc.mode)
        return
    except OSError as exc:
        yield unreadable_file(path, exc)
        return
    if pending:
        data = b"".join(pending)
        blank = blank and data.isspace()
        yield LinesShard(name, line, data, offset)
    if blank:
        yield empty_file(path)


def load_shard(shard: Shard) -> Iterator[Call | Rejected]:
    """The calls and rejects of one shard, in order."""
    if isinstance(shard, CallsShard):
        yield from shard.items
    else:
        yield from read_jsonl(shard.path, io.BytesIO(shard.data), shard.first_line,
                              shard.offset)
