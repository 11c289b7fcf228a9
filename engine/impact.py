"""What a change of the rules does to past calls (`callaudit rules impact`).

Each call is audited under the rules before the change and under the rules after it, and
the two audits are compared: verdicts that flip, findings that appear or disappear, the
follow-up actions the action policy would take or no longer take, and what human reviews
of the findings say about the change. The rules before may also be the ledger's record:
the verdicts, findings and actions it holds for each call.

A call is audited under the new rules by running only the rules that changed
(engine/rules/delta.py); the rest keep their findings from the first audit. `reuse=False`
audits it in full instead, which gives the same result and is how the tests check it.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine.actions.ledger import ledger_facts
from engine.actions.policy import ActionPolicy
from engine.audit import CallAudit, NoPackForLanguage, PackChooser, audit_call
from engine.batch import SeenIds, in_order
from engine.findings import Finding
from engine.model import Call, Rejected, SourceRef
from engine.privacy import mask_numbers_in_text
from engine.rules.base import VALIDITY_STANDARDS
from engine.rules.delta import PackDelta, Reauditor, audit_keeping, compare_packs
from engine.transcripts import load_calls
from engine.transcripts.shards import Shard, load_shard, plan_shards

IMPACT_SCHEMA = "callaudit.impact/1"
IN_FLIGHT_PER_WORKER = 3


# -- one call, both ways -----------------------------------------------------------------------


@dataclass(frozen=True)
class Compared:
    """One call audited under both versions (`before` is None in ledger mode: the ledger's
    record stands for it)."""

    call: Call
    before: CallAudit | None
    after: CallAudit
    reused_rules: int = 0  # rules whose findings carried over from the first audit


class Auditors:
    """Both versions' packs, and for each language the delta between them (compiled once
    per process)."""

    def __init__(self, before: Path | None, after: Path, *, reuse: bool = True) -> None:
        self.before = PackChooser(before) if before is not None else None
        self.after = PackChooser(after)
        self.reuse = reuse
        self._reauditors: dict[tuple[str, str], Reauditor] = {}

    def preload(self) -> None:
        for chooser in (self.before, self.after):
            if chooser is not None:
                chooser.preload()

    def delta(self, call: Call) -> PackDelta | None:
        if self.before is None:
            return None
        return self.reauditor(call).delta

    def reauditor(self, call: Call) -> Reauditor:
        assert self.before is not None
        old, new = self.before.for_call(call), self.after.for_call(call)
        key = (old.content_hash, new.content_hash)
        found = self._reauditors.get(key)
        if found is None:
            found = self._reauditors[key] = Reauditor(compare_packs(old, new))
        return found

    def compare(self, call: Call) -> Compared:
        """Raises NoPackForLanguage when either version has no pack for the call."""
        if self.before is None:
            return Compared(call, None, audit_call(self.after.for_call(call), call))
        reauditor = self.reauditor(call)
        first = audit_keeping(reauditor.delta.before, call)
        if not self.reuse or reauditor.full:
            return Compared(call, first.audit, audit_call(reauditor.delta.after, call))
        return Compared(call, first.audit, reauditor.audit(call, first),
                        len(reauditor.delta.unchanged))


def _no_pack(call: Call, exc: NoPackForLanguage, side: str) -> Rejected:
    return Rejected(call.source or SourceRef("?"), f"{exc} (rules {side} the change)",
                    "add a pack for this language to both versions, or leave the call out",
                    call.call_id)


def compare_here(items: Iterable[Call | Rejected], auditors: Auditors
                 ) -> Iterator[Compared | Rejected]:
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        yield _compare_one(auditors, item)


def _compare_one(auditors: Auditors, call: Call) -> Compared | Rejected:
    try:
        if auditors.before is not None:
            try:
                auditors.before.for_call(call)
            except NoPackForLanguage as exc:
                return _no_pack(call, exc, "before")
        return auditors.compare(call)
    except NoPackForLanguage as exc:
        return _no_pack(call, exc, "after")


# Each forked worker keeps the packs compiled before the fork, and the call picker.
_worker: tuple[Auditors, Callable[[Call], bool] | None] | None = None


def _compare_shard(shard: Shard | Rejected) -> list[Compared | Rejected]:
    if isinstance(shard, Rejected):
        return [shard]
    assert _worker is not None
    auditors, select = _worker
    return [item if isinstance(item, Rejected) else _compare_one(auditors, item)
            for item in load_shard(shard)
            if isinstance(item, Rejected) or select is None or select(item)]


def compare_calls(inputs: list[str], auditors: Auditors, *, workers: int = 1,
                  select: Callable[[Call], bool] | None = None
                  ) -> Iterator[Compared | Rejected]:
    """Every call of the inputs (those `select` picks) compared, in input order; a call id
    seen twice is rejected the second time, as in an audit."""
    seen = SeenIds()
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods() \
            and threading.active_count() == 1:
        outcomes = _on_workers(inputs, auditors, workers, select)
    else:
        loaded: Iterable[Call | Rejected] = load_calls(inputs)
        if select is not None:
            loaded = (i for i in loaded if isinstance(i, Rejected) or select(i))
        outcomes = compare_here(loaded, auditors)
    for item in outcomes:
        if isinstance(item, Compared):
            if item.call.call_id in seen:
                yield Rejected(item.call.source or SourceRef("?"),
                               f"call_id '{item.call.call_id}' was already compared in this run",
                               "give every call a unique call_id; the first one was kept",
                               item.call.call_id)
                continue
            seen.add(item.call.call_id)
        yield item


def _on_workers(inputs: list[str], auditors: Auditors, workers: int,
                select: Callable[[Call], bool] | None) -> Iterator[Compared | Rejected]:
    """Shards compared by forked worker processes, which inherit the compiled packs."""
    global _worker
    auditors.preload()
    _worker = (auditors, select)
    gc.freeze()  # the packs, shared with the workers unread (see engine/batch.py)
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        for batch in in_order(lambda s: pool.apply_async(_compare_shard, (s,)),
                              plan_shards(inputs), IN_FLIGHT_PER_WORKER * workers):
            yield from batch
    finally:
        pool.terminate()
        gc.unfreeze()
        _worker = None


# -- what the ledger knows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A call as the ledger holds it: its verdict, active findings and actions taken."""

    pack: str
    pack_hash: str
    valid: bool | None
    violations: tuple[str, ...]
    signals: tuple[str, ...]
    actions: tuple[str, ...]
    findings: tuple[Item, ...]


@dataclass
class LedgerView:
    """What `rules impact` reads of a ledger: reviews, and (in ledger mode) records."""

    path: Path
    reviews: dict[str, str] = field(default_factory=dict)  # fingerprint -> upheld/overturned
    missed: dict[str, set[str]] = field(default_factory=dict)  # call id -> standards missed
    db: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path) -> LedgerView:
        """Read-only; raises sqlite3.Error when the file is not a ledger."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        view = cls(path, db=db)
        for row in db.execute("SELECT fingerprint, call_id, verdict, standard FROM reviews "
                              "ORDER BY id"):
            if row["verdict"] in ("upheld", "overturned"):
                view.reviews[row["fingerprint"]] = row["verdict"]
            elif row["verdict"] == "missed" and row["standard"]:
                view.missed.setdefault(row["call_id"], set()).add(row["standard"])
        return view

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    def record_of(self, call_id: str, mask: bool) -> Recorded | None:
        assert self.db is not None
        row = self.db.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            return None
        items = []
        for f in self.db.execute("SELECT fingerprint, rule_id, standard, severity, evidence, "
                                 "waiver FROM findings WHERE call_id = ? AND active = 1 "
                                 "ORDER BY rowid", (call_id,)):
            evidence = json.loads(f["evidence"]) or [{}]
            first = evidence[0]
            text = first.get("text") or ""
            shown = mask_numbers_in_text(text) if mask else text
            quote = shown[first.get("char_start", 0):first.get("char_end", 0)]
            items.append(Item(f["rule_id"], f["standard"], f["severity"], f["fingerprint"],
                              quote, first.get("start"), f["waiver"]))
        valid = None if row["valid"] is None else bool(row["valid"])
        return Recorded(row["rule_pack"], row["rule_pack_hash"], valid,
                        tuple(json.loads(row["violations"])), tuple(json.loads(row["signals"])),
                        tuple(json.loads(row["actions"])), tuple(items))

    def facts_for(self, call: Call) -> dict[str, bool]:
        """The ledger facts the action policy reads, as a night would see them."""
        assert self.db is not None
        return ledger_facts(self.db, call)


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One finding as the impact report shows it."""

    rule_id: str
    standard: str
    severity: str
    fingerprint: str
    quote: str
    at: float | None  # seconds into the call
    waiver: str | None


def _items(audit: CallAudit, mask: bool) -> tuple[Item, ...]:
    return tuple(_item(f, mask) for f in audit.findings)


def _item(finding: Finding, mask: bool) -> Item:
    quote, at = "", None
    if finding.evidence:
        e = finding.evidence[0]
        text = mask_numbers_in_text(e.text) if mask else e.text
        quote, at = text[e.char_start:e.char_end], e.start
    return Item(finding.rule_id, finding.standard, finding.severity, finding.fingerprint,
                quote, at, finding.waiver)


@dataclass(frozen=True)
class Example:
    call_id: str
    quote: str
    at: float | None


@dataclass
class RuleImpact:
    """What the change did to one rule's findings."""

    added: int = 0
    removed: int = 0
    restated: int = 0  # same evidence, another severity or waiver
    added_examples: list[Example] = field(default_factory=list)
    removed_examples: list[Example] = field(default_factory=list)
    # human reviews of its findings on these calls: (upheld, overturned) on each side
    reviewed_before: list[int] = field(default_factory=lambda: [0, 0])
    reviewed_after: list[int] = field(default_factory=lambda: [0, 0])

    @staticmethod
    def precision(counts: list[int]) -> float | None:
        upheld, overturned = counts
        return upheld / (upheld + overturned) if upheld + overturned else None


@dataclass(frozen=True)
class ReviewedFinding:
    call_id: str
    rule_id: str
    fingerprint: str
    quote: str


@dataclass
class ImpactReport:
    before: str  # how the rules before were given ("HEAD", a folder, "the ledger")
    after: str
    calls: int = 0
    compared: int = 0
    not_in_ledger: int = 0
    rejected: list[str] = field(default_factory=list)
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)  # language -> delta
    flips: Counter[str] = field(default_factory=Counter)  # "valid → invalid"...
    flip_examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    standards: dict[str, Counter[str]] = field(default_factory=dict)  # std -> +/- calls
    rules: dict[str, RuleImpact] = field(default_factory=dict)
    actions: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> created/withdrawn
    action_examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    upheld_lost: list[ReviewedFinding] = field(default_factory=list)
    overturned_raised: list[ReviewedFinding] = field(default_factory=list)
    missed_caught: list[tuple[str, str]] = field(default_factory=list)  # (call, standard)
    reused_rules: int = 0  # rule runs saved by reuse, summed over calls
    rule_runs: int = 0
    examples: int = 3
    # The ledger's nights of the calls, each with the packs its verdicts were made under
    # (NightVersions.as_json), marked current when they are the rules before the change.
    versions: list[dict[str, Any]] = field(default_factory=list)

    # -- figures `--fail-if` can test ------------------------------------------------------------

    def metrics(self) -> dict[str, int]:
        found = {
            "flips": self.flips["valid → invalid"] + self.flips["invalid → valid"],
            "to_invalid": self.flips["valid → invalid"],
            "to_valid": self.flips["invalid → valid"],
            "sale_changes": sum(n for k, n in self.flips.items() if "no sale" in k),
            "findings_added": sum(r.added for r in self.rules.values()),
            "findings_removed": sum(r.removed for r in self.rules.values()),
            "findings_changed": sum(r.added + r.removed + r.restated
                                    for r in self.rules.values()),
            "upheld_lost": len(self.upheld_lost),
            "overturned_raised": len(self.overturned_raised),
            "actions_created": sum(c["created"] for c in self.actions.values()),
            "actions_withdrawn": sum(c["withdrawn"] for c in self.actions.values()),
            "rejected": len(self.rejected),
        }
        for kind in ACTION_KINDS:
            counts = self.actions.get(kind, Counter())
            found[f"{kind}_created"] = counts["created"]
            found[f"{kind}_withdrawn"] = counts["withdrawn"]
        return found


# The action kinds of engine/actions/policy.py, in the order reports list them.
ACTION_KINDS = ("callback", "blacklist", "dnc", "agent_recheck", "trial_open",
                "trial_confirmation", "callback_result")


def _verdict_word(valid: bool | None) -> str:
    return "no sale" if valid is None else "valid" if valid else "invalid"


class Tally:
    """Builds the report call by call."""

    def __init__(self, report: ImpactReport, policies: tuple[ActionPolicy | None,
                 ActionPolicy], ledger: LedgerView | None, mask: bool) -> None:
        self.report = report
        self.ledger = ledger
        self.mask = mask
        from engine.actions.durable_policy import PolicyRunner, call_facts

        self._facts = call_facts
        self.runners = tuple(PolicyRunner(p) if p is not None else None for p in policies)
        self.policies = policies

    def rejected(self, item: Rejected) -> None:
        self.report.rejected.append(str(item) if not self.mask else mask_numbers_in_text(
            str(item)))

    def add(self, compared: Compared, delta: PackDelta | None) -> None:
        report = self.report
        report.calls += 1
        call = compared.call
        if delta is not None and delta.after.language not in report.packs:
            report.packs[delta.after.language] = _delta_summary(delta)
        after_items = _items(compared.after, self.mask)
        after_actions = self._actions(1, compared.after)
        if compared.before is not None:
            before_valid = compared.before.verdict.valid
            before_violations = compared.before.verdict.violations
            before_items = _items(compared.before, self.mask)
            before_actions = self._actions(0, compared.before)
        else:
            assert self.ledger is not None
            recorded = self.ledger.record_of(call.call_id, self.mask)
            if recorded is None:
                report.not_in_ledger += 1
                return
            before_valid, before_violations = recorded.valid, recorded.violations
            before_items, before_actions = recorded.findings, set(recorded.actions)
        report.compared += 1
        report.reused_rules += compared.reused_rules
        if delta is not None:
            report.rule_runs += len(delta.after.rules_to_run())
        after_valid = compared.after.verdict.valid
        if before_valid != after_valid:
            flip = f"{_verdict_word(before_valid)} → {_verdict_word(after_valid)}"
            report.flips[flip] += 1
            if len(report.flip_examples[flip]) < report.examples:
                report.flip_examples[flip].append(call.call_id)
        for standard in VALIDITY_STANDARDS:
            was = standard in before_violations
            now = standard in compared.after.verdict.violations
            if was != now:
                report.standards.setdefault(standard, Counter())["+" if now else "-"] += 1
        self._findings(call.call_id, before_items, after_items)
        for kind in sorted(after_actions ^ before_actions):
            what = "created" if kind in after_actions else "withdrawn"
            report.actions.setdefault(kind, Counter())[what] += 1
            examples = report.action_examples[f"{kind} {what}"]
            if len(examples) < report.examples:
                examples.append(call.call_id)
        if self.ledger is not None:
            for standard in sorted(self.ledger.missed.get(call.call_id, ())):
                if standard in compared.after.verdict.violations and \
                        standard not in before_violations:
                    report.missed_caught.append((call.call_id, standard))

    def _actions(self, side: int, audit: CallAudit) -> set[str]:
        runner, policy = self.runners[side], self.policies[side]
        if runner is None or policy is None:
            return set()
        known = self.ledger.facts_for(audit.call) if self.ledger is not None else {}
        fired = runner.fired(self._facts(audit, policy.outcome_names, known))
        action_of = {r.id: r.action for r in policy.rules}
        return {action_of[rule_id] for rule_id in fired}

    def _findings(self, call_id: str, before: tuple[Item, ...], after: tuple[Item, ...]) -> None:
        report = self.report
        old = {i.fingerprint: i for i in before}
        new = {i.fingerprint: i for i in after}
        reviews = self.ledger.reviews if self.ledger is not None else {}
        for fingerprint, item in new.items():
            rule = report.rules.setdefault(item.rule_id, RuleImpact())
            earlier = old.get(fingerprint)
            if earlier is None:
                rule.added += 1
                if len(rule.added_examples) < report.examples:
                    rule.added_examples.append(Example(call_id, item.quote, item.at))
            elif (earlier.severity, earlier.waiver) != (item.severity, item.waiver):
                rule.restated += 1
            review = reviews.get(fingerprint)
            if review is not None:
                rule.reviewed_after[review == "overturned"] += 1
                if review == "overturned" and item.waiver is None:
                    report.overturned_raised.append(
                        ReviewedFinding(call_id, item.rule_id, fingerprint, item.quote))
        for fingerprint, item in old.items():
            rule = report.rules.setdefault(item.rule_id, RuleImpact())
            review = reviews.get(fingerprint)
            if review is not None:
                rule.reviewed_before[review == "overturned"] += 1
            if fingerprint in new:
                continue
            rule.removed += 1
            if len(rule.removed_examples) < report.examples:
                rule.removed_examples.append(Example(call_id, item.quote, item.at))
            if review == "upheld":
                report.upheld_lost.append(
                    ReviewedFinding(call_id, item.rule_id, fingerprint, item.quote))


def _delta_summary(delta: PackDelta) -> dict[str, Any]:
    return {
        "before": {"pack": delta.before.label, "hash": delta.before.content_hash},
        "after": {"pack": delta.after.label, "hash": delta.after.content_hash},
        "identical": delta.identical,
        "settings_changed": not delta.frame_same,
        "rules": [{"id": c.rule_id, "change": c.change, "source": c.source}
                  for c in delta.changes],
        "matchers_changed": list(delta.changed_matchers),
        "rules_reused": len(delta.unchanged),
    }


# -- --fail-if ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str  # ">" or ">="
    value: int

    def trips(self, metrics: dict[str, int]) -> bool:
        found = metrics[self.metric]
        return found > self.value if self.op == ">" else found >= self.value

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value}"


def parse_threshold(text: str) -> Threshold:
    """`flips>10`, `upheld_lost>0`, `callback-created>=5`; ValueError says what is wrong."""
    known = sorted(ImpactReport("", "").metrics())
    for op in (">=", ">"):
        if op in text:
            name, _, number = text.partition(op)
            name = name.strip().replace("-", "_")
            if name not in known:
                raise ValueError(f"unknown figure '{name.strip()}' in '{text}'; known: "
                                 + ", ".join(known))
            try:
                value = int(number.strip())
            except ValueError:
                raise ValueError(f"'{number.strip()}' in '{text}' is not a whole number"
                                 ) from None
            if value < 0:
                raise ValueError(f"'{text}': the number must be 0 or more")
            return Threshold(name, op, value)
    raise ValueError(f"'{text}' is not FIGURE>N or FIGURE>=N (e.g. flips>10, upheld_lost>0)")


def days_between(first: date, last: date) -> list[date]:
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]


@dataclass(frozen=True)
class StartedBetween:
    """Picks the calls started on a date in the range (a dataclass: forked or spawned
    workers can be given it)."""

    first: str  # YYYY-MM-DD
    last: str

    def __call__(self, call: Call) -> bool:
        if call.started_at is None:
            return False
        day = call.started_at.date().isoformat()
        return self.first <= day <= self.last
