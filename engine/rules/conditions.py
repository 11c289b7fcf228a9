"""Conditions: named matchers combined the way a checklist reads.

    when:
      all:
        - call_type: sale
        - said: activation_notice
        - not: {before: {first: explicit_acceptance, then: activation_notice}}

A condition evaluates to the hits that make it true (its evidence), or None when false.
`needs()` names matchers one of which must have matched for it to hold (None: it can hold
without any), so a rule can be passed over without evaluating it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.model import CALL_TYPES, LANGUAGES
from engine.rules.base import STANDARDS, Mark
from engine.rules.compiler import Compiler, act_types
from engine.rules.context import CallContext
from engine.rules.matchers import Hit
from engine.rules.problems import suggest
from engine.rules.yamlsource import Node
from engine.text.acts import ANSWER_CLASSES

# Hits of matchers (spans of the match text); `found` gives Marks (spans of the original).
Evidence = tuple[Hit | Mark, ...]


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        evidence: list[Hit] = []
        for item in self.items:
            found = item.evaluate(ctx)
            if found is None:
                return None
            evidence.extend(found)
        return tuple(evidence)

    def needs(self) -> frozenset[str] | None:
        known = [n for n in (item.needs() for item in self.items) if n is not None]
        return min(known, key=len) if known else None


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        for item in self.items:
            found = item.evaluate(ctx)
            if found is not None:
                return found
        return None

    def needs(self) -> frozenset[str] | None:
        each = [item.needs() for item in self.items]
        if any(n is None for n in each):
            return None
        return frozenset().union(*each)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Not:
    item: Condition

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        return () if self.item.evaluate(ctx) is None else None

    def needs(self) -> frozenset[str] | None:
        return None


@dataclass(frozen=True)
class Said:
    """The matcher matched (optionally: said by this speaker)."""

    matcher: str
    by: str | None = None
    at_least: int = 1  # how many matches it takes ("没听清" once is ordinary; twice is not)
    # how many different turns must say it: "什么险？我没开过什么险啊" is one turn, however
    # many of the matcher's phrases it holds
    in_turns: int = 1

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        hits = ctx.hits_of(self.matcher, self.by)
        if len(hits) < self.at_least:
            return None
        if self.in_turns > 1 and len({h.turn for h in hits}) < self.in_turns:
            return None
        return tuple(hits)

    def needs(self) -> frozenset[str] | None:
        return frozenset({self.matcher}) if self.at_least >= 1 else None


@dataclass(frozen=True)
class Before:
    """`first` matched before `then` (order); with `within_turns`, close after it (proximity)."""

    first: tuple[str, ...]  # any of these
    then: str
    within_turns: int | None = None

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        firsts = sorted(h for name in self.first for h in ctx.hits_of(name))
        for later in ctx.hits_of(self.then):
            for earlier in firsts:
                if not precedes(earlier, later):
                    break
                if self.within_turns is None or later.turn - earlier.turn <= self.within_turns:
                    return (earlier, later)
        return None

    def needs(self) -> frozenset[str] | None:
        return frozenset({self.then})


@dataclass(frozen=True)
class InFirstTurns:
    """The matcher matched within the call's first N turns."""

    matcher: str
    turns: int

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        hits = [h for h in ctx.hits_of(self.matcher) if h.turn < self.turns]
        return tuple(hits) if hits else None

    def needs(self) -> frozenset[str] | None:
        return frozenset({self.matcher})


@dataclass(frozen=True)
class CallIs:
    """Call metadata: call_type, language, product code, has_trial or sale_made."""

    field: str
    values: tuple[object, ...]

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        if _CALL_FACTS[self.field](ctx) not in self.values:
            return None
        return ctx.sale_evidence if self.field == "sale_made" else ()

    def needs(self) -> frozenset[str] | None:
        return None


@dataclass(frozen=True)
class Found:
    """Another rule of the pack made a finding on this call (composition): by rule id, or
    of a standard. Its evidence is that finding's evidence. Rules that use `found` run after
    every rule that does not, and see only those rules' findings."""

    rules: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        marks = [
            Mark(e.turn, e.char_start, e.char_end)
            for f in ctx.findings
            if f.waiver is None and (f.rule_id in self.rules or f.standard in self.standards)
            for e in f.evidence
        ]
        return tuple(sorted(set(marks))) if marks else None

    def needs(self) -> frozenset[str] | None:
        return None




@dataclass(frozen=True)
class Answered:
    """The customer answered an agent's question with one of `classes` (accept, refuse,
    hedge, other): a question the `question` matcher matched in, and/or of an act type in
    `acts`; with `then`, that matcher also matched after the answer. Evidence: the
    question, the answer (and the later match)."""

    question: str | None
    acts: tuple[str, ...]
    classes: tuple[str, ...]
    then: str | None = None

    def evaluate(self, ctx: CallContext) -> Evidence | None:
        asked: dict[int, Hit] | None = None
        if self.question is not None:
            asked = {}
            for hit in ctx.hits_of(self.question):
                asked.setdefault(hit.turn, hit)
            if not asked:
                return None
        dialogue = ctx.dialogue
        if asked is not None:  # only the turns around the questions are read
            answers = [a for number in sorted(asked)
                       for a in dialogue.answers_to(number, self.classes)]
            if self.then is not None and any(a.answer_class in self.classes for a in answers):
                # ...and, to see a change of mind, every answer to them
                answers = [a for number in sorted(asked) for a in dialogue.answers_to(number)]
        else:
            answers = [a for a in dialogue.answers if a is not None]
        found = [(answer, question) for answer in answers
                 for question in [self._question(ctx, answer.question, asked)]
                 if question is not None]
        for index, (answer, question) in enumerate(found):
            if answer.answer_class not in self.classes:
                continue
            reply = Hit(answer.turn, answer.start, answer.end)
            if self.then is None:
                return (question, reply)
            # Until the customer answers such a question otherwise ("我在开车" … "行，你说").
            until = next((a.turn for a, _ in found[index + 1 :]
                          if a.answer_class not in self.classes), None)
            later = next((h for h in ctx.hits_of(self.then) if h.turn > answer.turn), None)
            if later is not None and (until is None or later.turn < until):
                return (question, reply, later)
        return None

    def _question(self, ctx: CallContext, number: int, asked: dict[int, Hit] | None) -> Hit | None:
        """The evidence for the question of turn `number`, None when it is not one wanted."""
        turn_acts = ctx.dialogue.acts_at(number)
        if self.acts and turn_acts.acts.isdisjoint(self.acts):
            return None
        if asked is not None:
            return asked.get(number)
        span = next((turn_acts.span_of(a) for a in self.acts if turn_acts.span_of(a)), None)
        return Hit(number, *(span or (0, len(ctx.turns[number].text))))

    def needs(self) -> frozenset[str] | None:
        if self.question is not None:
            return frozenset({self.question})
        return frozenset({self.then}) if self.then is not None else None


Condition = All | AnyOf | Not | Said | Before | InFirstTurns | CallIs | Found | Answered

# What CallIs reads for each field: only the one it is asked (several a call per rule).
_CALL_FACTS: dict[str, Callable[[CallContext], object]] = {
    "call_type": lambda ctx: ctx.call.call_type,
    "language": lambda ctx: ctx.call.language,
    "product": lambda ctx: ctx.call.product.code if ctx.call.product else None,
    "has_trial": lambda ctx: ctx.call.has_trial,
    "sale_made": lambda ctx: ctx.sale_made,
}


def precedes(earlier: Hit, later: Hit) -> bool:
    """Earlier turn, or earlier and not overlapping in the same turn."""
    return earlier.turn < later.turn or (earlier.turn == later.turn and earlier.end <= later.start)


def _compile_list(node: Node, compiler: Compiler, what: str) -> tuple[Condition, ...] | None:
    items = [compile_condition(item, compiler) for item in node.items(what)]
    if not node.is_sequence():
        return None
    if not items:
        node.error(f"'{what}' needs at least one condition")
        return None
    if any(item is None for item in items):
        return None
    return tuple(i for i in items if i is not None)


def _all(node: Node, compiler: Compiler) -> Condition | None:
    items = _compile_list(node, compiler, "all")
    return All(items) if items else None


def _any(node: Node, compiler: Compiler) -> Condition | None:
    items = _compile_list(node, compiler, "any")
    return AnyOf(items) if items else None


def _not(node: Node, compiler: Compiler) -> Condition | None:
    item = compile_condition(node, compiler)
    return Not(item) if item is not None else None


def _said(node: Node, compiler: Compiler) -> Condition | None:
    if node.is_mapping() and "matcher" in {k.value for k, _ in node.node.value}:
        fields = node.mapping(
            "said", frozenset({"matcher", "by", "at_least", "in_turns"}), frozenset({"matcher"})
        )
        if fields is None:
            return None
        name = compiler.reference(fields["matcher"], "matcher")
        by = fields["by"].choice("by", ("agent", "customer")) if "by" in fields else None
        times = fields["at_least"].integer("at_least", 1, 100) if "at_least" in fields else 1
        turns = fields["in_turns"].integer("in_turns", 1, 100) if "in_turns" in fields else 1
        return Said(name, by, times or 1, turns or 1) if name else None
    name = compiler.reference(node, "said")
    return Said(name) if name else None


def _before(node: Node, compiler: Compiler) -> Condition | None:
    fields = node.mapping(
        "before", frozenset({"first", "then", "within_turns"}), frozenset({"first", "then"})
    )
    if fields is None or "first" not in fields or "then" not in fields:
        return None
    first_nodes = (
        list(fields["first"].items("first")) if fields["first"].is_sequence() else [fields["first"]]
    )
    firsts = [compiler.reference(node, "first") for node in first_nodes]
    first = tuple(f for f in firsts if f) if firsts and all(firsts) else None
    then = compiler.reference(fields["then"], "then")
    within = fields["within_turns"].integer("within_turns", 0) if "within_turns" in fields else None
    if first is None or then is None:
        return None
    return Before(first, then, within)


def _first_turns(node: Node, compiler: Compiler) -> Condition | None:
    fields = node.mapping(
        "in_first_turns", frozenset({"matcher", "turns"}), frozenset({"matcher", "turns"})
    )
    if fields is None or len(fields) < 2:
        return None
    name = compiler.reference(fields["matcher"], "matcher")
    turns = fields["turns"].integer("turns", 1)
    return InFirstTurns(name, turns) if name and turns else None


def _found(node: Node, compiler: Compiler) -> Condition | None:
    fields = node.mapping("found", frozenset({"rule", "standard"}))
    if fields is None:
        return None
    if not fields:
        node.error("'found' needs a 'rule' or a 'standard'",
                   "e.g. found: {standard: [identity, consent]} or found: {rule: fee-misstated}")
        return None
    rules = tuple(_one_or_many(fields["rule"], "rule")) if "rule" in fields else ()
    rule_ids = tuple(r.text("rule") for r in rules)
    for rule_node, rule_id in zip(rules, rule_ids, strict=True):
        if rule_id is not None:
            compiler.rule_references.append((rule_id, rule_node))
    standards = (
        tuple(n.choice("standard", STANDARDS) for n in _one_or_many(fields["standard"],
                                                                     "standard"))
        if "standard" in fields else ()
    )
    if None in rule_ids or None in standards:
        return None
    return Found(rule_ids, standards)  # type: ignore[arg-type]


def uses_found(condition: Condition | None) -> bool:
    """Whether a condition reads other rules' findings (anywhere inside it)."""
    if isinstance(condition, Found):
        return True
    if isinstance(condition, All | AnyOf):
        return any(uses_found(item) for item in condition.items)
    if isinstance(condition, Not):
        return uses_found(condition.item)
    return False


def _answered(node: Node, compiler: Compiler) -> Condition | None:
    fields = node.mapping(
        "answered", frozenset({"question", "act", "with", "then"}), frozenset({"with"})
    )
    if fields is None:
        return None
    if "question" not in fields and "act" not in fields:
        node.error(
            "'answered' needs the question: 'question:' (a matcher) or 'act:' (an act type)",
            "write e.g. 'answered: {act: permission_request, with: accept}'",
        )
        return None
    question = compiler.reference(fields["question"], "question") if "question" in fields \
        else None
    acts = act_types(fields["act"], "act") if "act" in fields else ()
    with_nodes = _one_or_many(fields["with"], "with") if "with" in fields else []
    classes = tuple(n.choice("with", ANSWER_CLASSES) for n in with_nodes)
    then = compiler.reference(fields["then"], "then") if "then" in fields else None
    if ("question" in fields and question is None) or ("act" in fields and not acts) \
            or not classes or None in classes or ("then" in fields and then is None):
        return None
    return Answered(question, acts, tuple(c for c in classes if c), then)


def _metadata(
    field: str, options: tuple[str, ...] | None
) -> Callable[[Node, Compiler], Condition | None]:
    if field not in _CALL_FACTS:  # CallIs reads the call through _CALL_FACTS alone
        raise KeyError(f"call-metadata condition {field!r} has no reader in _CALL_FACTS")
    def compile_it(node: Node, compiler: Compiler) -> Condition | None:
        if options is None:  # a yes/no fact
            value = node.boolean(field)
            return CallIs(field, (value,)) if value is not None else None
        if options:
            values = tuple(node.choice(field, options) for node in _one_or_many(node, field))
        else:
            values = node.texts(field)
        return CallIs(field, values) if values and None not in values else None

    return compile_it


def _one_or_many(node: Node, what: str) -> list[Node]:
    return [node] if node.is_scalar() else list(node.items(what))


CONDITIONS: dict[str, Callable[[Node, Compiler], Condition | None]] = {
    "all": _all,
    "any": _any,
    "not": _not,
    "said": _said,
    "before": _before,
    "in_first_turns": _first_turns,
    "found": _found,
    "answered": _answered,
    "call_type": _metadata("call_type", CALL_TYPES),
    "language": _metadata("language", LANGUAGES),
    "product": _metadata("product", ()),
    "has_trial": _metadata("has_trial", None),
    "sale_made": _metadata("sale_made", None),
}


def compile_condition(node: Node, compiler: Compiler) -> Condition | None:
    """A condition from a one-key mapping such as `said: x` or `all: [...]`."""
    if not node.is_mapping() or len(node.node.value) != 1:
        node.error(
            "a condition must be one 'kind: value' entry",
            f"kinds of condition: {', '.join(sorted(CONDITIONS))}; combine several with 'all:'",
        )
        return None
    fields = node.mapping("condition", frozenset(CONDITIONS))
    if not fields:
        return None
    ((kind, value),) = fields.items()
    return CONDITIONS[kind](value, compiler)


def describe_menu() -> str:
    return suggest("", CONDITIONS, "kinds of condition")
