"""Problems in rule files, told the way a compliance officer can act on them.

rules/zh-CN/consent.yaml:14:11: error: unknown rule kind 'forbiden'
   |
14 |     kind: forbiden
   |           ^^^^^^^^
help: did you mean 'forbidden'? Allowed kinds: condition, fee_check, forbidden, ...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, order=True)
class Location:
    """Where something stands in a rule file (1-based line and column)."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or suspicious) in a rule file."""

    location: Location
    message: str  # one plain sentence: what is wrong
    help: str | None = None  # what to do: allowed values, the nearest valid key
    level: Literal["error", "warning"] = "error"
    source_line: str = field(default="", compare=False)  # the offending line, for the caret
    width: int = field(default=1, compare=False)  # how many columns the caret underlines

    def render(self) -> str:
        """The problem as a reader sees it: location, sentence, the line with a caret, help."""
        head = f"{self.location}: {self.level}: {self.message}"
        if not self.source_line:
            return head + (f"\nhelp: {self.help}" if self.help else "")
        number = str(self.location.line)
        gutter = " " * len(number)
        caret_pad = _display_width(self.source_line[: self.location.column - 1])
        visible = self.source_line[self.location.column - 1 : self.location.column - 1 + self.width]
        carets = "^" * max(1, _display_width(visible))
        lines = [
            head,
            f"{gutter} |",
            f"{number} | {self.source_line}",
            f"{gutter} | {' ' * caret_pad}{carets}",
        ]
        if self.help:
            lines.append(f"help: {self.help}")
        return "\n".join(lines)


def _display_width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class RulePackError(Exception):
    """The rule pack has errors; carries every one of them, collected before failing."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        super().__init__(f"{len(self.problems)} problem(s) in the rule pack")

    @classmethod
    def about_file(cls, path: object, message: str, help: str) -> RulePackError:
        """One problem with a whole file (it cannot be read, it is missing...)."""
        return cls([Problem(Location(str(path), 1, 1), message, help)])

    def render(self) -> str:
        return "\n\n".join(p.render() for p in self.problems)


def suggest(value: str, allowed: Iterable[str], what: str) -> str:
    """A help line: the nearest allowed value, then the whole menu."""
    options = sorted(allowed)
    near = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    menu = f"{what}: {', '.join(options)}"
    return f"did you mean '{near[0]}'? {menu}" if near else menu
