"""A rule pack: a folder of YAML files compiled once into frozen rules and one phrase index.

rules/zh-CN/
  pack.yaml        name, version, language, fillers, negation words, what a sale is
  consent.yaml     matchers: and rules: (any number of files, any names)
  ...
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from engine.model import LANGUAGES
from engine.rules.base import SEVERITIES, STANDARDS, STATUSES, Example, RuleInfo
from engine.rules.catalogue import Catalogue, ProductFactRef, compile_catalogue
from engine.rules.compiler import PACK_WIDE_FLAGS, Compiler
from engine.rules.conditions import Condition, compile_condition, uses_found
from engine.rules.examples import compile_examples
from engine.rules.kinds import RULE_KINDS, Rule
from engine.rules.matchers import (
    DEFAULT_NEGATION,
    Matcher,
    Negation,
    PhraseIndex,
    compile_negation,
)
from engine.rules.problems import Location, Problem, RulePackError, suggest
from engine.rules.similar import ExampleMatchers, compile_models
from engine.rules.templates import SLOT_PATTERNS, SLOT_WORDS, default_slots
from engine.rules.waivers import Waiver, compile_waivers
from engine.rules.yamlsource import Node, SourceFile, parse, read_source
from engine.text.acts import LEXICON_KEYS, ActReader
from engine.text.clauses import CLAUSE_KEYS, ClauseReader, clause_words
from engine.text.dialect import DEFAULT_DIALECT, compile_dialect
from engine.text.normalize import Normalizer

PACK_FILE = "pack.yaml"
PACK_KEYS = frozenset(
    {"name", "version", "language", "description", "fillers", "negation", "clauses",
     "sale_made", "sale_possible", "outcomes", "slots", "dialect", "catalogue", "acts",
     *PACK_WIDE_FLAGS}
)
NEGATION_KEYS = frozenset({"words", "not_negation", "window"})
FILE_KEYS = frozenset({"matchers", "rules", "waivers", "products"})
CATALOGUE_FILE_KEYS = frozenset({"products"})
COMMON_RULE_KEYS = frozenset(
    {
        "id",
        "kind",
        "standard",
        "severity",
        "message",
        "rationale",
        "description",
        "status",
        "since",
        "examples",
        "when",
    }
)
REQUIRED_RULE_KEYS = frozenset(
    {"id", "kind", "standard", "severity", "message", "rationale", "examples"}
)
PACK_ROOT_LANGUAGES = {"zh": "zh-CN", "en": "en-US"}


@dataclass(frozen=True)
class RulePack:
    """Everything needed to audit calls of one language, compiled and ready."""

    name: str
    version: str
    language: str
    path: str
    content_hash: str  # sha256 of every file's name and bytes: which rules judged a call
    rules: tuple[Rule, ...]
    sale_made: Condition | None
    normalizer: Normalizer = field(compare=False)
    index: PhraseIndex = field(compare=False)
    warnings: tuple[Problem, ...] = ()
    files: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    # Named facts about a call the follow-up actions read ("confirmation_declined"...).
    outcomes: tuple[tuple[str, Condition], ...] = ()
    # Weaker signs of a sale ("给您登记上了"): when only these hold, the sale rules still run
    # and the verdict says the sale is uncertain.
    sale_possible: Condition | None = None
    # The product catalogue (products: in any file, or the file pack.yaml names), and the
    # `{product_fact: ...}` references its rules make; None and () when the pack has none.
    catalogue: Catalogue | None = field(default=None, compare=False)
    product_facts: tuple[ProductFactRef, ...] = ()
    # The matchers with `like:` examples, trained once (None when there are none).
    by_example: ExampleMatchers | None = field(default=None, compare=False)
    # Dialogue acts and answers (engine/text/acts.py): typed only when a rule asks.
    acts: ActReader | None = field(default=None, compare=False)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.info.id == rule_id), None)

    def rules_to_run(self, include_experimental: bool = False) -> tuple[Rule, ...]:
        """The rules an audit runs: never the deprecated, the experimental when asked."""
        return self._with_experimental if include_experimental else self._active

    @cached_property
    def _active(self) -> tuple[Rule, ...]:
        return _composed_last(r for r in self.rules if r.info.status == "active")

    @cached_property
    def _with_experimental(self) -> tuple[Rule, ...]:
        return _composed_last(r for r in self.rules if r.info.status != "deprecated")

    @cached_property
    def composed(self) -> bool:
        """Whether any rule reads other rules' findings (`found:`): only then are they kept
        on the call's context as the audit goes."""
        return any(uses_found(r.when) for r in self.rules)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def _composed_last(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Rules in file order, those that read other rules' findings (`found:`) after the rest."""
    ordered = list(rules)
    return tuple(sorted(ordered, key=lambda r: uses_found(r.when)))


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def pack_files(folder: Path) -> list[Path]:
    """The pack's YAML files, pack.yaml first, then the rest by name."""
    found = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return sorted(found, key=lambda p: (p.name != PACK_FILE, str(p.relative_to(folder))))


def content_hash(folder: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        name = os.path.relpath(path, folder)  # a shared catalogue may stand outside the pack
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def load_pack(folder: str | Path) -> RulePack:
    """Compile a pack folder; every problem in every file is collected before failing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RulePackError.about_file(
            folder, "no rule pack folder here", "name a folder holding pack.yaml and rule files"
        )
    files = pack_files(folder)
    if not files or files[0].name != PACK_FILE:
        raise RulePackError.about_file(
            folder / PACK_FILE,
            "the pack has no pack.yaml",
            "add pack.yaml with name, version and language",
        )
    sources = [read_source(path, "the rule file", "save rule files as UTF-8 text",
                           display_path(path)) for path in files]
    extra = _catalogue_files(folder, sources[0])
    if extra:
        files = files + [p for p in extra if p.resolve() not in {f.resolve() for f in files}]
        sources = sources + [read_source(path, "the product catalogue",
                                         "save the catalogue as UTF-8 text", display_path(path))
                             for path in files[len(sources):]]
    return _compile(folder, files, sources)


def pack_identity(folder: str | Path) -> tuple[str, str]:
    """A pack folder's name@version and content hash, as `load_pack` gives them, without
    compiling its rules: which rules a verdict made now would be made under. A pack.yaml
    too broken to name the pack is `?@?` (its files still hash); RulePackError when it
    cannot be read at all."""
    folder = Path(folder)
    header = read_source(folder / PACK_FILE, "the rule pack's pack.yaml",
                         "save pack.yaml as UTF-8 text", display_path(folder / PACK_FILE))
    named: dict[str, str] = {}
    root = parse(SourceFile(header.path, header.text))
    if root is not None and root.is_mapping():
        for key, value in root.node.value:
            node = Node(value, header)
            if key.value in ("name", "version") and node.is_scalar() and str(value.value).strip():
                named[key.value] = str(value.value)
    files = pack_files(folder)
    extra = _catalogue_files(folder, header)
    files += [p for p in extra if p.resolve() not in {f.resolve() for f in files}]
    label = f"{named.get('name', '?')}@{named.get('version', '?')}"
    return label, content_hash(folder, files)


def _catalogue_files(folder: Path, header: SourceFile) -> list[Path]:
    """The catalogue files pack.yaml names (`catalogue: ../products.yaml`), relative to the
    pack folder: one catalogue shared by a workspace's packs. A missing one is an error."""
    root = parse(SourceFile(header.path, header.text))
    if root is None or not root.is_mapping():
        return []
    for key, value in root.node.value:
        if key.value != "catalogue":
            continue
        node = Node(value, header)
        found = []
        for name in node.texts("catalogue"):
            path = folder / name
            if not path.is_file():
                node.error(f"the catalogue file '{name}' does not exist (looked for {path})",
                           "name a YAML file holding 'products:', relative to the pack folder")
                continue
            found.append(path)
        return found
    return []


def _compile(folder: Path, files: list[Path], sources: list[SourceFile]) -> RulePack:
    compiler = Compiler()
    header = _pack_header(sources[0], compiler)
    rules: list[Rule] = []
    waivers: list[tuple[Waiver, Node]] = []
    seen: dict[str, Location] = {}
    language = header.get("language") or "zh"
    products: list[Node] = []
    for source in sources[1:]:
        root = parse(source)
        outside = not Path(source.path).resolve().is_relative_to(folder.resolve())
        keys = CATALOGUE_FILE_KEYS if outside else FILE_KEYS
        fields = root.mapping("a rule file", keys) if root is not None else None
        if not fields:
            continue
        if "products" in fields:
            products.append(fields["products"])
        if "matchers" in fields:
            _matchers(fields["matchers"], compiler)
        if "rules" in fields:
            for node in fields["rules"].items("rules"):
                rule = _rule(node, compiler, language, seen)
                if rule is not None:
                    rules.append(rule)
        if "waivers" in fields:
            waivers.extend((w, fields["waivers"]) for w in compile_waivers(fields["waivers"]))
    _check_waivers(waivers, seen)
    _check_found(compiler, rules, seen)
    catalogue = compile_catalogue(products, compiler)
    unreadable = any(s.unparsable for s in sources)
    if not unreadable:
        # With a file that could not be read, its matchers are unknown: naming them all as
        # missing would bury the one real error under dozens of false ones.
        compiler.check_references()
    _check_slots(header, compiler)
    problems = [p for s in sources for p in s.problems]
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise RulePackError(errors)
    normalizer = compiler.normalizer or Normalizer(language, header.get("fillers"))
    negation: Negation = header["negation"]
    acts = ActReader(language, normalizer, header.get("acts"),
                     apostrophes=compiler.defaults.get("apostrophes", False))
    index = PhraseIndex(list(compiler.matchers.values()), normalizer, negation,
                        ClauseReader(language, header["clauses"]), acts)
    broad = broad_phrase_warnings(compiler.matchers.values(), normalizer, language)
    warnings = tuple(sorted([p for p in problems if p.level == "warning"] + broad))
    return RulePack(
        name=header["name"],
        version=header["version"],
        language=language,
        path=display_path(folder),
        content_hash=content_hash(folder, files),
        rules=tuple(rules),
        sale_made=header.get("sale_made"),
        sale_possible=header.get("sale_possible"),
        outcomes=tuple(header.get("outcomes", {}).items()),
        normalizer=normalizer,
        index=index,
        warnings=warnings,
        files=tuple(str(p) for p in files),
        waivers=tuple(w for w, _ in waivers if w.rule_id in seen),
        catalogue=catalogue,
        product_facts=tuple(compiler.product_facts.values()),
        by_example=compile_models(compiler.matchers.values(), language, normalizer),
        acts=acts,
    )


def _check_found(compiler: Compiler, rules: list[Rule], seen: dict[str, Location]) -> None:
    """`found: {rule: ID}` names a rule of the pack that does not itself use `found`."""
    composed = {r.info.id for r in rules if uses_found(r.when)}
    for rule_id, node in compiler.rule_references:
        if rule_id not in seen:
            node.error(f"no rule has the id '{rule_id}'", suggest(rule_id, seen, "rule ids"))
        elif rule_id in composed:
            node.error(
                f"rule '{rule_id}' itself uses 'found', so its findings are not known yet",
                "'found' reads the findings of rules that do not use 'found'; refer to those",
            )


def _check_waivers(waivers: list[tuple[Waiver, Node]], rule_ids: dict[str, Location]) -> None:
    """A waiver must name a rule of this pack; one past its date is a warning."""
    today = date.today()
    for waiver, node in waivers:
        source = node.source
        loc = waiver.location
        if waiver.rule_id not in rule_ids:
            source.problem(
                loc.line,
                loc.column,
                f"the waiver names no rule of this pack: '{waiver.rule_id}'",
                suggest(waiver.rule_id, rule_ids, "rule ids"),
            )
        elif waiver.until is not None and waiver.until < today:
            source.problem(
                loc.line,
                loc.column,
                f"the waiver of '{waiver.rule_id}' expired on {waiver.until.isoformat()}",
                "remove it, or give it a new 'until'",
                level="warning",
            )


# Everyday words a short phrase hides inside: a phrase found in them matches far more than
# its author meant ("需要" inside "不需要", "行" inside "银行", "no" inside nothing: Latin
# phrases match whole words, so only their length is checked).
COMMON_WORDS: dict[str, tuple[str, ...]] = {
    "zh": (
        "不需要",
        "不要",
        "不用",
        "不是",
        "不行",
        "不可以",
        "不同意",
        "不知道",
        "需要吗",
        "可以吗",
        "好不好",
        "要不要",
        "行不行",
        "没问题",
        "银行",
        "行业",
        "同意书",
        "开通了吗",
        "没有",
        "还行",
        "不太好",
        "好像",
        "滚动",
        "笨重",
        "扣子",
        "打扰",
        "确认一下",
    ),
}


def broad_phrase_warnings(
    matchers: Iterable[Matcher], normalizer: Normalizer, language: str
) -> list[Problem]:
    """`rules check` warns about phrases that match nearly everything."""
    found: list[Problem] = []
    negators = set(DEFAULT_NEGATION.get(language, ((), (), 0))[0])
    for matcher in matchers:
        if matcher.name.startswith("<inline") or matcher.replies_to:
            continue  # a reply is only looked for right after its question
        for phrase in matcher.phrases:
            key = normalizer.phrase(phrase)
            inside = [
                w
                for w in COMMON_WORDS.get(language, ())
                if key in w
                and w != key
                and not any(normalizer.phrase(e) in w for e in matcher.exceptions)
                and not (matcher.negation and w.endswith(key) and w[: -len(key)] in negators)
            ]
            short = (len(key) == 1 and not key.isascii()) or (key.isascii() and len(key) <= 2)
            if not inside and not short:
                continue
            why = (
                f"it is inside everyday words ({', '.join(inside[:3])})"
                if inside
                else "it is so short it matches nearly every call"
            )
            found.append(
                Problem(
                    matcher.location,
                    f"matcher '{matcher.name}': phrase "
                    f"'{phrase}' may match far more than meant: {why}",
                    "use a longer phrase, add the everyday words to 'except:', "
                    "or make the matcher a reply (replies_to)",
                    "warning",
                )
            )
    return found


def _pack_header(source: SourceFile, compiler: Compiler) -> dict:
    """pack.yaml: the pack's identity and language settings."""
    root = parse(source)
    fields = (
        root.mapping("pack.yaml", PACK_KEYS, frozenset({"name", "version", "language"}))
        if root is not None
        else None
    ) or {}
    if root is None and not source.problems:
        source.problem(1, 1, "pack.yaml is empty", "give the pack a name, version and language")
    header: dict = {
        "name": fields["name"].text("name") if "name" in fields else "unnamed",
        "version": fields["version"].text("version") if "version" in fields else "0",
        "language": fields["language"].choice("language", LANGUAGES)
        if "language" in fields
        else None,
    }
    if "fillers" in fields:
        header["fillers"] = fields["fillers"].texts("fillers")
    language = header["language"] or "zh"
    words, not_negation, window = DEFAULT_NEGATION[language]
    if "negation" in fields:
        neg = fields["negation"].mapping("negation", NEGATION_KEYS) or {}
        words = neg["words"].texts("words") if "words" in neg else words
        not_negation = (
            neg["not_negation"].texts("not_negation") if "not_negation" in neg else not_negation
        )
        window = neg["window"].integer("window", 1, 20) or window if "window" in neg else window
    header["negation"] = compile_negation(language, words, not_negation, window)
    overrides: dict[str, tuple[str, ...]] = {}
    if "clauses" in fields:
        lists = fields["clauses"].mapping("clauses", frozenset(CLAUSE_KEYS)) or {}
        overrides = {key: node.texts(key) for key, node in lists.items()}
    header["clauses"] = clause_words(language, overrides)
    if "acts" in fields:
        header["acts"] = _act_words(fields["acts"])
    _language_settings(fields, header, compiler, language)
    for key in ("sale_made", "sale_possible"):
        if key in fields:
            header[key] = compile_condition(fields[key], compiler)
    if "outcomes" in fields:
        header["outcomes"] = _outcomes(fields["outcomes"], compiler)
    return header


def _language_settings(
    fields: dict[str, Node], header: dict, compiler: Compiler, language: str
) -> None:
    """Pack-wide matcher flags, template slots and the dialect table: what the matchers of
    every file are compiled with."""
    for key in PACK_WIDE_FLAGS:
        if key in fields:
            compiler.defaults[key] = fields[key].boolean(key) is True
    extra: dict[str, tuple[str, ...]] = {}
    if "slots" in fields:
        node = fields["slots"]
        if not node.is_mapping():
            node.error("'slots' must map slot names to lists of words",
                       "write 'slots: {kin: [干爹, 干妈]}'")
        else:
            for key_node, value_node in node.node.value:
                key = Node(key_node, node.source)
                name = key.text("a slot name")
                if name is None:
                    continue
                if not name.isidentifier() or not name.isascii():
                    key.error(f"slot name '{name}' must be a word of Latin letters",
                              "name it like kin, id_fact, channel")
                    continue
                if name in SLOT_PATTERNS.get(language, {}):
                    key.error(f"slot '{name}' is a pattern and takes no words",
                              "name a new slot for the words")
                    continue
                extra[name] = Node(value_node, node.source).texts(f"the words of slot '{name}'")
                header.setdefault("slot_nodes", {})[name] = key
    compiler.slots = default_slots(language, extra)
    table: dict[str, str] = dict(DEFAULT_DIALECT) if language == "zh" else {}
    if "dialect" in fields:
        node = fields["dialect"]
        if node.scalar_value() is False:
            table = {}
        elif language != "zh":
            node.error("'dialect' is for Chinese packs", "remove it from this pack")
        elif not node.is_mapping():
            node.error("'dialect' must map dialect words to Mandarin, or be false",
                       "write 'dialect: {冇: 没, 佢: 他}'; '冇: ~' drops a default entry")
        else:
            for key_node, value_node in node.node.value:
                word = Node(key_node, node.source).text("a dialect word")
                value = Node(value_node, node.source)
                if word is None:
                    continue
                if value.scalar_value() is None:
                    table.pop(word, None)
                else:
                    mandarin = value.text(f"the Mandarin of '{word}'")
                    if mandarin is not None:
                        table[word] = mandarin
    compiler.normalizer = Normalizer(language, header.get("fillers"), compile_dialect(table))


def _check_slots(header: dict, compiler: Compiler) -> None:
    """A slot the pack names that no template uses is a warning: often a misspelt built-in."""
    builtin = SLOT_WORDS.get(compiler.slots.language if compiler.slots else "zh", {})
    for name, key in header.get("slot_nodes", {}).items():
        if name in builtin or name in compiler.slots_used:
            continue
        key.error(
            f"no template uses slot '{name}'",
            suggest(name, builtin, "built-in slots") + "; a pack's own slot is named in "
            "templates as {" + name + "}",
            level="warning",
        )


def _act_words(node: Node) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """`acts:` in pack.yaml: words added to (a list) or added and removed from
    (`{add: [...], remove: [...]}`) each built-in list of the dialogue-act lexicon."""
    fields = node.mapping("acts", frozenset(LEXICON_KEYS)) or {}
    changes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for key, value in fields.items():
        if value.is_mapping():
            parts = value.mapping(f"acts: {key}", frozenset({"add", "remove"})) or {}
            added = parts["add"].texts("add") if "add" in parts else ()
            removed = parts["remove"].texts("remove") if "remove" in parts else ()
        else:
            added, removed = value.texts(f"acts: {key}"), ()
        changes[key] = (added, removed)
    return changes


def _outcomes(node: Node, compiler: Compiler) -> dict[str, Condition]:
    """Named conditions whose truth is reported with each verdict, for the action policy."""
    found: dict[str, Condition] = {}
    if not node.is_mapping():
        node.error(
            "'outcomes' must map names to conditions",
            "write 'confirmation_declined: {said: declines_service}'",
        )
        return found
    for key_node, value_node in node.node.value:
        name = Node(key_node, node.source).text("an outcome name")
        condition = compile_condition(Node(value_node, node.source), compiler)
        if name is not None and condition is not None:
            found[name] = condition
    return found


def _matchers(node: Node, compiler: Compiler) -> None:
    if not node.is_mapping():
        node.error(
            "'matchers' must be a mapping of names to matchers",
            "write 'name:' and under it 'phrases:'",
        )
        return
    for key_node, value_node in node.node.value:
        key = Node(key_node, node.source)
        name = key.text("a matcher name")
        if name is not None:
            compiler.add_matcher(key, name, Node(value_node, node.source))


def _rule(node: Node, compiler: Compiler, language: str, seen: dict[str, Location]) -> Rule | None:
    if not node.is_mapping():
        node.error(
            f"each rule must be a mapping, not {node.describe()}",
            "start each rule with '- id: ...' and give its kind, standard, message...",
        )
        return None
    kind_name = None
    for key_node, value_node in node.node.value:
        if key_node.value == "kind":
            kind_name = Node(value_node, node.source).choice("kind", tuple(RULE_KINDS))
    kind = RULE_KINDS.get(kind_name or "")
    allowed = COMMON_RULE_KEYS | (kind.keys if kind else frozenset())
    required = REQUIRED_RULE_KEYS | (kind.required if kind else frozenset())
    fields = node.mapping("a rule", allowed if kind else _ANY_KEY, required)
    if fields is None or kind is None or "id" not in fields:
        return None
    rule_id = fields["id"].text("id")
    if rule_id is None:
        return None
    if rule_id in seen:
        fields["id"].error(
            f"rule id '{rule_id}' is already used at {seen[rule_id]}",
            "rule ids must be unique across the pack",
        )
        return None
    seen[rule_id] = fields["id"].location
    when = compile_condition(fields["when"], compiler) if "when" in fields else None
    examples: tuple[Example, ...] = ()
    if "examples" in fields:
        examples = compile_examples(fields["examples"], rule_id, language)
    info = RuleInfo(
        id=rule_id,
        kind=kind_name or "",
        standard=_choice(fields, "standard", STANDARDS) or "",
        severity=_choice(fields, "severity", SEVERITIES) or "",
        message=_text(fields, "message"),
        rationale=_text(fields, "rationale"),
        description=_text(fields, "description"),
        status=_choice(fields, "status", STATUSES) or "active",
        since=_text(fields, "since"),
        location=node.location,
        examples=examples,
    )
    if "when" in fields and when is None:
        return None
    return kind.compile(info, when, fields, compiler)


class _AnyKey(frozenset):
    """Accept every key: used when the kind is unknown, so only the kind is reported."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY_KEY = _AnyKey()


def _choice(fields: dict[str, Node], key: str, options: tuple[str, ...]) -> str | None:
    return fields[key].choice(key, options) if key in fields else None


def _text(fields: dict[str, Node], key: str) -> str:
    return (fields[key].text(key) or "") if key in fields else ""


def resolve_pack_path(root: Path, language: str) -> Path:
    """The default pack folder for a call's language under a rules root."""
    return root / PACK_ROOT_LANGUAGES.get(language, language)


def describe_kinds() -> str:
    return suggest("", RULE_KINDS, "rule kinds")
