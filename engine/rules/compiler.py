"""Shared state while a pack's files compile: known matchers and references to check."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.rules.catalogue import ProductFactRef, compile_fact_reference
from engine.rules.matchers import (
    ABOUT_CHOICES,
    SPEAKER_CHOICES,
    TIME_CHOICES,
    Matcher,
    reply_cycle,
)
from engine.rules.problems import suggest
from engine.rules.templates import Slots, Template, TemplateError, compile_template, default_slots
from engine.rules.yamlsource import Node
from engine.text.english import DETERMINER_TARGETS, DETERMINERS, word_forms
from engine.text.normalize import Normalizer

MATCHER_KEYS = frozenset(
    {"speaker", "phrases", "regex", "except", "negation", "questions", "homophones",
     "description", "unless_turn_says", "replies_to", "reply_within", "product_name",
     "templates", "determiners", "lemmas", "apostrophes",
     # clause scope (docs/rules.md, "Scope: clauses, conditionals, who and when")
     "conditional", "about", "time", "reported", "unless_clause_says",
     # matching by example (docs/rules.md, "Matching by example")
     "like", "unlike", "threshold",
     # dialogue acts (docs/rules.md, "Dialogue acts and answers")
     "acts"}
)
# Matcher flags a pack may switch on for all its matchers in pack.yaml; a matcher's own
# value wins.
PACK_WIDE_FLAGS = ("homophones", "determiners", "lemmas", "apostrophes")


@dataclass
class Compiler:
    """Collects matchers from every file and checks references once all files are read."""

    matchers: dict[str, Matcher] = field(default_factory=dict)
    references: list[tuple[str, Node]] = field(default_factory=list)
    reply_nodes: list[tuple[str, Node]] = field(default_factory=list)  # matcher, its replies_to
    # Rule ids named by `found:` conditions, checked once every rule is read.
    rule_references: list[tuple[str, Node]] = field(default_factory=list)
    inline_count: int = 0
    # From pack.yaml: how template text is shaped, the slots templates may name, and the
    # matcher flags switched on pack-wide.
    normalizer: Normalizer | None = None
    slots: Slots | None = None
    defaults: dict[str, bool] = field(default_factory=dict)
    slots_used: set[str] = field(default_factory=set)
    # `{product_fact: usage}` references, by the name their hits are found under.
    product_facts: dict[str, ProductFactRef] = field(default_factory=dict)

    def reference(self, node: Node, what: str) -> str | None:
        """A matcher named by a rule or condition: a name, or an inline matcher mapping."""
        if node.is_mapping() and _names_product_fact(node):
            return compile_fact_reference(node, self)
        if node.is_mapping():
            self.inline_count += 1
            name = f"<inline {node.location}>"
            matcher = compile_matcher(name, node, self)
            if matcher is not None:
                self.matchers[name] = matcher
            return name
        name = node.text(what)
        if name is not None:
            self.references.append((name, node))
        return name

    def check_references(self) -> None:
        known = [n for n in self.matchers if not n.startswith("<inline")]
        for name, node in self.references:
            if name not in self.matchers:
                node.error(
                    f"no matcher is named '{name}'",
                    suggest(name, known, "matchers defined in this pack"),
                )
        reported: set[str] = set()
        for name, node in self.reply_nodes:
            cycle = reply_cycle(self.matchers, name) if name in self.matchers else None
            if cycle and not reported & set(cycle):
                reported |= set(cycle)
                node.error(
                    "matchers reply to each other in a circle: " + " → ".join(cycle),
                    "a reply must answer a matcher that does not itself reply to it",
                )

    def add_matcher(self, name_node: Node, name: str, body: Node) -> None:
        if name in self.matchers:
            first = self.matchers[name].location
            name_node.error(
                f"matcher '{name}' is already defined at {first}",
                "give the matcher another name, or merge the two phrase lists",
            )
            return
        matcher = compile_matcher(name, body, self)
        if matcher is not None:
            self.matchers[name] = matcher


def _names_product_fact(node: Node) -> bool:
    return any(key.value == "product_fact" for key, _ in node.node.value)


def compile_matcher(name: str, node: Node, compiler: Compiler) -> Matcher | None:
    """A matcher from its YAML mapping (or a bare list of phrases)."""
    if node.is_sequence():
        phrases = node.texts(f"phrases of matcher '{name}'")
        if not phrases:
            return None
        wide = {key: compiler.defaults.get(key, False) for key in PACK_WIDE_FLAGS}
        return Matcher(name, node.location, None, phrases=phrases, **wide)
    fields = node.mapping(f"matcher '{name}'", MATCHER_KEYS)
    if fields is None:
        return None
    speaker = None
    if "speaker" in fields:
        chosen = fields["speaker"].choice("speaker", SPEAKER_CHOICES)
        speaker = None if chosen in (None, "any") else chosen
    phrases = fields["phrases"].texts("phrases") if "phrases" in fields else ()
    patterns = _patterns(fields["regex"]) if "regex" in fields else ()
    product_name = fields["product_name"].boolean("product_name") if "product_name" in fields \
        else False
    flags = {
        key: fields[key].boolean(key) if key in fields else None
        for key in ("negation", "questions", "conditional", "reported", *PACK_WIDE_FLAGS)
    }
    for key in PACK_WIDE_FLAGS:
        if flags[key] is None:
            flags[key] = compiler.defaults.get(key, False)
    templates = (
        _templates(fields["templates"], compiler, bool(flags["determiners"]),
                   bool(flags["lemmas"]), bool(flags["apostrophes"]))
        if "templates" in fields
        else ()
    )
    like, unlike, threshold = _by_example(name, fields)
    if not phrases and not patterns and not product_name and not templates and not like:
        if any(key in fields for key in ("phrases", "regex", "templates", "like")):
            return None  # the problem with them is already reported
        node.error(
            f"matcher '{name}' has no phrases and no regex",
            "add a 'phrases:' list (or 'templates:', 'regex:', 'like:' example sentences, "
            "or 'product_name: true')",
        )
        return None
    replies_to = None
    if "replies_to" in fields:
        replies_to = compiler.reference(fields["replies_to"], "replies_to")
        compiler.reply_nodes.append((name, fields["replies_to"]))
    within = (
        fields["reply_within"].integer("reply_within", 1, 20) if "reply_within" in fields else None
    )
    return Matcher(
        name=name,
        location=node.location,
        speaker=speaker,
        phrases=phrases,
        patterns=patterns,
        exceptions=fields["except"].texts("except") if "except" in fields else (),
        negation=flags["negation"] is not False,
        questions=flags["questions"] is not False,
        homophones=flags["homophones"] is True,
        determiners=flags["determiners"] is True,
        lemmas=flags["lemmas"] is True,
        apostrophes=flags["apostrophes"] is True,
        templates=templates,
        unless_turn_says=fields["unless_turn_says"].texts("unless_turn_says")
        if "unless_turn_says" in fields
        else (),
        replies_to=replies_to,
        reply_within=within or 2,
        product_name=bool(product_name),
        conditional=flags["conditional"] is not False,
        about=(fields["about"].choice("about", ABOUT_CHOICES) if "about" in fields else None)
        or "anyone",
        time=(fields["time"].choice("time", TIME_CHOICES) if "time" in fields else None)
        or "any",
        reported=flags["reported"] is not False,
        unless_clause_says=fields["unless_clause_says"].texts("unless_clause_says")
        if "unless_clause_says" in fields
        else (),
        like=like,
        unlike=unlike,
        threshold=threshold,
        acts=act_types(fields["acts"], "acts") if "acts" in fields else (),
    )


def _templates(
    node: Node, compiler: Compiler, determiners: bool, lemmas: bool, apostrophes: bool = False
) -> tuple[Template, ...]:
    """Templates, each compiled now so a bad one is reported at its own line."""
    from engine.rules.matchers import fits_a_regex_set

    normalizer = compiler.normalizer or Normalizer("zh")
    slots = compiler.slots or default_slots(normalizer.language)

    def forms(word: str) -> tuple[str, ...]:
        if determiners and word in DETERMINERS:
            return (word, *(d for d in DETERMINER_TARGETS if d != word))
        return word_forms(word) if lemmas else (word,)

    items = [node] if node.is_scalar() else list(node.items("templates"))
    good: list[Template] = []
    for item in items:
        text = item.text("a template")
        if text is None:
            continue
        try:
            template = compile_template(text, slots, normalizer.phrase,
                                        forms if determiners or lemmas else None,
                                        apostrophes=apostrophes)
        except TemplateError as exc:
            item.error(f"template '{text}': {exc.message}", exc.help)
            continue
        if not fits_a_regex_set(template.pattern):
            item.error(
                f"template '{text}' is too large for the regex engine",
                "split it into several templates, or shorten the slot lists it uses",
            )
            continue
        compiler.slots_used.update(template.labels)
        good.append(template)
    return tuple(good)


def _by_example(name: str, fields: dict[str, Node]
                ) -> tuple[tuple[str, ...], tuple[str, ...], float | None]:
    """`like:` example sentences, `unlike:` counter-examples and the score `threshold`."""
    like = fields["like"].texts("like") if "like" in fields else ()
    unlike = fields["unlike"].texts("unlike") if "unlike" in fields else ()
    threshold = None
    if "threshold" in fields:
        value = fields["threshold"].number("threshold")
        if value is not None and not 0 < value < 1:
            fields["threshold"].error(
                f"threshold must be between 0 and 1, not {value}",
                "it is the least score (a probability) a clause needs to match: "
                "leave it out for the default 0.3, raise it for fewer matches",
            )
        elif value is not None:
            threshold = value
    for key in ("unlike", "threshold"):
        if key in fields and "like" not in fields:
            fields[key].error(
                f"matcher '{name}': '{key}' needs 'like:' example sentences",
                "add 'like:' with a few sentences the matcher should find",
            )
    if "like" in fields and "replies_to" in fields:
        fields["like"].error(
            f"matcher '{name}': 'like:' cannot be combined with 'replies_to'",
            "put the examples in a matcher of their own and use it in the rule's condition",
        )
        return (), (), None
    if "like" in fields and like and len(like) < 3:
        fields["like"].error(
            f"matcher '{name}': 'like:' needs at least 3 example sentences, not {len(like)}",
            "write the ways people say it, each a whole sentence (8 or more match best)",
        )
        return (), (), None
    return like, unlike, threshold


def act_types(node: Node, what: str) -> tuple[str, ...]:
    """One dialogue act type or a list of them, each from the closed menu (ACT_TYPES)."""
    from engine.text.acts import ACT_TYPES

    items = [node] if node.is_scalar() else list(node.items(what))
    chosen = tuple(item.choice(what, ACT_TYPES) for item in items)
    return tuple(c for c in chosen if c is not None) if all(chosen) else ()


def _patterns(node: Node) -> tuple[str, ...]:
    """Regexes, each checked now so a bad one is reported at its own line."""
    import re2

    from engine.rules.matchers import fits_a_regex_set, regex_options

    options = regex_options()  # as the index compiles it: the same memory budget
    items = [node] if node.is_scalar() else list(node.items("regex"))
    good: list[str] = []
    for item in items:
        pattern = item.text("regex")
        if pattern is None:
            continue
        try:
            re2.compile(pattern, options)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            if "pattern too large" in str(reason):
                _too_large(item, pattern)
                continue
            item.error(
                f"the regex cannot be used: {reason}",
                "regexes use RE2 syntax (no look-around or back-references); "
                "prefer a 'phrases:' list where you can",
            )
            continue
        if not fits_a_regex_set(pattern):
            _too_large(item, pattern)
            continue
        good.append(pattern)
    return tuple(good)


def _too_large(item: Node, pattern: str) -> None:
    alternatives = _alternatives(pattern)
    item.error(
        "pattern too large for the regex engine"
        + (f": {alternatives:,} alternatives" if alternatives > 1 else ""),
        "split the rule or use phrases (a 'phrases:' list has no size limit)",
    )


def _alternatives(pattern: str) -> int:
    """The `|`-separated alternatives of a regex, at any depth (escapes and character
    classes skipped): the figure that makes a regex too large."""
    count, index, in_class = 1, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1) or pattern.startswith("^]", index + 1):
                index += 1 + pattern.startswith("^]", index + 1)  # a literal ] first
        elif char == "|":
            count += 1
        index += 1
    return count
