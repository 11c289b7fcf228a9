"""What changed between two versions of a rule pack, and a call audited again under the
second by running only what changed (`callaudit rules impact`).

A rule is *unchanged* when its compiled definition is the same in both versions with every
matcher it names expanded into that matcher's own definition (and so on, for a matcher that
replies to another), and its waivers are the same. Where a rule or matcher is written (file,
line) and what it says about itself (rationale, description, examples) do not count: moving
a rule, or editing its examples, changes no finding. A rule that reads other rules'
findings (`found:`) is unchanged only when every rule is.

Everything a pack's header decides for all rules (language settings, fillers, negation,
clauses, acts, the product catalogue) makes up its *frame*. When the frame differs, every
rule is run again under the new version. When only `sale_made` or `sale_possible` (or a
matcher they read) differs, a call is judged again: where the sale comes out as before, the
unchanged rules keep their findings; elsewhere every rule is run again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from engine.audit import CallAudit, conclude, context_for, judge_sale, run_rules
from engine.findings import Finding
from engine.model import Call
from engine.rules.catalogue import apply_product_facts
from engine.rules.conditions import uses_found
from engine.rules.context import CallContext
from engine.rules.matchers import Hit, Matcher, PhraseIndex
from engine.rules.pack import PACK_FILE, RulePack

# Fields that say where a rule or matcher is written, or describe it to people: they never
# change what it finds.
_NOT_DEFINITION = frozenset({"location", "examples", "rationale", "description", "since"})
# pack.yaml keys that only name the pack, and those compared as compiled conditions
_HEADER_LABELS = frozenset({"name", "version", "description", "sale_made", "sale_possible",
                            "outcomes"})


def _matcher_names(pack: RulePack) -> dict[str, Matcher]:
    return {m.name: m for m in pack.index.matchers}


class _Definitions:
    """Canonical, comparable forms of a pack's rules and matchers (nested tuples of plain
    values), with every matcher name a definition mentions replaced by that matcher's own
    definition."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self.matchers = _matcher_names(pack)
        self.facts = {ref.name: ref for ref in pack.product_facts}
        self._done: dict[str, Any] = {}
        self._open: set[str] = set()

    def matcher(self, name: str) -> Any:
        known = self._done.get(name)
        if known is not None:
            return known
        if name in self._open:  # a matcher replying to itself, through others
            return ("matcher-cycle", name)
        self._open.add(name)
        matcher = self.matchers[name]
        body = tuple((f.name, self.value(getattr(matcher, f.name)))
                     for f in dataclasses.fields(matcher)
                     if f.name not in _NOT_DEFINITION and f.name != "name")
        self._open.discard(name)
        self._done[name] = ("matcher", body)
        return self._done[name]

    def fact(self, name: str) -> Any:
        """A product-fact reference: its own matchers' definitions and the catalogue's."""
        ref = self.facts[name]
        catalogue = tuple(self.matcher(n) for n in sorted(self.matchers)
                          if n.startswith("product "))
        own = tuple((f.name, self.value(getattr(ref, f.name)))
                    for f in dataclasses.fields(ref) if f.name != "name")
        return ("fact", own, catalogue)

    def value(self, value: Any, expand: bool = True) -> Any:
        if isinstance(value, str):
            if expand and value in self.matchers:
                return self.matcher(value)
            if expand and value in self.facts:
                return self.fact(value)
            return value
        if value is None or isinstance(value, (int, float, bool)):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Fields left out of comparison (caches, lookups derived from other fields) are
            # left out here too.
            return (type(value).__name__, *(
                (f.name, self.value(getattr(value, f.name), expand))
                for f in dataclasses.fields(value)
                if f.compare and f.name not in _NOT_DEFINITION))
        if isinstance(value, (tuple, list)):
            return tuple(self.value(v, expand) for v in value)
        if isinstance(value, (frozenset, set)):
            return tuple(sorted((self.value(v, expand) for v in value), key=repr))
        if isinstance(value, Mapping):
            return tuple(sorted(((self.value(k, expand), self.value(v, expand))
                                 for k, v in value.items()), key=repr))
        # Not a plain value: never equal to anything, so whatever holds it counts as changed.
        return ("opaque", type(value).__name__, id(value))

    def rule(self, rule_id: str) -> Any:
        rule = self.pack.rule(rule_id)
        waivers = tuple(w for w in self.pack.waivers if w.rule_id == rule_id)
        return (self.value(rule), self.value(waivers))

    def frame(self) -> Any:
        pack = self.pack
        header = _header(pack)
        catalogue = (self.value(pack.catalogue, expand=False) if pack.catalogue is not None
                     else None)
        return (pack.language, header, catalogue)

    def sale(self) -> Any:
        return (self.value(self.pack.sale_made), self.value(self.pack.sale_possible))


def _header(pack: RulePack) -> Any:
    """pack.yaml as data, without the keys that only name the pack."""
    path = next((Path(f) for f in pack.files if Path(f).name == PACK_FILE), None)
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ("unreadable", str(path))
    if not isinstance(data, dict):
        return repr(data)
    return repr(sorted((k, v) for k, v in data.items() if k not in _HEADER_LABELS))


@dataclass(frozen=True)
class RuleChange:
    """One rule that is not the same in both versions."""

    rule_id: str
    change: str  # "added", "removed", "changed" or "reads changed rules"
    source: str  # where it is written (the new version's place; the old one's if removed)


@dataclass(frozen=True)
class PackDelta:
    """Two versions of one language's pack, and what differs between them."""

    before: RulePack
    after: RulePack
    frame_same: bool
    sale_same: bool  # `sale_made` and `sale_possible`, with their matchers
    changes: tuple[RuleChange, ...]
    unchanged: frozenset[str]  # ids of rules whose findings carry over
    changed_matchers: tuple[str, ...]  # names (in the new version) found afresh

    @property
    def identical(self) -> bool:
        return self.before.content_hash == self.after.content_hash


def compare_packs(before: RulePack, after: RulePack) -> PackDelta:
    """What differs between two versions of a pack (see the module's docstring)."""
    old, new = _Definitions(before), _Definitions(after)
    frame_same = old.frame() == new.frame()
    sale_same = old.sale() == new.sale()
    changes: list[RuleChange] = []
    unchanged: set[str] = set()
    old_ids = {r.info.id for r in before.rules}
    new_ids = {r.info.id for r in after.rules}
    composed = []
    for rule in after.rules:
        rule_id = rule.info.id
        if rule_id not in old_ids:
            changes.append(RuleChange(rule_id, "added", rule.info.source))
        elif uses_found(rule.when):
            composed.append(rule)
        elif old.rule(rule_id) != new.rule(rule_id):
            changes.append(RuleChange(rule_id, "changed", rule.info.source))
        else:
            unchanged.add(rule_id)
    for rule in before.rules:
        if rule.info.id not in new_ids:
            changes.append(RuleChange(rule.info.id, "removed", rule.info.source))
    for rule in composed:
        rule_id = rule.info.id
        if old.rule(rule_id) != new.rule(rule_id):
            changes.append(RuleChange(rule_id, "changed", rule.info.source))
        elif changes:
            changes.append(RuleChange(rule_id, "reads changed rules", rule.info.source))
        else:
            unchanged.add(rule_id)
    if not frame_same:
        unchanged = set()
    moved = [name for name, matcher in new.matchers.items()
             if name not in old.matchers or old.matcher(name) != new.matcher(name)]
    return PackDelta(before, after, frame_same, sale_same, tuple(changes),
                     frozenset(unchanged), tuple(moved))


@dataclass
class Audited:
    """One call audited under one version: the audit, and what a later version can reuse
    (the call's context as first read, each rule's findings before `conclude`)."""

    audit: CallAudit
    ctx: CallContext
    first_hits: dict[str, list[Hit]]
    by_rule: dict[str, list[Finding]]


def audit_keeping(pack: RulePack, call: Call) -> Audited:
    """Audit the call as `audit_call` does, keeping what `reaudit` needs."""
    ctx = context_for(pack, call)
    first_hits = dict(ctx.hits)  # rules may add example hits to ctx.hits as they run
    found = run_rules(pack, ctx)
    by_rule: dict[str, list[Finding]] = {}
    for finding in found:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    return Audited(conclude(pack, ctx, found), ctx, first_hits, by_rule)


class Reauditor:
    """Audits calls again under the new version of a pack, given their audit under the old
    one: unchanged rules keep their findings, and only changed matchers are searched for."""

    def __init__(self, delta: PackDelta) -> None:
        self.delta = delta
        after = delta.after
        self.full = not delta.frame_same
        names = set(delta.changed_matchers)
        wanted = _with_reply_targets(after.index.matchers, names)
        self.index = (PhraseIndex([m for m in after.index.matchers if m.name in wanted],
                                  after.normalizer, after.index.negation,
                                  after.index.clauses, after.index.acts)
                      if wanted and not self.full else None)
        fresh = {name for name in wanted}
        derived = {ref.name for ref in after.product_facts}
        self.kept_names = frozenset(set(_matcher_names(after)) - fresh - derived)
        self.sources = {r.info.id: r.info.source for r in after.rules}

    def audit(self, call: Call, before: Audited) -> CallAudit:
        after = self.delta.after
        if self.full:
            return conclude(after, ctx := context_for(after, call), run_rules(after, ctx))
        old = before.ctx
        hits = {name: found for name, found in before.first_hits.items()
                if name in self.kept_names}
        if self.index is not None:
            product = old.call.product.name if old.call.product else None
            hits.update(self.index.scan(old.turns, [t.speaker for t in old.call.turns],
                                        product))
        ctx = CallContext(old.call, old.turns, hits, sale_made=old.sale_made,
                          sale_evidence=old.sale_evidence, sale_uncertain=old.sale_uncertain,
                          product=old.product, by_example=after.by_example, acts=after.acts)
        if "dialogue" in old.__dict__:  # the call's acts, read once already (same settings)
            ctx.__dict__["dialogue"] = old.__dict__["dialogue"]
        if after.product_facts:
            apply_product_facts(ctx, after.product_facts,
                                old.product.entry if old.product else None)
        reused = {
            rule_id: [self._moved(f) for f in before.by_rule.get(rule_id, ())]
            for rule_id in self.delta.unchanged
        }
        if not self.delta.sale_same:
            judge_sale(after, ctx)
            if (ctx.sale_made, ctx.sale_uncertain, ctx.sale_evidence) != (
                    old.sale_made, old.sale_uncertain, old.sale_evidence):
                reused = {}  # rules may read whether a sale was made: run them all
        return conclude(after, ctx, run_rules(after, ctx, reused=reused))

    def _moved(self, finding: Finding) -> Finding:
        """A reused finding, naming where its rule is written now."""
        source = self.sources.get(finding.rule_id, finding.rule_source)
        return finding if source == finding.rule_source else replace(finding, rule_source=source)


def _with_reply_targets(matchers: Iterable[Matcher], names: set[str]) -> set[str]:
    """The named matchers and, for each that counts only as a reply, the one it replies to."""
    by_name = {m.name: m for m in matchers}
    wanted = set(names)
    todo = list(names)
    while todo:
        target = by_name[todo.pop()].replies_to
        if target is not None and target in by_name and target not in wanted:
            wanted.add(target)
            todo.append(target)
    return wanted
