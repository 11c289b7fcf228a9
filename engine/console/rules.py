"""The console's rules: the packs in use with each rule's precision from reviews, a rule
file's text, and trying the rules on a call as `callaudit check` does."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.actions.ledger import Ledger
from engine.audit import CallAudit, NoPackForLanguage, PackChooser, audit_call
from engine.model import Call, Rejected
from engine.rules.pack import PACK_ROOT_LANGUAGES, RulePack, load_pack
from engine.rules.problems import RulePackError

_PACKS: dict[Path, tuple[tuple[tuple[str, float], ...], RulePack]] = {}
_LOCK = threading.Lock()


def _signature(folder: Path) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((str(p), p.stat().st_mtime) for p in folder.rglob("*.y*ml")))


def pack_at(folder: Path) -> RulePack:
    """The compiled pack of a folder, compiled again only when one of its files changed
    (compiling takes ~0.4 s; a page must not)."""
    folder = folder.resolve()
    signature = _signature(folder)
    with _LOCK:
        held = _PACKS.get(folder)
        if held is not None and held[0] == signature:
            return held[1]
        pack = load_pack(folder)
        _PACKS[folder] = (signature, pack)
        return pack


def pack_folders(rules: Path) -> list[Path]:
    """The packs in use: one folder per language under the rules folder."""
    return [rules / name for name in PACK_ROOT_LANGUAGES.values()
            if (rules / name / "pack.yaml").is_file()]


@dataclass(frozen=True)
class RuleLine:
    rule_id: str
    standard: str
    severity: str
    status: str
    file: str  # relative to the rules folder
    line: int
    upheld: int
    overturned: int

    @property
    def precision(self) -> float | None:
        judged = self.upheld + self.overturned
        return self.upheld / judged if judged else None


@dataclass(frozen=True)
class PackSummary:
    label: str  # name@version
    content_hash: str
    folder: str
    rules: list[RuleLine]
    problem: str | None = None


def precision_by_rule(ledger: Ledger) -> dict[str, tuple[int, int]]:
    """(upheld, overturned) per rule from people's reviews."""
    return {r[0]: (r[1] or 0, r[2] or 0) for r in ledger.db.execute(
        "SELECT rule_id, sum(verdict = 'upheld'), sum(verdict = 'overturned') FROM reviews "
        "GROUP BY rule_id")}


def packs_in_use(ledger: Ledger, rules: Path) -> list[PackSummary]:
    reviewed = precision_by_rule(ledger)
    found = []
    for folder in pack_folders(rules):
        try:
            pack = pack_at(folder)
        except RulePackError as exc:
            found.append(PackSummary(folder.name, "", folder.name, [], exc.render()))
            continue
        lines = []
        for rule in pack.rules:
            info = rule.info
            up, down = reviewed.get(info.id, (0, 0))
            lines.append(RuleLine(info.id, info.standard, info.severity, info.status,
                                  rule_file(rules, info.location.path) or info.location.path,
                                  info.location.line, up, down))
        found.append(PackSummary(pack.label, pack.content_hash, folder.name, lines))
    return found


def rule_file(rules: Path, path: str) -> str | None:
    """A rule file's path relative to the rules folder (from an absolute path, or from a
    finding's rule_source written relative to where the night ran), or None."""
    root = rules.resolve()
    candidate = Path(path)
    if candidate.is_absolute():
        resolved = candidate.resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else None
    parts = candidate.parts
    for i in range(len(parts)):
        tail = Path(*parts[i:])
        if (root / tail).is_file() and (root / tail).resolve().is_relative_to(root):
            return tail.as_posix()
    return None


def source_place(rules: Path, rule_source: str | None) -> tuple[str, int] | None:
    """(file relative to the rules folder, line) of a finding's rule_source
    ("path:line:col")."""
    if not rule_source:
        return None
    bits = rule_source.rsplit(":", 2)
    if len(bits) != 3 or not bits[1].isdigit():
        return None
    relative = rule_file(rules, bits[0])
    return (relative, int(bits[1])) if relative else None


class NotARuleFile(LookupError):
    pass


def read_rule_file(rules: Path, relative: str) -> list[str]:
    """The lines of a file under the rules folder; NotARuleFile for anything else
    (a path leaving the folder, through `..` or a link, or no such file)."""
    root = rules.resolve()
    if not relative or "\0" in relative or Path(relative).is_absolute():
        raise NotARuleFile("give a path inside the rules folder, e.g. zh-CN/consent.yaml")
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotARuleFile(f"no rule file {relative} in the rules folder")
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise NotARuleFile(f"{relative} is not a rule file (.yaml)")
    return target.read_text(encoding="utf-8", errors="replace").splitlines()


def rationale_of(rules: Path, rule_source: str | None, rule_id: str) -> str | None:
    """The rule's rationale from the compiled pack holding its file."""
    place = source_place(rules, rule_source)
    folders = [rules / Path(place[0]).parts[0]] if place else pack_folders(rules)
    for folder in folders:
        try:
            rule = pack_at(folder).rule(rule_id)
        except (RulePackError, OSError):
            continue
        if rule is not None:
            return rule.info.rationale.strip()
    return None


# -- trying the rules on a call ---------------------------------------------------------------


@dataclass(frozen=True)
class Tried:
    call: Call
    audit: CallAudit | None
    problem: str | None = None


def try_calls(rules: Path, calls: list[Call]) -> list[Tried]:
    """Each call audited exactly as `callaudit check` audits one: the workspace's pack for
    its language, engine.audit.audit_call."""
    chooser = PackChooser(rules)
    results = []
    for call in calls:
        try:
            folder = rules / PACK_ROOT_LANGUAGES.get(call.language, call.language)
            pack = pack_at(folder) if folder.is_dir() else chooser.for_call(call)
            results.append(Tried(call, audit_call(pack, call)))
        except NoPackForLanguage as exc:
            results.append(Tried(call, None, str(exc)))
        except RulePackError as exc:
            results.append(Tried(call, None, exc.render()))
    return results


def parse_pasted(text: str) -> tuple[list[Call], list[Rejected]]:
    """Pasted JSON Lines records, read by the JSON Lines loader (its messages for bad
    lines)."""
    from engine.transcripts.jsonl import read_json_document

    calls: list[Call] = []
    rejected: list[Rejected] = []
    for item in read_json_document("pasted", text.encode("utf-8")):
        (calls if isinstance(item, Call) else rejected).append(item)  # type: ignore[arg-type]
    return calls, rejected
