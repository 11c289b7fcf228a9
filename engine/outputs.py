"""Files callaudit writes for people, and text it prints for them, made safe.

- Written atomically: a temporary file in the same folder, renamed over the name only when
  complete, so a reader (or a crash) never sees half a file.
- Never through a symbolic link, and never over a file callaudit did not make. An existing
  output is replaced only when it is recognisably that command's own earlier output (its
  header line, its schema, its marker; `OutputGuard.is_ours`) or empty; anything else (the
  ledger, the configuration, an input, someone's spreadsheet) is refused, and the user is
  told to remove it or choose another name. There is no --force: removing the file is the
  explicit act, and re-running the same export to the same path keeps working.
- Spreadsheet cells neutralised (OWASP, "CSV injection"): a text cell that Excel, WPS or
  LibreOffice would read as a formula gets a leading single quote in CSV; XLSX cells are
  written as text, never as formulas.
- Control characters escaped wherever a person reads text: a transcript cannot move the
  terminal's cursor or clear its screen, and cannot break a workbook.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.model import escaped, printable

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEAD_BYTES = 64 * 1024  # enough to read a header line; never the whole file


class OutputRefused(Exception):
    """An output path callaudit will not write; the message names it, says why and what to
    do instead."""


# -- what may be replaced --------------------------------------------------------------------


def first_line_is(line: str) -> Callable[[str], bool]:
    """Recognise an earlier output by its exact first line (a CSV header, a marker comment)."""
    wanted = line.rstrip("\r\n")
    return lambda head: head.split("\n", 1)[0].rstrip("\r") == wanted


def first_line_has(marker: str) -> Callable[[str], bool]:
    """Recognise an earlier output by a marker somewhere in its first line (a schema name)."""
    return lambda head: marker in head.split("\n", 1)[0]


def head_has(marker: str) -> Callable[[str], bool]:
    """Recognise an earlier output by a marker in its first few lines (summary.json)."""
    return lambda head: marker in head[:1024]


@dataclass(frozen=True)
class OutputGuard:
    """What one output may replace: its own earlier self, never a protected file."""

    is_ours: Callable[[str], bool]  # given the file's first bytes as text
    protected: Mapping[Path, str] = field(default_factory=dict)  # path -> "the ledger", ...
    encoding: str = "utf-8-sig"  # how to read an existing file's head

    def check(self, path: Path) -> None:
        """Raise OutputRefused when writing PATH would destroy something."""
        _refuse_link(path)
        if path.is_dir():
            raise OutputRefused(f"{path} is a folder: give a file name")
        for other, role in self.protected.items():
            for candidate in _with_sidecars(Path(other)):
                if _same_file(path, candidate):
                    raise OutputRefused(f"{path} is {role}: writing there would destroy it; "
                                        "choose another output name")
        if not path.exists():
            return
        if not path.is_file():
            raise OutputRefused(f"{path} is not a regular file (a device or a pipe): choose "
                                "another output name")
        try:
            with path.open("rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except OSError as exc:
            raise OutputRefused(f"cannot read {path} to see whether callaudit wrote it "
                                f"({exc.strerror or exc}): remove it or choose another name"
                                ) from None
        if not head:
            return  # an empty file (touch, mktemp) holds nothing to lose
        if head.startswith(SQLITE_MAGIC):
            raise OutputRefused(f"{path} is a database (a ledger?), not an earlier output of "
                                "this command: choose another output name")
        if not self.is_ours(head.decode(self.encoding, errors="replace").lstrip("\ufeff")):
            raise OutputRefused(f"{path} exists and is not an earlier output of this command: "
                                "callaudit replaces only files it wrote; remove it or choose "
                                "another output name")


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise OutputRefused(f"{path} is a symbolic link: callaudit does not write through "
                            "links; give the real file's path or another name")


def _with_sidecars(path: Path) -> list[Path]:
    """A file and, for a database, the journal files SQLite keeps beside it."""
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # also through hard links and linked folders
        return a.resolve() == b.resolve()
    except OSError:
        return False


# -- atomic writing --------------------------------------------------------------------------


def output_mode(path: Path) -> int:
    """An existing output keeps its permissions; a new one gets the usual ones (umask)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextmanager
def atomic_writer(path: Path, guard: OutputGuard | None = None) -> Iterator[IO[bytes]]:
    """A binary handle on a temporary file beside PATH, renamed to PATH when the block ends
    without an error (removed otherwise). With a guard, PATH is checked before anything is
    written, and once more just before the rename."""
    if guard is not None:
        guard.check(path)
    else:
        _refuse_link(path)
    folder = path.parent
    # mkstemp opens with O_EXCL: a link planted under the temporary name is never followed.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                         dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, output_mode(path))
        if guard is not None:
            guard.check(path)  # the file may have appeared while this one was written
        else:
            _refuse_link(path)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes, guard: OutputGuard | None = None) -> None:
    """PATH holds DATA, written atomically."""
    with atomic_writer(path, guard) as out:
        out.write(data)


def write_text(path: Path, text: str, guard: OutputGuard | None = None, *,
               encoding: str = "utf-8") -> None:
    """PATH holds TEXT, written atomically."""
    write_bytes(path, text.encode(encoding), guard)


# -- spreadsheet cells -----------------------------------------------------------------------

# The first characters that make Excel, WPS or LibreOffice evaluate a cell (OWASP's list,
# with the full-width forms East Asian spreadsheets also accept).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
# A cell of digits and phone punctuation only (+8613912345678, -5, +86 138-0013-8000,
# 138****8000) calls no function and reaches no link, so it stays as written: the dialer
# must get the number exactly as it is.
_PLAIN_NUMBER = re.compile(r"[+\-]?[0-9][0-9 ().*\-]*")


def neutralise_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet will evaluate: text that would start a formula gets a
    leading single quote; numbers and phone numbers are left as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_row(cells: Sequence[Any], newline: str = "\r\n") -> str:
    """One CSV record with neutralised cells (None as an empty cell)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerow(
        ["" if c is None else neutralise_cell(c) for c in cells])
    return buffer.getvalue()


def write_csv_rows(out: IO[bytes], header: Sequence[Any], rows: Iterable[Sequence[Any]], *,
                   encoding: str = "utf-8-sig", newline: str = "\r\n") -> int:
    """Write a header and rows, every cell neutralised; the number of rows written."""
    text = io.TextIOWrapper(out, encoding=encoding, newline="", write_through=True)
    writer = csv.writer(text, lineterminator=newline)
    writer.writerow(["" if c is None else neutralise_cell(c) for c in header])
    count = 0
    for row in rows:
        writer.writerow(["" if c is None else neutralise_cell(c) for c in row])
        count += 1
    text.flush()
    text.detach()  # the caller's handle stays open
    return count


# -- control characters ----------------------------------------------------------------------

# The characters no identifier may hold (engine.model.NOT_IN_IDS): C0 and C1 controls and
# DEL (ESC starts the ANSI sequences that move a cursor or clear a screen; CSI U+009B does
# the same on some terminals), line separators, and the bidirectional overrides that make a
# text display in another order than it reads ("Trojan source").
def escape_controls(text: str) -> str:
    """Control characters shown as escapes (BEL -> \\x07, ESC -> \\x1b, newline -> \\n):
    printed text stays on its line and cannot steer the terminal."""
    return printable(text)


# The characters an XLSX file cannot hold at all (openpyxl refuses them); tab, newline and
# carriage return are allowed in a cell and kept.
_XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def xlsx_text(text: str) -> str:
    """Text an XLSX cell can hold: forbidden control characters escaped as in
    escape_controls (\\x07), so one odd byte in an agent id cannot stop the night."""
    return _XLSX_ILLEGAL.sub(escaped, text) if _XLSX_ILLEGAL.search(text) else text


def write_xlsx(out: IO[bytes], sheets: Mapping[str, tuple[Sequence[str], Iterable[Sequence[Any]]]]
               ) -> None:
    """A workbook of one sheet per table. Text cells are text (never a formula, even when
    they start with '='; marked quote-prefixed so editing them in Excel keeps them text);
    numbers stay numbers; None and NaN are empty cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, (header, rows) in sheets.items():
        sheet = workbook.create_sheet(xlsx_text(name)[:31])
        for r, row in enumerate(itertools.chain((header,), rows), start=1):
            for c, value in enumerate(row, start=1):
                value = _plain_value(value)
                if value is None:
                    continue
                cell = sheet.cell(row=r, column=c)
                if isinstance(value, str):
                    cell.value = xlsx_text(value)
                    cell.data_type = "s"  # openpyxl would make '=...' a formula
                    if value.startswith(FORMULA_STARTS):
                        cell.quotePrefix = True
                else:
                    cell.value = value
                if r == 1:
                    cell.font = bold  # the header, as pandas wrote it
    workbook.save(out)


def _plain_value(value: Any) -> Any:
    """A numpy or pandas scalar as a Python one; NaN as None; anything else as text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if value != value else value  # NaN is not equal to itself
    if isinstance(value, (int, bool)) or value is None:
        return value
    return str(value)
