"""Loaders: every transcript format the call platforms export, into Call or Rejected."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from engine.model import Call, Rejected, SourceRef, printable
from engine.transcripts.jsonl import read_json_document, read_jsonl
from engine.transcripts.remote import RemoteFile, expand_url, is_url

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".txt",)
CSV_SUFFIXES = (".csv",)
# Recordings are transcribed on the way in (engine/audio), with the default engine.
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".amr", ".opus")
TRANSCRIPT_SUFFIXES = JSONL_SUFFIXES + TEXT_SUFFIXES + CSV_SUFFIXES + AUDIO_SUFFIXES
# Metadata sidecars of dialogue files and eval label files are not transcripts.
SIDECAR_SUFFIXES = (".meta.json", ".meta.yaml", ".meta.yml", ".labels.jsonl")

LoadResult = Call | Rejected


def _whole_file_reader(path: Path | RemoteFile) -> Callable[[str, bytes], Iterator[LoadResult]]:
    if path.suffix.lower() in TEXT_SUFFIXES:
        from engine.transcripts.dialogue import read_dialogue

        return read_dialogue
    from engine.transcripts.csvturns import read_turn_csv

    return read_turn_csv


def _is_recording_sidecar(path: Path) -> bool:
    """REC.json beside REC.wav is the recording's metadata, not a transcript."""
    return path.suffix.lower() == ".json" and any(
        path.with_suffix(suffix).exists() for suffix in AUDIO_SUFFIXES)


def _is_transcript(path: Path) -> bool:
    return (
        path.suffix.lower() in TRANSCRIPT_SUFFIXES
        and not path.name.lower().endswith(SIDECAR_SUFFIXES)
        and not _is_recording_sidecar(path)
    )


class NotRegularFile(OSError):
    """A FIFO, device or socket where a transcript file was expected: reading it could
    wait for ever (a FIFO, /dev/stdin) or never end (/dev/zero)."""

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(f"{path} is not a regular file")
        self.mode = mode


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def not_regular(path: Path | str, mode: int) -> Rejected:
    return Rejected(SourceRef(str(path)), f"not a regular file but {_kind_of(mode)}: not read",
                    "give transcript files; copy the data into a file first")


def open_regular(path: Path) -> BinaryIO:
    """A local file opened for reading; NotRegularFile when it is a FIFO or a device (it
    may have become one since the folder was listed). Opened without blocking, so a FIFO
    with no writer does not wait."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _walk(folder: Path, root: Path, skip: tuple[Path, ...]
          ) -> Iterator[tuple[Path, Path | Rejected]]:
    """(path, item) for every transcript file under `folder`, unsorted. Hidden entries and
    the `skip` folders are passed over. Links are followed only to places inside `root`
    (the input folder, resolved), and only to files: a linked folder inside is read where
    it really is. What cannot be read is a Rejected."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError as exc:
        yield folder, Rejected(
            SourceRef(str(folder)),
            f"cannot read the folder ({exc.strerror or exc}): its files were not read",
            "check that this user may read the folder",
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_symlink():
                found = _link(path, root, skip)
                if found is not None:
                    yield path, found
            elif entry.is_dir(follow_symlinks=False):
                if not any(path.resolve().is_relative_to(s) for s in skip):
                    yield from _walk(path, root, skip)
            elif _is_transcript(path):
                if entry.is_file(follow_symlinks=False):  # from the listing: no system call
                    yield path, path
                else:
                    yield path, not_regular(path, entry.stat(follow_symlinks=False).st_mode)
        except OSError as exc:
            yield path, unreadable_file(path, exc)


def _link(path: Path, root: Path, skip: tuple[Path, ...]) -> Path | Rejected | None:
    """A link found in an input folder: the link itself when it is a transcript file
    inside the folder, else a Rejected saying why it is not read, or None to pass it
    over silently (a link to a folder inside, or to a file that is no transcript)."""
    if not path.exists():
        return Rejected(SourceRef(str(path)), "a broken link: the file it points to is gone",
                        "restore the file or remove the link")
    target = path.resolve()
    if not target.is_relative_to(root):
        if not target.is_dir() and not _is_transcript(path):
            return None
        return Rejected(
            SourceRef(str(path)),
            f"a link to {target}, outside the input folder: not followed",
            "give the linked file or folder as an input of its own, or copy it into the folder",
        )
    if target.is_dir() or not _is_transcript(path) or any(
            target.is_relative_to(s) for s in skip):
        return None
    mode = target.stat().st_mode
    return path if stat.S_ISREG(mode) else not_regular(path, mode)


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]], skip: Iterable[Path] = ()
) -> Iterator[Path | RemoteFile | Rejected]:
    """Every transcript file named or found (recursively, sorted) under a named folder, or
    under a named prefix of remote storage (engine/transcripts/remote.py).

    Hidden files and folders are passed over, and so are the `skip` folders (the audit's
    own output folder, so a re-run never reads its results back as transcripts). Links
    that leave a named folder, FIFOs, devices and unreadable folders are listed as
    Rejected, never read. A file named itself is read wherever it is, if it is a regular
    file.
    """
    skipped = tuple(p.resolve() for p in skip)
    for raw in inputs:
        if is_url(raw):
            yield from expand_url(str(raw), TRANSCRIPT_SUFFIXES, SIDECAR_SUFFIXES)
            continue
        path = Path(raw)
        try:
            mode = path.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            yield Rejected(
                SourceRef(str(path)),
                "no such file or folder",
                "check the path; give transcript files or folders that hold them",
            )
            continue
        except OSError as exc:  # a name too long, a loop of links
            yield unreadable_file(path, exc)
            continue
        if stat.S_ISDIR(mode):
            found = sorted(_walk(path, path.resolve(), skipped), key=lambda pair: pair[0])
            yield from (item for _, item in found)
        else:
            yield path if stat.S_ISREG(mode) else not_regular(path, mode)


def load_calls(
    inputs: Iterable[str | os.PathLike[str]], skip: Iterable[Path] = ()
) -> Iterator[LoadResult]:
    """Stream every call from the given files and folders; bad records come out as Rejected."""
    for item in expand_inputs(inputs, skip):
        if isinstance(item, Rejected):
            yield item
            continue
        empty = True
        for result in load_file(item):
            empty = False
            yield result
        if empty:
            yield empty_file(item)


def empty_file(path: Path | RemoteFile) -> Rejected:
    return Rejected(SourceRef(str(path)), "the file holds no calls (it is empty)",
                    "check the export finished; remove the file if it is not needed")


def unreadable_file(path: Path | RemoteFile, exc: OSError) -> Rejected:
    return Rejected(
        SourceRef(str(path)),
        f"cannot read the file ({exc.strerror or exc})",
        "check that the file exists and that this user may read it",
    )


def _from_recording(path: Path) -> LoadResult:
    """A recording, transcribed with the default engine (see `callaudit transcribe`)."""
    from engine.audio.transcribe import TranscribeOptions, cached_engine, transcribe_recording
    from engine.audio.wav import AudioError

    source = SourceRef(str(path))
    try:
        options = TranscribeOptions()
        record = transcribe_recording(path, cached_engine(options), options)
    except AudioError as exc:
        return Rejected(source, exc.reason, exc.hint, path.stem)
    from engine.transcripts.record import RecordError, call_from_record

    try:
        return call_from_record(record, source)
    except RecordError as exc:
        call_id = record.get("call_id")
        return Rejected(source, exc.reason, exc.hint,
                        None if call_id is None else printable(str(call_id)))


def count_units(path: Path | RemoteFile, enough: int | None = None) -> int:
    """Progress units in a file: its lines for JSON Lines (one call each), else one (and
    one for a remote file, which is not downloaded twice to count its lines). With
    `enough`, counting stops once that many are seen (the caller only asks "this many?")."""
    if isinstance(path, RemoteFile) or path.suffix.lower() not in JSONL_SUFFIXES:
        return 1
    lines = 0
    last = b"\n"
    try:
        with open_regular(path) as handle:
            while chunk := handle.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                if enough is not None and lines >= enough:
                    return lines
    except OSError:
        return 1
    return max(lines + (last != b"\n"), 1)


def load_file(path: Path | RemoteFile) -> Iterator[LoadResult]:
    """The calls in one transcript file, chosen by its suffix."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in TRANSCRIPT_SUFFIXES:
        yield Rejected(
            SourceRef(name),
            f"unknown transcript format '{suffix or path.name}'",
            "use .jsonl (interchange format), .txt (dialogue), .csv (one row per turn) "
            "or a recording (.wav)",
        )
        return
    if suffix in AUDIO_SUFFIXES:
        if isinstance(path, RemoteFile):
            yield Rejected(SourceRef(name), "recordings are transcribed from local files",
                           "copy the recordings to a local folder, or transcribe them first "
                           "(callaudit transcribe) and audit the transcripts")
            return
        yield _from_recording(path)
        return
    try:
        with path.open("rb") if isinstance(path, RemoteFile) else open_regular(path) as handle:
            if suffix in JSONL_SUFFIXES and suffix != ".json":
                yield from read_jsonl(name, handle, first_offset=0)
                return
            data = handle.read()
    except NotRegularFile as exc:
        yield not_regular(path, exc.mode)
        return
    except OSError as exc:
        yield unreadable_file(path, exc)
        return
    if suffix == ".json":
        yield from read_json_document(name, data)
        return
    yield from _whole_file_reader(path)(name, data)
