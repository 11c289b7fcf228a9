"""What every rule kind shares: the Rule base class and the helpers kinds use to compile."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from engine.frozen import named_from_tuple
from engine.rules.base import Draft, Mark, RuleInfo
from engine.rules.compiler import Compiler
from engine.rules.conditions import Condition, Evidence
from engine.rules.context import CallContext
from engine.rules.matchers import Hit
from engine.rules.yamlsource import Node

SPEAKERS = ("agent", "customer")
Fields = dict[str, Node]


def marks(ctx: CallContext, hits: Evidence | list[Hit]) -> tuple[Mark, ...]:
    """Match-text hits as spans of the original turns (Marks, from `found`, already are)."""
    turns = ctx.turns
    found = set()
    for hit in hits:
        if type(hit) is Mark:
            found.add(hit)
            continue
        number, start, end = hit
        found.add(named_from_tuple(Mark, (number, *turns[number].to_original(start, end))))
    return tuple(sorted(found))



@dataclass(frozen=True)
class Rule(ABC):
    """A compiled rule: shared info, an optional `when` condition, and its kind's check."""

    info: RuleInfo
    when: Condition | None = field(default=None, kw_only=True)

    @abstractmethod
    def check(self, ctx: CallContext, when: Evidence) -> Iterator[Draft]:
        """The violations of this rule on the call (`when` holds the condition's evidence)."""

    def matchers(self) -> tuple[str, ...]:
        """Matchers this rule reads (besides its condition's)."""
        return ()

    def triggers(self) -> tuple[str, ...] | None:
        """Matchers one of which must have matched for the check to find anything (None: it
        can find a violation without any, as `required` does when a disclosure is missing)."""
        return None

    @cached_property
    def requirements(self) -> tuple[frozenset[str], ...]:
        """Sets of matchers, each of which must have at least one match for this rule to
        fire (its condition's, its check's): a call that lacks one skips the rule unread."""
        needs = [self.when.needs() if self.when is not None else None]
        own = self.triggers()
        needs.append(frozenset(own) if own is not None else None)
        return tuple(n for n in needs if n is not None)


def speaker_field(fields: Fields, key: str = "by", default: str | None = None) -> str | None:
    return fields[key].choice(key, SPEAKERS) if key in fields else default


def matcher_field(fields: Fields, key: str, compiler: Compiler) -> str | None:
    return compiler.reference(fields[key], key) if key in fields else None


@dataclass(frozen=True)
class RuleKind:
    """One entry of the menu: its own keys and how to compile them."""

    keys: frozenset[str]
    required: frozenset[str]
    compile: Callable[[RuleInfo, Condition | None, Fields, Compiler], Rule | None]
    summary: str
