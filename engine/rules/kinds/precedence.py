"""`precedence`: before the trigger matches, another matcher must have matched.

Identity checked before the pitch; explicit acceptance before the activation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.rules.base import Draft, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence, precedes
from engine.rules.context import CallContext
from engine.rules.kinds.base import Fields, Rule, RuleKind, marks, matcher_field
from engine.rules.matchers import Hit
from engine.rules.yamlsource import Node
from engine.text.acts import ANSWER_CLASSES


@dataclass(frozen=True)
class Precedence(Rule):
    trigger: str
    requires_before: tuple[str, ...]  # any one of these matchers will do
    within_turns: int | None = None
    # Anywhere in the trigger's own turn also counts ("给您介绍一下，您现在方便吗？").
    same_turn: bool = False
    # The requirement is met only by the customer's answer of one of these classes to the
    # question `requires_before` matched in ("现在方便吗？" — "方便，你说"), from that answer.
    answered_with: tuple[str, ...] = ()

    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        triggers = ctx.hits_of(self.trigger)
        if not triggers:
            return
        if self.answered_with:
            yield from self._check_answered(ctx, triggers)
            return
        first = triggers[0]
        candidates = sorted(h for name in self.requires_before for h in ctx.hits_of(name))
        for earlier in candidates:
            if self.same_turn and earlier.turn == first.turn:
                return
            if not precedes(earlier, first):
                break
            if self.within_turns is None or first.turn - earlier.turn <= self.within_turns:
                return
        yield Draft(marks(ctx, [first]))

    def _check_answered(self, ctx: CallContext, triggers: list[Hit]) -> Iterator[Draft]:
        """The first trigger (outside the asking turns, with `same_turn`) must follow an
        answer of the wanted class; the evidence adds the answer that did not grant it."""
        asked = {h.turn for name in self.requires_before for h in ctx.hits_of(name)}
        if self.same_turn:
            triggers = [t for t in triggers if t.turn not in asked]
        if not triggers:
            return
        first = triggers[0]
        dialogue = ctx.dialogue
        answers = sorted((a for number in asked if number < first.turn
                          for a in dialogue.answers_to(number) if a.turn < first.turn),
                         key=lambda a: a.turn)
        for answer in answers:
            if answer.answer_class in self.answered_with and (
                self.within_turns is None or first.turn - answer.turn <= self.within_turns
            ):
                return
        evidence = [first]
        if answers:
            last = answers[-1]
            evidence.append(Hit(last.turn, last.start, last.end))
        yield Draft(marks(ctx, evidence),
                    f"the customer's answer to it: {answers[-1].answer_class}" if answers
                    else "the customer did not answer it")

    def matchers(self) -> tuple[str, ...]:
        return (self.trigger, *self.requires_before)

    def triggers(self) -> tuple[str, ...] | None:
        return (self.trigger,)


def _precedence(info: RuleInfo, when: Condition | None, f: Fields, c: Compiler) -> Rule | None:
    trigger = matcher_field(f, "trigger", c)
    before = _matcher_list(f["requires_before"], c) if "requires_before" in f else None
    within = f["within_turns"].integer("within_turns", 0) if "within_turns" in f else None
    same_turn = f["same_turn"].boolean("same_turn") if "same_turn" in f else False
    answered = _answer_classes(f["answered_with"]) if "answered_with" in f else ()
    if trigger is None or before is None or answered is None:
        return None
    return Precedence(info, when=when, trigger=trigger, requires_before=before,
                      within_turns=within, same_turn=bool(same_turn), answered_with=answered)


def _answer_classes(node: Node) -> tuple[str, ...] | None:
    """One answer class or a list (accept, refuse, hedge, other)."""
    items = list(node.items("answered_with")) if node.is_sequence() else [node]
    chosen = [item.choice("answered_with", ANSWER_CLASSES) for item in items]
    if not chosen or any(c is None for c in chosen):
        return None
    return tuple(c for c in chosen if c is not None)


def _matcher_list(node: Node, compiler: Compiler) -> tuple[str, ...] | None:
    """One matcher, or a list of matchers any one of which will do."""
    items = list(node.items("requires_before")) if node.is_sequence() else [node]
    names = [compiler.reference(item, "requires_before") for item in items]
    if not names or any(n is None for n in names):
        return None
    return tuple(n for n in names if n is not None)


KIND = RuleKind(
    frozenset({"trigger", "requires_before", "within_turns", "same_turn", "answered_with"}),
    frozenset({"trigger", "requires_before"}),
    _precedence,
    "a matcher must match before the trigger does",
)
