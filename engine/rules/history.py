"""A rule pack against its last commit: every verdict records the pack's `name@version`, so
a pack whose files changed since HEAD while `version:` stayed the same would label two
different sets of rules alike. `rules check` warns about it; git answers the questions
(engine/gitrepo.py), and a pack outside git, a repository without commits or a pack that
HEAD does not have yet is simply not compared."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.gitrepo import blob_ids, head_files, head_text, work_tree
from engine.rules.pack import PACK_FILE, RulePack, display_path
from engine.rules.problems import Location, Problem
from engine.rules.yamlsource import Node, SourceFile, parse

RULE_FILE_SUFFIXES = (".yaml", ".yml")
SHOWN_FILES = 6  # a longer list is cut, saying how many more


@dataclass(frozen=True)
class PackDiff:
    """How a pack's files differ from HEAD's, each path relative to the pack folder."""

    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    head_version: str | None  # `version:` of pack.yaml in HEAD, as written; None: unreadable

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def describe(self) -> str:
        """'consent.yaml changed, extra.yaml added', cut after SHOWN_FILES files."""
        parts = ([f"{p} changed" for p in self.changed] + [f"{p} added" for p in self.added]
                 + [f"{p} removed" for p in self.removed])
        shown = ", ".join(parts[:SHOWN_FILES])
        more = len(parts) - SHOWN_FILES
        return shown + (f" and {more} more" if more > 0 else "")


def diff_with_head(pack: RulePack) -> PackDiff | None:
    """The pack's files (those `load_pack` read) against HEAD's, or None when there is
    nothing to compare with: no git, not in a work tree, no commit yet, no pack.yaml of this
    pack in HEAD (a new pack), or git could not tell."""
    if not pack.files:
        return None
    given = Path(pack.files[0]).parent  # pack.yaml comes first
    try:
        folder = given.resolve()
    except OSError:
        return None
    tree = work_tree(folder)
    if tree is None:
        return None
    top = tree.top.resolve()
    inside = _relative(folder, top)
    if inside is None:
        return None
    current: dict[str, str] = {}  # path from the top of the repository -> from the pack
    for name in pack.files:
        from_pack = os.path.relpath(name, given)
        from_top = _relative(Path(os.path.normpath(folder / from_pack)), top)
        if from_top is not None:  # a shared catalogue outside the repository: not compared
            current[from_top] = Path(from_pack).as_posix()
    below = f"{inside}/" if inside else ""
    outside = [p for p in current if not p.startswith(below)]
    head = head_files(top, [inside or ".", *outside])
    if head is None or f"{below}{PACK_FILE}" not in head:
        return None
    committed = {p: blob for p, blob in head.items()
                 if p in outside or (p.startswith(below) and p.endswith(RULE_FILE_SUFFIXES))}
    now = blob_ids(top, list(current))
    if now is None:
        return None
    blobs = dict(zip(current, now, strict=True))
    return PackDiff(
        changed=tuple(current[p] for p in current if p in committed and committed[p] != blobs[p]),
        added=tuple(current[p] for p in current if p not in committed),
        removed=tuple(sorted(p[len(below):] for p in committed if p not in current)),
        head_version=_head_version(top, f"{below}{PACK_FILE}"),
    )


def unbumped_version(pack: RulePack) -> Problem | None:
    """A warning at pack.yaml's `version:` line when the pack's files differ from HEAD's
    while the version is HEAD's; None otherwise (also when there is no HEAD to compare)."""
    diff = diff_with_head(pack)
    if not diff or diff.head_version != pack.version:
        return None
    pack_yaml = Path(pack.files[0])
    shown = display_path(pack_yaml)
    source = SourceFile(shown, pack_yaml.read_text(encoding="utf-8-sig"))
    version = _version_node(source)
    location = version.location if version else Location(shown, 1, 1)
    return Problem(
        location,
        f"pack {pack.name} changed since the last commit but its version is still "
        f"{pack.version}: {diff.describe()}",
        f"raise `version:` in {shown}, e.g. {pack.version} → {next_version(pack.version)}, "
        "so that verdicts of the changed rules carry a version of their own",
        "warning",
        source.lines[location.line - 1] if version else "",
        version.width if version else 1,
    )


def next_version(version: str) -> str:
    """The version with its last number raised by one ("2.3" → "2.4", "1.0.9" → "1.0.10",
    "2026.01" → "2026.02"); ".1" appended when it holds no number."""
    last = re.search(r"\d+(?=\D*$)", version)
    if last is None:
        return f"{version}.1"
    digits = last.group()
    raised = str(int(digits) + 1).zfill(len(digits))
    return version[: last.start()] + raised + version[last.end():]


def _relative(path: Path, top: Path) -> str | None:
    """PATH from TOP in git's spelling ("" for TOP itself), or None when outside it."""
    relative = os.path.relpath(path, top)
    if relative == os.curdir:
        return ""
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return Path(relative).as_posix()


def _version_node(source: SourceFile) -> Node | None:
    """The value of `version:` in a pack.yaml, read the way `load_pack` reads it."""
    root = parse(source)
    if root is None or not root.is_mapping():
        return None
    for key, value in root.node.value:
        if key.value == "version":
            node = Node(value, source)
            return node if node.is_scalar() else None
    return None


def _head_version(top: Path, path: str) -> str | None:
    text = head_text(top, path)
    if text is None:
        return None
    node = _version_node(SourceFile(path, text))
    return str(node.node.value) if node is not None else None
