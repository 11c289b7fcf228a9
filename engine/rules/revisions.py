"""The rules folder as a git revision holds it, for comparing a change with what was
committed (`callaudit rules impact --before HEAD`)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

GIT_SECONDS = 60


class RevisionError(Exception):
    """The revision cannot be read: not a git repository, no such revision, no rules in it."""


def _git(folder: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              timeout=GIT_SECONDS, check=False)
    except FileNotFoundError:
        raise RevisionError("git is not installed: give the rules before the change as a "
                            "folder instead (--before FOLDER)") from None
    except subprocess.TimeoutExpired:
        raise RevisionError(f"git took more than {GIT_SECONDS} s in {folder}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(message[-1] if message else f"git {' '.join(args)} failed")
    return done.stdout


def extract_rules(rules: Path, revision: str, into: Path) -> Path:
    """Write the rules folder as `revision` holds it under INTO; return that copy's path.

    `rules` is the folder in the work tree (e.g. workspace/rules); the copy keeps the
    folder's name and the layout inside it."""
    rules = rules.resolve()
    if not rules.is_dir():
        raise RevisionError(f"{rules} is not a folder")
    try:
        top = Path(_git(rules, "rev-parse", "--show-toplevel").decode().strip())
    except RevisionError:
        raise RevisionError(f"{rules} is not in a git repository: give the rules before the "
                            "change as a folder (--before FOLDER), or keep rules/ in git "
                            "(`callaudit init` sets it up)") from None
    inside = PurePosixPath(rules.relative_to(top.resolve()).as_posix())
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except RevisionError:
        raise RevisionError(f"'{revision}' is not a commit of the repository at {top} (a "
                            "branch, tag or commit id; `git log` lists them)") from None
    archive = _git(top, "archive", "--format=tar", revision, "--", str(inside))
    target = into / rules.name
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        if not any(m.isfile() for m in members):
            raise RevisionError(f"revision '{revision}' has no {inside}/ (the rules were added "
                                "later?): compare with a later revision or a folder")
        for member in members:
            name = PurePosixPath(member.name)
            relative = name if inside == PurePosixPath(".") else name.relative_to(inside)
            destination = target.joinpath(*relative.parts)
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            destination.write_bytes(source.read())
    return target
