"""Transcripts in object storage or on any filesystem fsspec knows: `s3://bucket/2026-11-23/`,
`gs://...`, `abfs://...`, `https://...`, `memory://...` (tests).

A URL names a file or a prefix (a "folder"); files under a prefix are found recursively,
sorted, with the same rules as a local folder (known suffixes only, hidden parts and
sidecars skipped). The files are streamed where the audit runs, so workers and Dask
workers need no credentials for the storage. Each storage needs its own fsspec package
(s3fs, gcsfs, adlfs...), which the reject names when it is missing. Whatever a storage
library raises while reading surfaces as an OSError, which every file reader handles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from engine.model import Rejected, SourceRef

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: object) -> bool:
    """'s3://bucket/key' and the like; never a local path (C:\\ included)."""
    return isinstance(text, str) and _URL.match(text) is not None


@dataclass(frozen=True)
class RemoteFile:
    """One file in remote storage, read like a local `Path` is (name, suffix, open)."""

    url: str
    fs: Any  # the fsspec filesystem
    key: str  # the path within it

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.key).stem

    def open(self, mode: str = "rb") -> _Reading:
        return _Reading(_guarded(self.fs.open, self.key, mode))

    def read_bytes(self) -> bytes:
        with self.open() as handle:
            return handle.read()

    def __str__(self) -> str:
        return self.url


def _guarded(method: Callable[..., Any], *args: Any) -> Any:
    """The call's result; a storage library's own error raised as an OSError."""
    try:
        return method(*args)
    except OSError:
        raise
    except Exception as exc:  # each storage raises its own errors
        raise OSError(f"{type(exc).__name__}: {exc}") from exc


class _Reading:
    """A remote file being read."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        return _guarded(self._handle.read, size)

    def readline(self, size: int = -1) -> bytes:
        return _guarded(self._handle.readline, size)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _Reading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_prefix(url: str) -> bool:
    """The URL names a prefix (a "folder") that holds something; False when it cannot be
    listed (expanding it later says why)."""
    import fsspec

    try:
        fs, key = fsspec.core.url_to_fs(url)
        return bool(fs.isdir(key))
    except Exception:  # each storage raises its own errors
        return False


def expand_url(url: str, suffixes: tuple[str, ...], sidecars: tuple[str, ...]
               ) -> Iterator[RemoteFile | Rejected]:
    """The transcript files a URL names: itself, or every one under the prefix."""
    import fsspec

    source = SourceRef(url)
    try:
        fs, key = fsspec.core.url_to_fs(url)
        if fs.isdir(key):
            found = sorted(fs.find(key))
            prefix = key.rstrip("/") + "/"
            for name in found:
                relative = PurePosixPath(name[len(prefix):] if name.startswith(prefix) else name)
                if (relative.suffix.lower() in suffixes
                        and not relative.name.lower().endswith(sidecars)
                        and not any(part.startswith(".") for part in relative.parts)):
                    yield RemoteFile(fs.unstrip_protocol(name), fs, name)
        elif fs.exists(key):
            yield RemoteFile(url, fs, key)
        else:
            yield Rejected(source, "no such file or prefix in the storage",
                           "check the URL (bucket, path, spelling) and that these "
                           "credentials may list it")
    except ImportError as exc:  # the storage's own package is not installed
        yield Rejected(source, f"cannot read this storage here: {exc}",
                       "install the package it names (pip install s3fs, gcsfs, adlfs...)")
    except ValueError as exc:  # "Protocol not known"
        yield Rejected(source, f"not a storage this machine knows ({exc})",
                       "give a local path, or a URL such as s3://bucket/prefix/")
    except Exception as exc:  # each storage raises its own errors
        yield Rejected(source, f"cannot list it ({type(exc).__name__}: {exc})",
                       "check the credentials and the network, then run again")
