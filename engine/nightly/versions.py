"""Which rule packs each night's verdicts were made under, and what re-auditing a night
under other rules changed.

Every call in the ledger carries the pack that made its current verdict (`calls.rule_pack`,
name@version, and `calls.rule_pack_hash`, the hash of the pack's files). A night (the date
its calls started) is *mixed* when its calls were judged by more than one version of one
pack, and *outdated* when some were judged by a pack that is not among the current rules.
`callaudit report versions`, the day report and `callaudit rules impact` read it here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from engine.actions.ledger import Ledger
from engine.rules.pack import PACK_FILE, PACK_ROOT_LANGUAGES, pack_identity

SHORT_HASH = 12  # hex digits of a pack's hash shown to people


def short_hash(value: str) -> str:
    """A pack hash as people read it: its first hex digits (`sha256:` dropped)."""
    return value.removeprefix("sha256:")[:SHORT_HASH]


@dataclass(frozen=True, order=True)
class PackVersion:
    """One version of a rule pack: its name@version and the hash of its files. Two packs
    with the same label and different hashes are different rules (edited, version not
    bumped)."""

    label: str  # name@version
    hash: str  # sha256:…

    @property
    def name(self) -> str:
        return self.label.rsplit("@", 1)[0]

    @property
    def short(self) -> str:
        return short_hash(self.hash)

    def describe(self) -> str:
        return f"{self.label} ({self.short})"


def current_packs(rules_root: Path) -> tuple[PackVersion, ...]:
    """The packs a night run now would audit with: one per language folder under the rules
    root (`zh-CN/`, `en-US/`) that holds a pack.yaml. Hashed, not compiled (RulePackError
    when a pack.yaml cannot be read)."""
    found = []
    for folder_name in sorted(set(PACK_ROOT_LANGUAGES.values())):
        folder = rules_root / folder_name
        if (folder / PACK_FILE).is_file():
            found.append(PackVersion(*pack_identity(folder)))
    return tuple(found)


@dataclass(frozen=True)
class PackUse:
    """The calls of a night whose current verdict one pack version made."""

    version: PackVersion
    calls: int
    # Whether the version is among the current rules; None when they were not given.
    current: bool | None = None

    def describe(self) -> str:
        return f"{self.version.describe()}, {self.calls} call{'s' if self.calls != 1 else ''}"

    def as_json(self) -> dict[str, Any]:
        return {"pack": self.version.label, "hash": self.version.hash, "calls": self.calls,
                "current": self.current}


@dataclass(frozen=True)
class NightVersions:
    """The pack versions a night's verdicts were made under, most calls first."""

    night: date
    uses: tuple[PackUse, ...]
    current: tuple[PackVersion, ...] = ()  # the current rules, when known

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.uses)

    @property
    def mixed(self) -> dict[str, tuple[PackUse, ...]]:
        """Per pack name judged by more than one version (or by one version with
        different files): its uses."""
        by_name: dict[str, list[PackUse]] = {}
        for use in self.uses:
            by_name.setdefault(use.version.name, []).append(use)
        return {name: tuple(uses) for name, uses in by_name.items() if len(uses) > 1}

    @property
    def outdated(self) -> tuple[PackUse, ...]:
        """The uses of a version that is not among the current rules."""
        return tuple(u for u in self.uses if u.current is False)

    def warnings(self) -> list[str]:
        """One sentence per problem: mixed versions, versions other than the current."""
        found = []
        for name, uses in self.mixed.items():
            same_label = len({u.version.label for u in uses}) == 1
            found.append(
                f"{self.night}: mixed: {name} judged this night's calls under "
                f"{len(uses)} versions ({'; '.join(u.describe() for u in uses)})"
                + ("; the same version number with different rules: bump `version:` in "
                   "pack.yaml whenever the rules change" if same_label else ""))
        for use in self.outdated:
            now = [p for p in self.current if p.name == use.version.name]
            found.append(
                f"{self.night}: {use.calls} call{'s' if use.calls != 1 else ''} audited under "
                f"{use.version.describe()}, not the current rules"
                + (f" ({', '.join(p.describe() for p in now)})" if now else "")
                + f"; `callaudit nightly --reaudit {self.night}..{self.night}` re-audits them")
        return found

    def as_json(self) -> dict[str, Any]:
        return {"night": self.night.isoformat(), "calls": self.calls,
                "packs": [u.as_json() for u in self.uses],
                "mixed": bool(self.mixed), "outdated": bool(self.outdated),
                "warnings": self.warnings()}


class ReadsLedger(Protocol):
    """A ledger, or a read-only view of one (engine/impact.py): its connection, whose rows
    are sqlite3.Row."""

    @property
    def db(self) -> Any: ...


def night_versions(ledger: ReadsLedger, first: date, last: date,
                   current: Sequence[PackVersion] | None = None) -> list[NightVersions]:
    """Per night from `first` to `last` (inclusive) with calls in the ledger, by the date the
    calls started: the pack versions their current verdicts were made under, with counts,
    each marked current or not when `current` (see `current_packs`) is given."""
    rows = ledger.db.execute(
        # ISO times sort as text: started on the days is `first <= started_at < last + 1`,
        # which the calls_started index answers.
        "SELECT substr(started_at, 1, 10) AS night, rule_pack, rule_pack_hash, COUNT(*) AS n "
        "FROM calls WHERE started_at >= ? AND started_at < ? GROUP BY night, rule_pack, "
        "rule_pack_hash ORDER BY night, n DESC, rule_pack, rule_pack_hash",
        (first.isoformat(), (last + timedelta(days=1)).isoformat()),
    ).fetchall()
    known = {p.hash for p in current} if current is not None else None
    nights: dict[str, list[PackUse]] = {}
    for row in rows:
        version = PackVersion(row["rule_pack"], row["rule_pack_hash"])
        nights.setdefault(row["night"], []).append(
            PackUse(version, row["n"], None if known is None else version.hash in known))
    return [NightVersions(date.fromisoformat(night), tuple(uses), tuple(current or ()))
            for night, uses in nights.items()]


def uses_of(ledger: Ledger, night: date) -> tuple[PackUse, ...]:
    """One night's pack uses (no comparison with the current rules)."""
    found = night_versions(ledger, night, night)
    return found[0].uses if found else ()


def describe_uses(uses: Iterable[PackUse]) -> str:
    """`zh@1.1 (1a2b…)` for one version; with counts when there are several."""
    uses = list(uses)
    if not uses:
        return "no calls"
    if len(uses) == 1:
        return uses[0].version.describe()
    return ", ".join(f"{u.version.describe()} {u.calls}" for u in uses)


# -- re-auditing a night ----------------------------------------------------------------------


def history_mark(ledger: Ledger) -> int:
    """The last history row's id: what a run writes after it has a greater one."""
    return int(ledger.db.execute("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()[0])


@dataclass(frozen=True)
class NightReaudit:
    """What a run of a night changed of its calls' verdicts, from the calls' own
    "re-audited" history rows (`Ledger.record` writes one per call audited again)."""

    night: date
    by: str  # who ran it: "nightly --reaudit", or "nightly" for a plain re-run
    calls: int  # the night's calls the run audited
    reaudited: int  # of them, recorded again (transcript, rules or policy changed)
    unchanged: int  # already in the ledger as they are
    new: int  # not in the ledger before
    to_invalid: int  # valid before, invalid after
    to_valid: int  # invalid before, valid after
    other_changes: int  # verdicts changed otherwise (a sale found, or no longer found)
    findings_added: int
    findings_superseded: int
    before: tuple[PackUse, ...]  # the night's packs before the run
    after: tuple[PackUse, ...]  # ... and after it

    def line(self) -> str:
        """One line for the terminal and the log."""
        packs = describe_uses(self.after)
        if [u.version for u in self.before] != [u.version for u in self.after]:
            packs = f"{describe_uses(self.before)} → {packs}"
        else:
            packs = f"under {packs} as before"
        more = f", {self.new} new" if self.new else ""
        return (f"{self.night}: re-audited {self.reaudited} of {self.calls} call(s), "
                f"{self.unchanged} unchanged{more}; {self.to_invalid} valid→invalid, "
                f"{self.to_valid} invalid→valid"
                + (f", {self.other_changes} other verdict change(s)" if self.other_changes
                   else "")
                + f"; {packs}")

    def detail(self) -> dict[str, Any]:
        """The night's history row."""
        return {"calls": self.calls, "re_audited": self.reaudited,
                "unchanged": self.unchanged, "new": self.new,
                "valid_to_invalid": self.to_invalid, "invalid_to_valid": self.to_valid,
                "other_verdict_changes": self.other_changes,
                "findings_added": self.findings_added,
                "findings_superseded": self.findings_superseded,
                "packs_before": [_counted(u) for u in self.before],
                "packs_after": [_counted(u) for u in self.after]}


def _counted(use: PackUse) -> dict[str, Any]:
    return {"pack": use.version.label, "hash": use.version.hash, "calls": use.calls}


def night_reaudit(ledger: Ledger, night: date, since: int, before: tuple[PackUse, ...],
                  counts: Mapping[str, int], by: str) -> NightReaudit:
    """What the run that began at history row `since` changed of the night's calls:
    `before` is `uses_of` the night then, `counts` the run's ledger counts (new, unchanged,
    re-audited calls)."""
    flips: Counter[str] = Counter()
    for row in ledger.db.execute("SELECT detail FROM history WHERE id > ? AND "
                                 "kind = 'call' AND event = 're-audited' ORDER BY id",
                                 (since,)):
        detail = json.loads(row["detail"])
        was, now = detail["valid"]["before"], detail["valid"]["after"]
        if was is True and now is False:
            flips["to_invalid"] += 1
        elif was is False and now is True:
            flips["to_valid"] += 1
        elif was != now:
            flips["other"] += 1
        flips["added"] += detail.get("findings_added", 0)
        flips["superseded"] += detail.get("findings_superseded", 0)
    return NightReaudit(
        night, by, sum(counts.values()), counts.get("re-audited", 0),
        counts.get("unchanged", 0), counts.get("new", 0), flips["to_invalid"],
        flips["to_valid"], flips["other"], flips["added"], flips["superseded"], before,
        uses_of(ledger, night))


def record_night_reaudit(ledger: Ledger, change: NightReaudit) -> None:
    """The night's "re-audited" history row (kind night, ref the date)."""
    ledger.note("night", change.night.isoformat(), change.by, "re-audited", change.detail())


@dataclass(frozen=True)
class ReauditRecord:
    """A night's "re-audited" history row, as the day report tells it."""

    at: str
    by: str
    detail: dict[str, Any]

    def _packs(self, key: str) -> list[PackUse]:
        return [PackUse(PackVersion(p["pack"], p["hash"]), p["calls"])
                for p in self.detail.get(key, [])]

    def headline(self) -> str:
        """When, by whom and under which rules."""
        after = describe_uses(self._packs("packs_after"))
        return f"re-audited {self.at} by {self.by} under {after}"

    def line(self) -> str:
        """The headline with what changed."""
        d = self.detail
        before, after = self._packs("packs_before"), self._packs("packs_after")
        was = ("" if [u.version for u in before] == [u.version for u in after]
               else f", before: {describe_uses(before)}")
        return (f"{self.headline()}{was}; {d.get('re_audited', 0)} of {d.get('calls', 0)} "
                f"call(s) re-audited, {d.get('valid_to_invalid', 0)} valid→invalid, "
                f"{d.get('invalid_to_valid', 0)} invalid→valid")


def night_reaudits(ledger: Ledger, night: date) -> list[ReauditRecord]:
    """The night's re-audits, oldest first."""
    return [ReauditRecord(r["at"], r["who"], json.loads(r["detail"] or "{}"))
            for r in ledger.db.execute("SELECT at, who, detail FROM history WHERE kind = "
                                       "'night' AND ref = ? AND event = 're-audited' "
                                       "ORDER BY id", (night.isoformat(),))]
