"""Reading rule YAML node by node, so every value remembers its file:line:col.

Raw dicts never leave this module's callers: the compiler asks a `Node` for a string, a
list of strings, a mapping with known keys..., and every mistake becomes a `Problem` in
the shared list instead of an exception, so one run reports them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from engine.rules.problems import Location, Problem, RulePackError, suggest

MAX_FILE_BYTES = 2 * 1024 * 1024  # a rule file is prose-sized; anything larger is a mistake
MAX_DEPTH = 40


@dataclass
class SourceFile:
    """A rule file's text and the problems found in it so far."""

    path: str
    text: str
    problems: list[Problem] = field(default_factory=list)
    unparsable: bool = False  # a syntax or size problem stopped this file being read

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()

    def problem(
        self,
        line: int,
        column: int,
        message: str,
        help: str | None = None,
        *,
        width: int = 1,
        level: str = "error",
    ) -> None:
        source_line = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.problems.append(
            Problem(
                Location(self.path, line, column),
                message,
                help,
                level,  # type: ignore[arg-type]
                source_line,
                width,
            )
        )


def read_source(path: Path, what: str, help: str, shown_as: str | None = None) -> SourceFile:
    """A YAML file's text (UTF-8, a BOM allowed); one that cannot be read or decoded is a
    RulePackError saying `cannot read <what>` with `help`."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulePackError.about_file(path, f"cannot read {what} ({exc})", help) from None
    return SourceFile(shown_as or str(path), text)


def _depth(node: yaml.Node, limit: int) -> bool:
    """True when the tree is at most `limit` levels deep (iteratively: no recursion limit)."""
    stack: list[tuple[yaml.Node, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(current, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in current.value for child in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
    return True


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary", "merge",
    "value"))


def _foreign_tag(node: yaml.Node) -> yaml.Node | None:
    """The first node with a tag other than YAML's plain ones (!!python/..., !custom)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.tag not in _PLAIN_TAGS:
            return current
        if isinstance(current, yaml.MappingNode):
            stack.extend(child for pair in current.value for child in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return None


_LIBYAML = getattr(yaml, "CSafeLoader", None)  # PyYAML built with libyaml: ~15x faster

# Values aliases (*name) may stand for in one file. Composing shares an anchored node, but
# every reader after it walks the tree: nine levels of nine aliases ("billion laughs", 500
# bytes) stand for 9**9 values and would keep a run busy for hours. Real files reuse a
# phrase list or a speaker a few times: a few hundred values.
MAX_ALIASED_VALUES = 100_000


class TooDeep(yaml.MarkedYAMLError):
    """Collections nest deeper than MAX_DEPTH."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(problem=f"nesting deeper than {MAX_DEPTH} levels", problem_mark=mark)


class TooManyAliased(yaml.MarkedYAMLError):
    """Aliases stand for more than MAX_ALIASED_VALUES values; `problem_mark` is the alias
    that went over."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__(
            problem=f"aliases (*name) in this file expand to more than "
                    f"{MAX_ALIASED_VALUES:,} values",
            problem_mark=mark,
        )


def check_aliases(text: str) -> None:
    """TooManyAliased when the YAML text's aliases stand for too many values, TooDeep when
    it nests too deep (both, like a syntax error, are yaml.MarkedYAMLError). For YAML read
    outside rule files (metadata sidecars)."""
    _check_events(text, _LIBYAML or yaml.SafeLoader)


def _check_events(text: str, loader: type) -> None:
    """Read the file's flat event stream (linear in its size, whatever its aliases) and
    raise TooDeep or TooManyAliased before any reader walks the tree. The composers
    recurse (libyaml in C with no limit: a deep file would crash it)."""
    sizes: dict[str, int] = {}  # anchor -> values its node stands for
    open_nodes: list[list[Any]] = []  # [anchor, values so far] of each open collection
    aliased = 0

    def add(count: int) -> None:
        if open_nodes:
            open_nodes[-1][1] += count

    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise TooDeep(event.start_mark)
            open_nodes.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = count
            add(count)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            add(1)
        elif isinstance(event, yaml.AliasEvent):
            count = sizes.get(event.anchor, 1)  # an unknown one: the composer says so
            aliased += count
            if aliased > MAX_ALIASED_VALUES:
                raise TooManyAliased(event.start_mark)
            add(count)


def _compose(text: str) -> yaml.Node | None:
    """The file's node tree: by libyaml when it reads the file cleanly, else by PyYAML's
    Python parser, which words syntax errors as the docs show. Both give the same nodes,
    tags and positions. Its depth and aliases are checked first (_check_events)."""
    if _LIBYAML is not None:
        try:
            _check_events(text, _LIBYAML)
            return yaml.compose(text, Loader=_LIBYAML)
        except (TooDeep, TooManyAliased):
            raise
        except yaml.YAMLError:
            pass  # PyYAML's parser below words the problem
    _check_events(text, yaml.SafeLoader)
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse(source: SourceFile) -> Node | None:
    """Compose the file safely (no object construction); None after reporting a problem."""
    if len(source.text.encode("utf-8")) > MAX_FILE_BYTES:
        source.problem(
            1,
            1,
            f"the file is larger than {MAX_FILE_BYTES // 1024} KiB",
            "split the rules over several files in the pack folder",
        )
        return None
    try:
        root = _compose(source.text)
    except TooManyAliased as exc:
        source.unparsable = True
        mark = exc.problem_mark
        source.problem(mark.line + 1, mark.column + 1, str(exc.problem),
                       "repeat the values where needed, or name a matcher once and refer "
                       "to it by name")
        return None
    except (RecursionError, TooDeep) as exc:
        source.unparsable = True
        where = exc.problem_mark if isinstance(exc, TooDeep) else None
        line, column = (where.line + 1, where.column + 1) if where else (1, 1)
        source.problem(line, column, f"nesting deeper than {MAX_DEPTH} levels",
                       "flatten the conditions; name matchers and refer to them")
        return None
    except yaml.MarkedYAMLError as exc:
        source.unparsable = True
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "the file is not valid YAML"
        text = source.lines[line - 1] if 0 < line <= len(source.lines) else ""
        hint = "check indentation, colons and quotes around text with ': ' or '#'"
        if "'" in text and (text.count("'") % 2 or text.count("'") > 2):
            hint = (
                "an apostrophe ends a '...' text early: write it twice (it''s) "
                'or quote the whole text with "..."'
            )
        source.problem(line, column, f"YAML syntax: {problem}", hint)
        return None
    except yaml.YAMLError as exc:
        source.unparsable = True
        source.problem(1, 1, f"YAML syntax: {exc}", "check the file is valid YAML")
        return None
    if root is None:
        return None
    foreign = _foreign_tag(root)
    if foreign is not None:
        mark = foreign.start_mark
        source.unparsable = True
        source.problem(mark.line + 1, mark.column + 1,
                       f"the YAML tag '{foreign.tag}' is not allowed in rule files",
                       "rule files hold plain text, numbers, lists and mappings: remove the tag")
        return None
    if not _depth(root, MAX_DEPTH):
        source.problem(
            root.start_mark.line + 1,
            1,
            f"nesting deeper than {MAX_DEPTH} levels",
            "flatten the conditions; name matchers and refer to them",
        )
        return None
    return Node(root, source)


class Node:
    """One YAML node with its position; accessors report problems and return None."""

    _constructor = SafeConstructor()

    def __init__(self, node: yaml.Node, source: SourceFile) -> None:
        self.node = node
        self.source = source

    @property
    def location(self) -> Location:
        mark = self.node.start_mark
        return Location(self.source.path, mark.line + 1, mark.column + 1)

    @property
    def width(self) -> int:
        start, end = self.node.start_mark, self.node.end_mark
        return max(1, end.column - start.column) if end.line == start.line else 1

    def error(self, message: str, help: str | None = None, *, level: str = "error") -> None:
        loc = self.location
        self.source.problem(loc.line, loc.column, message, help, width=self.width, level=level)

    # -- shapes -------------------------------------------------------------------------

    def is_mapping(self) -> bool:
        return isinstance(self.node, yaml.MappingNode)

    def is_sequence(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    def is_scalar(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode)

    def describe(self) -> str:
        if self.is_mapping():
            return "a mapping"
        if self.is_sequence():
            return "a list"
        value = self.scalar_value()
        if value is None:
            return "nothing (null)"
        return {bool: "true/false", int: "a number", float: "a number", str: "text"}.get(
            type(value), "a value"
        )

    def scalar_value(self) -> Any:
        if not self.is_scalar():
            return None
        try:
            return self._constructor.construct_object(self.node, deep=True)
        except yaml.YAMLError:
            return self.node.value

    def items(self, what: str) -> Iterator[Node]:
        """The entries of a list (reports a problem and yields nothing if it is not one)."""
        if not self.is_sequence():
            self.error(
                f"{what} must be a list, not {self.describe()}",
                "write each entry on its own line starting with '- '",
            )
            return
        for child in self.node.value:
            yield Node(child, self.source)

    def mapping(
        self,
        what: str,
        allowed: frozenset[str] | set[str],
        required: frozenset[str] | set[str] = frozenset(),
    ) -> dict[str, Node] | None:
        """The keys of a mapping, checking for unknown, repeated and missing keys."""
        if not self.is_mapping():
            self.error(f"{what} must be a mapping of 'key: value' lines, not {self.describe()}")
            return None
        result: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            key = Node(key_node, self.source)
            name = key.scalar_value()
            if not isinstance(name, str):
                key.error(f"keys in {what} must be words, not {key.describe()}")
                continue
            if name in result:
                key.error(f"'{name}' is given twice in {what}", "keep one of them")
                continue
            if name not in allowed:
                key.error(f"unknown key '{name}' in {what}", suggest(name, allowed, "allowed keys"))
                continue
            result[name] = Node(value_node, self.source)
        missing = sorted(set(required) - set(result))
        for name in missing:
            self.error(f"{what} is missing '{name}'", f"add a '{name}:' line")
        return result

    # -- scalars ------------------------------------------------------------------------

    def text(self, what: str) -> str | None:
        """Text as written: `yes`, `12315` or `3.5` stay the words the author typed."""
        if not self.is_scalar() or self.scalar_value() is None:
            self.error(f"{what} must be text, not {self.describe()}")
            return None
        text = str(self.node.value)
        if not text.strip():
            self.error(f"{what} is empty")
            return None
        return text

    def texts(self, what: str) -> tuple[str, ...]:
        """One text or a list of texts."""
        if self.is_scalar():
            single = self.text(what)
            return (single,) if single is not None else ()
        found = (item.text(f"each entry of {what}") for item in self.items(what))
        return tuple(t for t in found if t is not None)

    def choice(self, what: str, options: tuple[str, ...] | frozenset[str]) -> str | None:
        value = self.text(what)
        if value is None:
            return None
        if value not in options:
            self.error(
                f"{what} '{value}' is not one of the allowed values",
                suggest(value, options, "allowed values"),
            )
            return None
        return value

    def boolean(self, what: str) -> bool | None:
        value = self.scalar_value()
        if not isinstance(value, bool):
            self.error(f"{what} must be true or false, not {self.describe()}")
            return None
        return value

    def integer(self, what: str, minimum: int = 0, maximum: int = 1_000_000) -> int | None:
        value = self.scalar_value()
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{what} must be a whole number, not {self.describe()}")
            return None
        if not minimum <= value <= maximum:
            self.error(f"{what} must be from {minimum} to {maximum}, not {value}")
            return None
        return value

    def number(self, what: str, minimum: float = 0.0) -> float | None:
        value = self.scalar_value()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(f"{what} must be a number, not {self.describe()}")
            return None
        if value < minimum:
            self.error(f"{what} must be at least {minimum}, not {value}")
            return None
        return float(value)
