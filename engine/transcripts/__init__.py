"""Loaders: every transcript format the call platforms export, into Call or Rejected."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from engine.model import Call, Rejected, SourceRef
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


def _is_transcript(path: Path, folder: Path, skip: tuple[Path, ...]) -> bool:
    relative = path.relative_to(folder)
    return (
        not _is_recording_sidecar(path)
        and path.suffix.lower() in TRANSCRIPT_SUFFIXES
        and not path.name.lower().endswith(SIDECAR_SUFFIXES)
        and not any(part.startswith(".") for part in relative.parts)
        and not any(path.resolve().is_relative_to(s) for s in skip)
        and path.is_file()
    )


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]], skip: Iterable[Path] = ()
) -> Iterator[Path | RemoteFile | Rejected]:
    """Every transcript file named or found (recursively, sorted) under a named folder, or
    under a named prefix of remote storage (engine/transcripts/remote.py).

    Hidden files and folders are passed over, and so are the `skip` folders (the audit's
    own output folder, so a re-run never reads its results back as transcripts).
    """
    skipped = tuple(p.resolve() for p in skip)
    for raw in inputs:
        if is_url(raw):
            yield from expand_url(str(raw), TRANSCRIPT_SUFFIXES, SIDECAR_SUFFIXES)
            continue
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_symlink() and not found.exists():
                    yield Rejected(SourceRef(str(found)), "a broken link: the file it points "
                                   "to is gone", "restore the file or remove the link")
                elif _is_transcript(found, path, skipped):
                    yield found
        elif path.exists():
            yield path
        else:
            yield Rejected(
                SourceRef(str(path)),
                "no such file or folder",
                "check the path; give transcript files or folders that hold them",
            )


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
    from engine.transcripts.record import RecordError, call_from_record, printable

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
        with path.open("rb") as handle:
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
        if suffix == ".json":
            yield from read_json_document(name, path.read_bytes())
            return
        if suffix in JSONL_SUFFIXES:
            with path.open("rb") as handle:
                yield from read_jsonl(name, handle)
            return
        data = path.read_bytes()
    except OSError as exc:
        yield unreadable_file(path, exc)
        return
    yield from _whole_file_reader(path)(name, data)
