"""Text encodings of call-platform exports: UTF-8 (with or without BOM) and GB18030/GBK."""

from __future__ import annotations

BOM = b"\xef\xbb\xbf"


class UndecodableError(ValueError):
    """Bytes that are neither UTF-8 nor GB18030."""


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a whole file, returning (text, encoding name).

    UTF-8 is tried first because valid GBK text is almost never valid UTF-8, while the
    reverse is common (GB18030 accepts nearly any byte string).
    """
    if data.startswith(BOM):
        try:
            return data[len(BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise UndecodableError(_where(data, exc)) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as first:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise UndecodableError(_where(data, first)) from None


def decode_line(line: bytes) -> str:
    """Decode one line of a line-oriented file; each line may come from a different tool."""
    if line.startswith(BOM):
        line = line[len(BOM) :]
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as first:
        try:
            return line.decode("gb18030")
        except UnicodeDecodeError:
            raise UndecodableError(_where(line, first)) from None


def _where(data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    return (
        f"bytes at line {line} are neither UTF-8 nor GB18030 "
        f"(byte {data[exc.start:exc.start + 1].hex()} at offset {exc.start})"
    )
