"""The auditor: one call in, its findings and verdict out. No I/O, no printing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from engine.findings import Evidence, Finding, Verdict, fingerprint_of_spans
from engine.model import Call
from engine.rules.base import SIGNALS, VALIDITY_STANDARDS, Mark
from engine.rules.catalogue import apply_product_facts
from engine.rules.context import CallContext
from engine.rules.kinds import Rule
from engine.rules.pack import PACK_ROOT_LANGUAGES, RulePack, load_pack, resolve_pack_path


@dataclass(frozen=True)
class CallAudit:
    """Everything the audit found on one call."""

    call: Call
    verdict: Verdict
    findings: tuple[Finding, ...]


def context_for(pack: RulePack, call: Call) -> CallContext:
    """Normalise the call's turns and find every matcher's hits, the whole call at once."""
    resolution = pack.catalogue.resolve(call.product) if pack.catalogue is not None else None
    if resolution is not None and resolution.product is not call.product:
        call = replace(call, product=resolution.product)
    product = call.product.name if call.product else None
    turns, hits = pack.index.read_call(
        [t.text for t in call.turns], [t.speaker for t in call.turns], product
    )
    ctx = CallContext(call, turns, hits, product=resolution,
                      by_example=pack.by_example, acts=pack.acts)
    if pack.product_facts:
        apply_product_facts(ctx, pack.product_facts, resolution.entry if resolution else None)
    judge_sale(pack, ctx)
    return ctx


def judge_sale(pack: RulePack, ctx: CallContext) -> None:
    """Whether something was sold or continued on the call, by the pack's `sale_made` (or,
    failing it, `sale_possible`), with the evidence."""
    if pack.sale_made is not None:
        evidence = pack.sale_made.evaluate(ctx)
        ctx.sale_uncertain = False
        if evidence is None and pack.sale_possible is not None:
            evidence = pack.sale_possible.evaluate(ctx)
            ctx.sale_uncertain = evidence is not None
        ctx.sale_made = evidence is not None
        ctx.sale_evidence = evidence or ()


def _evidence(call: Call, mark: Mark) -> Evidence:
    number, char_start, char_end = mark
    turn = call.turns[number]
    text = turn.text
    # Positional, in field order (turn, speaker, char_start, char_end, quote, text, start,
    # end): ~15 a call, and keywords made each a third dearer.
    return Evidence(number, turn.speaker, char_start, char_end, text[char_start:char_end],
                    text, turn.start, turn.end)


def run_rule(rule: Rule, ctx: CallContext) -> list[Finding]:
    """One rule on one call."""
    when = rule.when.evaluate(ctx) if rule.when is not None else ()
    if when is None:
        return []
    info = rule.info
    call = ctx.call
    findings = []
    for draft in rule.check(ctx, when):
        evidence = tuple([_evidence(call, m) for m in draft.evidence])
        # Positional, in field order, as in _evidence: call_id, rule_id, standard,
        # severity, message, evidence, rule_source, detail, fingerprint.
        findings.append(
            Finding(call.call_id, info.id, info.standard, info.severity, info.message,
                    evidence, info.source, draft.detail,
                    fingerprint_of_spans(call.call_id, info.id, draft.evidence))
        )
    return findings


def audit_call(pack: RulePack, call: Call, *, include_experimental: bool = False) -> CallAudit:
    """Run every active rule of the pack on the call."""
    ctx = context_for(pack, call)
    return conclude(pack, ctx, run_rules(pack, ctx, include_experimental=include_experimental))


def run_rules(
    pack: RulePack, ctx: CallContext, *, include_experimental: bool = False,
    reused: Mapping[str, Sequence[Finding]] | None = None,
) -> list[Finding]:
    """The findings of the pack's rules on the call, waivers marked, in rule order, before
    `conclude` turns sale-standard ones into coaching notes. `reused`: findings already
    known for some rules (by rule id), taken as they are instead of running those rules
    (`rules impact` reuses a rule's findings when the rule and its matchers are unchanged)."""
    call = ctx.call
    findings: list[Finding] = []
    matched = ctx.hits.keys()
    composed = pack.composed
    if pack.by_example is not None:  # scored only when a rule asks: count them as possible
        matched = matched | pack.by_example.names
    for rule in pack.rules_to_run(include_experimental):
        known = reused.get(rule.info.id) if reused is not None else None
        if known is not None:
            findings.extend(known)
            if composed:
                ctx.findings.extend(known)
            continue
        for need in rule.requirements:
            if matched.isdisjoint(need):
                break  # a matcher it needs never matched: it cannot fire
        else:
            found = [_waived(pack, call, f) for f in run_rule(rule, ctx)]
            findings.extend(found)
            if composed:
                ctx.findings.extend(found)
    return findings


def conclude(pack: RulePack, ctx: CallContext, findings: list[Finding]) -> CallAudit:
    """The call's audit from its rules' findings (`run_rules`): coaching notes where nothing
    was sold, findings in order, and the verdict."""
    call = ctx.call
    if not ctx.sale_made:
        findings = [_coaching(f) if f.standard in SALE_STANDARDS else f for f in findings]
    else:
        findings = list(findings)
    findings.sort(key=lambda f: f.sort_key)
    standards = {f.standard for f in findings if f.waiver is None and f.severity != "info"}
    signals = {f.standard for f in findings if f.waiver is None}
    violations = tuple(s for s in VALIDITY_STANDARDS if s in standards)
    verdict = Verdict(
        call_id=call.call_id,
        valid=(not violations) if ctx.sale_made else None,
        violations=violations,
        signals=tuple(s for s in SIGNALS if s in signals),
        rule_pack=pack.label,
        rule_pack_hash=pack.content_hash,
        findings=sum(1 for f in findings if f.waiver is None),
        sale_made=ctx.sale_made,
        outcomes=tuple(name for name, condition in pack.outcomes
                       if condition.evaluate(ctx) is not None),
        notes=_notes(call) + _sale_note(ctx)
        + (ctx.product.conflicts if ctx.product is not None else ()),
        sale_uncertain=ctx.sale_uncertain,
    )
    return CallAudit(call, verdict, tuple(findings))


# The four standards judge a sale (or a continued service). On a call where nothing is sold,
# a breach is a coaching note: listed at severity info, never a violation (docs/rules.md, P1).
SALE_STANDARDS = ("identity", "comprehension", "script", "consent")
COACHING = "no sale or continuation on this call: a coaching note, not a violation"


def _coaching(finding: Finding) -> Finding:
    detail = f"{finding.detail}; {COACHING}" if finding.detail else COACHING
    return replace(finding, severity="info", detail=detail)


def _sale_note(ctx: CallContext) -> tuple[str, ...]:
    if not ctx.sale_uncertain:
        return ()
    return ("the pack's sale_made did not hold, but sale_possible did: the call was judged "
            "as a sale; check that something was sold or continued",)


def _notes(call: Call) -> tuple[str, ...]:
    """Say so when speaker-dependent rules could not be applied, rather than guess."""
    unknown = sum(1 for t in call.turns if t.speaker == "unknown")
    if not unknown:
        return ()
    return (f"{unknown} of {len(call.turns)} turns have no known speaker (a mono recording?): "
            "rules that depend on who spoke were not applied to them",)


def _waived(pack: RulePack, call: Call, finding: Finding) -> Finding:
    """The finding, marked with the first waiver of its rule that covers this call."""
    for waiver in pack.waivers:
        if waiver.rule_id == finding.rule_id and waiver.applies_to(call):
            return replace(finding, waiver=waiver.label)
    return finding


class NoPackForLanguage(LookupError):
    """No rule pack folder exists for a call's language."""

    def __init__(self, language: str, folder: Path) -> None:
        super().__init__(f"no rule pack for language '{language}' (looked in {folder})")
        self.language = language
        self.folder = folder


class PackChooser:
    """Picks (and compiles once) the pack for each call: by language, or the one named."""

    def __init__(self, rules_root: Path, fixed: Path | None = None) -> None:
        self.rules_root = rules_root
        self.fixed_path = fixed
        self.fixed = load_pack(fixed) if fixed is not None else None
        self._by_language: dict[str, RulePack] = {}

    def preload(self) -> None:
        """Compile every pack now (before worker processes are forked, so they share them)."""
        if self.fixed is not None:
            return
        for language in PACK_ROOT_LANGUAGES:
            folder = resolve_pack_path(self.rules_root, language)
            if language not in self._by_language and folder.is_dir():
                self._by_language[language] = load_pack(folder)

    def loaded(self) -> list[RulePack]:
        """The packs compiled so far."""
        return [self.fixed] if self.fixed is not None else list(self._by_language.values())

    def for_call(self, call: Call) -> RulePack:
        if self.fixed is not None:
            return self.fixed
        pack = self._by_language.get(call.language)
        if pack is None:
            folder = resolve_pack_path(self.rules_root, call.language)
            if not folder.is_dir():
                raise NoPackForLanguage(call.language, folder)
            pack = load_pack(folder)
            self._by_language[call.language] = pack
        return pack
