"""The rules folder as a git revision holds it, for comparing a change with what was
committed (`callaudit rules impact --before HEAD`)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

from engine.gitrepo import GitMissing, git, work_tree

ARCHIVE_SECONDS = 120.0


class RevisionError(Exception):
    """The revision cannot be read: not a git repository, no such revision, no rules in it."""


def extract_rules(rules: Path, revision: str, into: Path) -> Path:
    """Write the rules folder as `revision` holds it under INTO; return that copy's path.

    `rules` is the folder in the work tree (e.g. workspace/rules); the copy keeps the
    folder's name and the layout inside it. Links and other special entries are left out."""
    rules = rules.resolve()
    if not rules.is_dir():
        raise RevisionError(f"{rules} is not a folder")
    tree = work_tree(rules)
    if tree is None:
        raise RevisionError(f"{rules} is not in a git repository (or git is not installed): "
                            "give the rules before the change as a folder (--before FOLDER), "
                            "or keep rules/ in git (`callaudit init` sets it up)")
    inside = PurePosixPath(tree.prefix.rstrip("/") or ".")
    try:
        if not git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                   tree.top).ok:
            raise RevisionError(f"'{revision}' is not a commit of the repository at "
                                f"{tree.top} (a branch, tag or commit id; `git log` lists "
                                "them)")
        archive = git(["archive", "--format=tar", revision, "--", str(inside)], tree.top,
                      timeout=ARCHIVE_SECONDS)
    except GitMissing as exc:
        raise RevisionError(str(exc)) from None
    if not archive.ok:
        raise RevisionError(f"revision '{revision}' has no {inside}/ (the rules were added "
                            f"later?): {archive.reason}")
    target = into / rules.name
    with tarfile.open(fileobj=io.BytesIO(archive.out)) as tar:
        for member in tar.getmembers():
            if not (member.isfile() or member.isdir()):
                continue
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
    if not target.is_dir():
        raise RevisionError(f"revision '{revision}' has no files under {inside}/")
    return target
