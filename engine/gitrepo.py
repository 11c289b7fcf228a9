"""The few git questions callaudit asks about the folder it works in: is it inside a git
work tree, what does HEAD hold, who is the user. Every call is a `git` subprocess with a
timeout; no git installed, a folder outside any repository, a git that does not answer are
plain answers (None, False), never exceptions the caller must know about."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_SECONDS = 20.0
# A hook (pre-commit runs `callaudit rules check` as one) or a script may export these for
# another repository: the repository asked about is always the one holding the folder.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX",
                         "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY")


class GitMissing(Exception):
    """No `git` program on the PATH."""


@dataclass(frozen=True)
class GitResult:
    """What one git command did: its exit code and output (bytes on stdout, stderr text)."""

    code: int
    out: bytes
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace").strip()

    @property
    def reason(self) -> str:
        """git's own last line of complaint ("fatal: ..."), for a one-line message."""
        lines = [line.strip() for line in self.err.splitlines() if line.strip()]
        return lines[-1] if lines else f"git exited with code {self.code}"


def git(args: list[str], cwd: Path, *, stdin: bytes | None = None,
        timeout: float = TIMEOUT_SECONDS) -> GitResult:
    """Run `git ARGS` in CWD. GitMissing without git; a timeout is exit code 124 with a
    sentence saying so, like the shell's `timeout`."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait on a question nobody sees
    env["LC_ALL"] = "C"  # git's messages in English, as callaudit's are
    env["GIT_LITERAL_PATHSPECS"] = "1"  # a path named "qa[1].yaml" is that file, not a glob
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              env=env, timeout=timeout, check=False)
    except FileNotFoundError:
        raise GitMissing("git is not installed (no `git` on the PATH)") from None
    except subprocess.TimeoutExpired:
        return GitResult(124, b"", f"git {args[0]} did not answer within {timeout:g} s")
    return GitResult(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


@dataclass(frozen=True)
class WorkTree:
    """The git work tree a folder is in: its top folder, and the folder's path below it
    ("" at the top, else ending in "/"), as git writes paths."""

    top: Path
    prefix: str


def work_tree(folder: Path) -> WorkTree | None:
    """The work tree holding FOLDER (an existing folder), or None: not in one, no git."""
    try:
        found = git(["rev-parse", "--show-toplevel", "--show-prefix"], folder)
    except GitMissing:
        return None
    lines = found.out.splitlines()
    if not found.ok or not lines:
        return None
    return WorkTree(Path(os.fsdecode(lines[0])), os.fsdecode(lines[1]) if len(lines) > 1 else "")


def has_identity(folder: Path) -> bool:
    """Whether the user told git who they are (user.name and user.email in git's config, or
    GIT_AUTHOR_* and GIT_COMMITTER_* in the environment), for both the author and the
    committer. Git is asked with auto-detection switched off: a name guessed from the login
    and the machine's host name is not an identity to commit under."""
    try:
        return all(
            git(["-c", "user.useConfigOnly=true", "var", role], folder).ok
            for role in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")
        )
    except GitMissing:
        return False


def head_files(top: Path, paths: list[str]) -> dict[str, str] | None:
    """The blob id of every file at or below PATHS (relative to TOP) in HEAD, by path; None
    when there is no HEAD (a repository without commits) or git cannot tell."""
    try:
        listed = git(["ls-tree", "-r", "-z", "--full-tree", "HEAD", "--", *paths], top)
    except GitMissing:
        return None
    if not listed.ok:
        return None
    blobs: dict[str, str] = {}
    for entry in listed.out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        _mode, kind, blob = meta.split(b" ")
        if kind == b"blob":
            blobs[os.fsdecode(path)] = blob.decode()
    return blobs


def blob_ids(top: Path, paths: list[str]) -> list[str] | None:
    """The blob id each work-tree file (relative to TOP) would have if it were committed,
    with the repository's filters (line endings) applied; None if git cannot tell."""
    if not paths:
        return []
    try:
        hashed = git(["hash-object", "--stdin-paths"], top,
                     stdin=b"".join(os.fsencode(p) + b"\n" for p in paths))
    except GitMissing:
        return None
    ids = hashed.text.splitlines()
    return ids if hashed.ok and len(ids) == len(paths) else None


def head_text(top: Path, path: str) -> str | None:
    """A file's text as committed in HEAD (path relative to TOP), or None."""
    try:
        shown = git(["show", f"HEAD:{path}"], top)
    except GitMissing:
        return None
    return shown.out.decode("utf-8-sig", "replace") if shown.ok else None
