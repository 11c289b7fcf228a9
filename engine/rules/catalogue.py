"""The product catalogue: what each product costs, how it is used, what it does, how it is
cancelled or queried, kept as data beside the rules (docs/rules.md, "Products as data").

products:
  - codes: [CL5, CL6]            # or code: CL5; or codes: {CL5: {monthly_fee: 5}, ...}
    name: 彩铃
    aliases: [炫铃, 个性彩铃]
    monthly_fee: 5
    trial_days: 0
    usage:    [{call: "12530"}, {app: 电信营业厅}, {say: [换铃声]}]
    functions:
      - name: 铃声
        phrases: [别人给您打电话听到的是歌]
        scenarios: [朋友打过来不再是嘟嘟声]
    cancel:   [{sms: TD, to: "10001"}, {call: "10000"}]
    query:    [{call: "10000"}]

Rules ask about the call's own product through `{product_fact: usage}` wherever a matcher
is named; the catalogue's routes and functions become ordinary matchers of the pack's one
phrase index, so a pack without a catalogue pays nothing, and one with a catalogue pays a
few more phrases in the same automaton pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from engine.model import Product
from engine.rules.matchers import Matcher
from engine.rules.problems import Location, suggest
from engine.rules.yamlsource import Node

if TYPE_CHECKING:
    from engine.rules.compiler import Compiler
    from engine.rules.context import CallContext

# What a rule may ask was stated about the call's product.
FACTS: tuple[str, ...] = ("name", "usage", "function", "cancel", "query")
FACT_PREFIX = "product_fact:"
ENTRY_KEYS = frozenset(
    {"code", "codes", "name", "aliases", "monthly_fee", "currency", "trial_days", "usage",
     "functions", "cancel", "query", "description"}
)
FIGURE_KEYS = frozenset({"name", "monthly_fee", "currency", "trial_days"})
ROUTE_KEYS = frozenset({"sms", "to", "call", "app", "say", "regex", "description"})
FUNCTION_KEYS = frozenset({"name", "phrases", "scenarios", "regex", "description"})
REF_KEYS = frozenset({"product_fact", "otherwise", "also"})
# Words that make an app route a way to cancel or to query, not just a way to use.
_ACTION_WORDS = {
    "cancel": "退订|取消|退掉|关闭|关掉|停掉|cancel|unsubscribe|turn off|switch off|remove|opt out",
    "query": "查询|查看|查|check|look up|see|view|track",
}
_SEND_WORDS = "发送|发|回复|编辑|短信|text|send|reply"
# How far apart an SMS code and its number may be said ("发送TD到10001").
_CODE_GAP = ".{0,14}"


@dataclass(frozen=True)
class Route:
    """One way to use, cancel or query a product: an SMS code, a number, an app, words."""

    label: str  # as shown: "SMS td to 10001", "call 10000", "app 电信营业厅", "words"
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # RE2, on the match text


@dataclass(frozen=True)
class Function:
    """One thing a product does: the words that name it and the scenarios that show it."""

    name: str
    phrases: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()  # "关机的时候谁打过来您都知道": the function as a situation
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figures:
    """A product's figures; None where the catalogue does not say."""

    name: str | None = None
    monthly_fee: float | None = None
    currency: str | None = None
    trial_days: int | None = None


@dataclass(frozen=True)
class ProductEntry:
    """One product (or a family of codes sharing their facts) of the catalogue."""

    key: str  # its first code: names its matchers
    codes: tuple[str, ...]
    figures: Figures
    aliases: tuple[str, ...]
    usage: tuple[Route, ...]
    functions: tuple[Function, ...]
    cancel: tuple[Route, ...]
    query: tuple[Route, ...]
    location: Location
    # Figures of one code of a family that differ from the entry's (codes: {CL6: {...}}).
    by_code: tuple[tuple[str, Figures], ...] = ()

    def figures_of(self, code: str | None) -> Figures:
        own = dict(self.by_code).get(code or "")
        if own is None:
            return self.figures
        return Figures(*(a if a is not None else b for a, b in zip(
            (own.name, own.monthly_fee, own.currency, own.trial_days),
            (self.figures.name, self.figures.monthly_fee, self.figures.currency,
             self.figures.trial_days), strict=True)))

    def has(self, fact: str) -> bool:
        if fact == "name":
            return bool(self.figures.name or self.aliases)
        if fact == "function":
            return bool(self.functions)
        return bool(getattr(self, fact))

    def matcher_names(self, fact: str) -> tuple[str, ...]:
        """The pack matchers that say this fact of this product (see `catalogue_matchers`)."""
        if fact == "name":
            return (f"product {self.key}: name",)
        if fact == "function":
            names = []
            for function in self.functions:
                names.append(f"product {self.key}: function {function.name}")
                if function.scenarios:
                    names.append(f"product {self.key}: function {function.name} (scenario)")
            return tuple(names)
        return tuple(f"product {self.key}: {fact} {route.label}" for route in getattr(self, fact))


@dataclass(frozen=True)
class ProductFactRef:
    """`{product_fact: usage, otherwise: usage_method}` as a rule names it."""

    name: str  # the matcher name it stands for in the call's hits
    fact: str
    otherwise: str | None = None  # used when the call's product has no such fact
    also: str | None = None  # its matches count too, whatever the product


@dataclass(frozen=True)
class Resolution:
    """The call's product as the rules judge it: its metadata, completed by the catalogue."""

    entry: ProductEntry | None
    product: Product | None  # the effective product
    matched_by: str = ""  # "code", "name" or "" (not in the catalogue)
    supplied: tuple[str, ...] = ()  # "trial_days 30": what the catalogue filled in
    conflicts: tuple[str, ...] = ()  # one sentence each; the call's value is used


@dataclass(frozen=True)
class Catalogue:
    """Every product of a pack, found by code, then by exact name or alias."""

    entries: tuple[ProductEntry, ...]
    by_code: MappingProxyType[str, ProductEntry] = field(compare=False)
    by_name: MappingProxyType[str, ProductEntry] = field(compare=False)
    # Resolutions already worked out, by product and the fields its call gave: a night's
    # calls sell a few products, so each is resolved once.
    _resolved: dict[tuple[Product, frozenset[str] | None], Resolution] = field(
        default_factory=dict, compare=False, repr=False)

    def lookup(self, product: Product | None) -> tuple[ProductEntry | None, str]:
        if product is None:
            return None, ""
        if product.code and product.code in self.by_code:
            return self.by_code[product.code], "code"
        if product.name and _name_key(product.name) in self.by_name:
            return self.by_name[_name_key(product.name)], "name"
        return None, ""

    def resolve(self, product: Product | None) -> Resolution:
        """The call's product completed by its entry. The call's own figures win: they are
        what the platform recorded for this sale; a catalogue figure that differs is
        reported as a conflict."""
        if product is None:
            return Resolution(None, None)
        key = (product, product.given)
        found = self._resolved.get(key)
        if found is None:
            if len(self._resolved) > 4096:  # a bound, should a feed send endless variants
                self._resolved.clear()
            found = self._resolved[key] = self._resolve(product)
        return found

    def _resolve(self, product: Product) -> Resolution:
        entry, how = self.lookup(product)
        if entry is None or product is None:
            return Resolution(None, product)
        figures = entry.figures_of(product.code)
        changes: dict[str, object] = {}
        supplied: list[str] = []
        conflicts: list[str] = []
        for key in ("name", "monthly_fee", "currency", "trial_days"):
            ours = getattr(figures, key)
            if ours is None:
                continue
            theirs = getattr(product, key)
            if not _stated(product, key):
                changes[key] = ours
                supplied.append(f"{key} {_shown(ours)}")
            elif key == "name":
                if _name_key(theirs) not in {_name_key(n) for n in (ours, *entry.aliases)}:
                    conflicts.append(_conflict(product, key, theirs, ours, entry))
            elif _differs(theirs, ours):
                conflicts.append(_conflict(product, key, theirs, ours, entry))
        effective = replace(product, **changes) if changes else product  # type: ignore[arg-type]
        return Resolution(entry, effective, how, tuple(supplied), tuple(conflicts))


def _stated(product: Product, key: str) -> bool:
    """Whether the call's metadata gave this field (a Product built in code: when set)."""
    if product.given is not None:
        return key in product.given
    value = getattr(product, key)
    return value is not None and not (key == "trial_days" and value == 0)


def _differs(theirs: object, ours: object) -> bool:
    if isinstance(theirs, (int, float)) and isinstance(ours, (int, float)):
        return abs(float(theirs) - float(ours)) > 0.0049
    return theirs != ours


def _conflict(product: Product, key: str, theirs: object, ours: object, entry: ProductEntry) -> str:
    return (f"product {product.code or product.name}: the call says {key} {_shown(theirs)}, "
            f"the catalogue ({entry.location}) {_shown(ours)}; the call's value is used")


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _name_key(name: str | None) -> str:
    return re.sub(r"\s+", "", (name or "").casefold())


# --- compiling -----------------------------------------------------------------------------


def compile_catalogue(nodes: Iterable[Node], compiler: Compiler) -> Catalogue | None:
    """The `products:` lists of a pack's files, as one catalogue; its matchers are added to
    the compiler. None when no file has one."""
    entries: list[ProductEntry] = []
    codes: dict[str, Location] = {}
    names: dict[str, tuple[str, Location]] = {}
    any_list = False
    for node in nodes:
        any_list = True
        for item in node.items("products"):
            entry = _entry(item, codes, names)
            if entry is not None:
                entries.append(entry)
    if not any_list:
        return None
    by_code = {code: entry for entry in entries for code in entry.codes}
    by_name = {}
    for entry in entries:
        for name in (entry.figures.name, *entry.aliases):
            if name:
                by_name.setdefault(_name_key(name), entry)
        for _, figures in entry.by_code:
            if figures.name:
                by_name.setdefault(_name_key(figures.name), entry)
    for entry in entries:
        for matcher in catalogue_matchers(entry):
            compiler.matchers[matcher.name] = matcher
    return Catalogue(tuple(entries), MappingProxyType(by_code), MappingProxyType(by_name))


def _entry(
    node: Node,
    codes: dict[str, Location],
    names: dict[str, tuple[str, Location]],
) -> ProductEntry | None:
    fields = node.mapping("a product", ENTRY_KEYS)
    if fields is None:
        return None
    if ("code" in fields) == ("codes" in fields):
        node.error("a product needs 'code' (one) or 'codes' (a list), not both and not neither",
                   "write 'code: CL5', or 'codes: [CL5, CL6]' for codes sharing these facts")
        return None
    found_codes: list[str] = []
    by_code: list[tuple[str, Figures]] = []
    if "code" in fields:
        code = fields["code"].text("code")
        if code is None:
            return None
        found_codes.append(code)
        code_nodes = [fields["code"]]
    elif fields["codes"].is_mapping():
        code_nodes = []
        for key_node, value_node in fields["codes"].node.value:
            key = Node(key_node, node.source)
            code = key.text("a product code")
            if code is None:
                continue
            found_codes.append(code)
            code_nodes.append(key)
            value = Node(value_node, node.source)
            if value.scalar_value() is not None or not value.is_scalar():
                by_code.append((code, _figures(value.mapping(f"product {code}", FIGURE_KEYS)
                                               or {})))
    else:
        code_nodes = list(fields["codes"].items("codes"))
        found_codes = [c for c in (n.text("a product code") for n in code_nodes) if c]
    if not found_codes:
        fields.get("codes", node).error("the product has no code", "give at least one code")
        return None
    for code, code_node in zip(found_codes, code_nodes, strict=False):
        if code in codes:
            code_node.error(f"product code '{code}' is already in the catalogue at {codes[code]}",
                            "each code may stand in one entry only; merge the two")
            return None
        codes[code] = code_node.location
    figures = _figures(fields)
    aliases = fields["aliases"].texts("aliases") if "aliases" in fields else ()
    key = found_codes[0]
    for name_node, name in _name_nodes(fields):
        other = names.get(_name_key(name))
        if other is not None and other[0] != key:
            name_node.error(f"the name '{name}' is already given to product {other[0]} at "
                            f"{other[1]}", "a name or alias may lead to one product only")
        names.setdefault(_name_key(name), (key, name_node.location))
    functions = _functions(fields["functions"]) if "functions" in fields else ()
    _names_are_not_functions(fields, functions, [n for _, n in _name_nodes(fields)])
    return ProductEntry(
        key=key,
        codes=tuple(found_codes),
        figures=figures,
        aliases=aliases,
        usage=_routes(fields, "usage"),
        functions=functions,
        cancel=_routes(fields, "cancel"),
        query=_routes(fields, "query"),
        location=node.location,
        by_code=tuple(by_code),
    )


def _names_are_not_functions(
    fields: dict[str, Node], functions: tuple[Function, ...], names: list[str]
) -> None:
    """Saying the product's name is not saying what it does: a function phrase inside the
    name or an alias would count every mention of the name as the function stated."""
    keys = [_name_key(n) for n in names]
    for function in functions:
        inside = [p for p in function.phrases + function.scenarios
                  if any(_name_key(p) in key for key in keys)]
        if inside:
            fields["functions"].error(
                f"function '{function.name}': {', '.join(repr(p) for p in inside)} "
                "is part of the product's name",
                "saying the name would count as stating the function; use words for what "
                "it does", level="warning")


def _name_nodes(fields: dict[str, Node]) -> list[tuple[Node, str]]:
    found = []
    if "name" in fields and (name := fields["name"].text("name")):
        found.append((fields["name"], name))
    if "aliases" in fields:
        nodes = [fields["aliases"]] if fields["aliases"].is_scalar() else list(
            fields["aliases"].items("aliases"))
        found.extend((n, t) for n in nodes if n.is_scalar() and (t := n.scalar_value()))
    return found


def _figures(fields: dict[str, Node]) -> Figures:
    fee = fields["monthly_fee"].number("monthly_fee") if "monthly_fee" in fields else None
    trial = (fields["trial_days"].integer("trial_days", 0, 3650)
             if "trial_days" in fields else None)
    return Figures(
        name=fields["name"].text("name") if "name" in fields else None,
        monthly_fee=fee,
        currency=fields["currency"].text("currency") if "currency" in fields else None,
        trial_days=trial,
    )


def _routes(fields: dict[str, Node], fact: str) -> tuple[Route, ...]:
    if fact not in fields:
        return ()
    routes = []
    for item in fields[fact].items(fact):
        route = _route(item, fact)
        if route is not None:
            routes.append(route)
    return tuple(routes)


def _route(node: Node, fact: str) -> Route | None:
    from engine.rules.compiler import _patterns

    fields = node.mapping(f"a {fact} route", ROUTE_KEYS)
    if fields is None:
        return None
    ways = [k for k in ("sms", "call", "app", "say", "regex") if k in fields]
    if not ways:
        node.error(f"the {fact} route says no way to do it",
                   "give one of: sms (a code, with 'to:' a number), call (a number), "
                   "app (its name), say (phrases), regex")
        return None
    if "to" in fields and "sms" not in fields:
        fields["to"].error("'to' is the number an SMS code is sent to", "add 'sms: CODE'")
        return None
    phrases: list[str] = []
    patterns: list[str] = []
    labels: list[str] = []
    if "sms" in fields:
        code = fields["sms"].text("sms")
        to = _number(fields["to"], "to") if "to" in fields else None
        if code is None or ("to" in fields and to is None):
            return None
        if to:
            patterns.append(_near(code, to))
            labels.append(f"SMS {code} to {to}")
        else:
            patterns.append(f"({_SEND_WORDS}).{{0,8}}{_word(code)}")
            labels.append(f"SMS {code}")
    if "call" in fields:
        number = _number(fields["call"], "call")
        if number is None:
            return None
        patterns.append(_digits(number))
        labels.append(f"call {number}")
    if "app" in fields:
        app = fields["app"].text("app")
        if app is None:
            return None
        labels.append(f"app {app}")
        if fact in _ACTION_WORDS:
            name = _word(app)
            words = _ACTION_WORDS[fact]
            patterns.append(f"{name}.{{0,15}}({words})|({words}).{{0,15}}{name}")
        else:
            phrases.append(app)
    if "say" in fields:
        phrases.extend(fields["say"].texts("say"))
        labels.append("words")
    if "regex" in fields:
        patterns.extend(_patterns(fields["regex"]))
        if "say" not in fields:
            labels.append("words")
    return Route(" + ".join(labels), tuple(phrases), tuple(patterns))


def _number(node: Node, what: str) -> str | None:
    """A service number as written: digits, perhaps with spaces or dashes (`"10086"`)."""
    text = node.text(what)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9][0-9 -]*[0-9]|[0-9]", text.strip()):
        node.error(f"{what} must be a number made of digits, not '{text}'",
                   f"write it in quotes, e.g. {what}: \"10086\"")
        return None
    return text.strip()


def _near(code: str, number: str) -> str:
    """A code and a number said close together, in either order ("发TD到10001", "10001
    回复TD"). RE2 has no look-around: the edges are written out so neither is cut from a
    longer word or number."""
    key, digits = re.escape(code.casefold()), re.sub(r"[ -]", "", number)
    word_start = "(^|[^a-z0-9])" if code[:1].isascii() and code[:1].isalnum() else ""
    word_end = "([^a-z0-9]|$)" if code[-1:].isascii() and code[-1:].isalnum() else ""
    code_then = f"{word_start}{key}({_CODE_GAP}[^0-9])?{digits}([^0-9]|$)"
    number_then = f"(^|[^0-9]){digits}({_CODE_GAP}[^a-z0-9])?{key}{word_end}"
    return f"{code_then}|{number_then}"


def _digits(number: str) -> str:
    """A number's pattern: its digits, not inside a longer number."""
    digits = re.sub(r"[ -]", "", number)
    return f"(^|[^0-9]){digits}([^0-9]|$)"


def _word(text: str) -> str:
    """A code or app name's pattern on the match text: Latin words not inside other words."""
    key = re.escape(text.casefold()).replace(r"\ ", " ")
    if text[:1].isascii() and text[:1].isalnum():
        key = f"(^|[^a-z0-9]){key}"
    if text[-1:].isascii() and text[-1:].isalnum():
        key = f"{key}([^a-z0-9]|$)"
    return f"({key})"


def _functions(node: Node) -> tuple[Function, ...]:
    from engine.rules.compiler import _patterns

    found = []
    for item in node.items("functions"):
        fields = item.mapping("a function", FUNCTION_KEYS, frozenset({"name"}))
        if fields is None or "name" not in fields:
            continue
        name = fields["name"].text("name")
        phrases = fields["phrases"].texts("phrases") if "phrases" in fields else ()
        scenarios = fields["scenarios"].texts("scenarios") if "scenarios" in fields else ()
        patterns = _patterns(fields["regex"]) if "regex" in fields else ()
        if name is None:
            continue
        if not (phrases or scenarios or patterns):
            item.error(f"function '{name}' has no phrases, scenarios or regex",
                       "add 'phrases:' (words that name it) or 'scenarios:' (situations it "
                       "helps in)")
            continue
        found.append(Function(name, phrases, scenarios, patterns))
    return tuple(found)


def catalogue_matchers(entry: ProductEntry) -> list[Matcher]:
    """The entry's facts as agent matchers, one per route and function."""
    matchers = []
    names = tuple(n for n in (entry.figures.name, *entry.aliases) if n)
    names += tuple(f.name for _, f in entry.by_code if f.name and f.name not in names)
    if names:
        matchers.append(Matcher(f"product {entry.key}: name", entry.location, "agent",
                                phrases=names, negation=False))
    for fact in ("usage", "cancel", "query"):
        for route, name in zip(getattr(entry, fact), entry.matcher_names(fact), strict=True):
            matchers.append(Matcher(name, entry.location, "agent", phrases=route.phrases,
                                    patterns=route.patterns))
    for function in entry.functions:
        base = f"product {entry.key}: function {function.name}"
        if function.phrases or function.patterns:
            matchers.append(Matcher(base, entry.location, "agent", phrases=function.phrases,
                                    patterns=function.patterns))
        if function.scenarios:
            matchers.append(Matcher(f"{base} (scenario)", entry.location, "agent",
                                    phrases=function.scenarios))
    return matchers


def compile_fact_reference(node: Node, compiler: Compiler) -> str | None:
    """`{product_fact: usage}` (optionally `otherwise: MATCHER`) where a matcher is named:
    the name under which the call's product's hits of that fact are found."""
    fields = node.mapping("product_fact", REF_KEYS, frozenset({"product_fact"}))
    if fields is None or "product_fact" not in fields:
        return None
    fact = fields["product_fact"].choice("product_fact", FACTS)
    others = {key: compiler.reference(fields[key], key) if key in fields else None
              for key in ("otherwise", "also")}
    if fact is None or any(key in fields and others[key] is None for key in others):
        return None
    otherwise, also = others["otherwise"], others["also"]
    name = (FACT_PREFIX + fact + (f" otherwise {otherwise}" if otherwise else "")
            + (f" also {also}" if also else ""))
    compiler.product_facts[name] = ProductFactRef(name, fact, otherwise, also)
    return name


def describe_facts() -> str:
    return suggest("", FACTS, "product facts")


# --- on a call -----------------------------------------------------------------------------


def apply_product_facts(
    ctx: CallContext, refs: Iterable[ProductFactRef], entry: ProductEntry | None
) -> None:
    """Put each product-fact reference's hits in the call's hits: the product's own
    matchers' when its entry has the fact, else the `otherwise` matcher's; and the `also`
    matcher's in any case."""
    hits = ctx.hits
    for ref in refs:
        names: tuple[str, ...]
        if entry is not None and entry.has(ref.fact):
            names = entry.matcher_names(ref.fact)
        else:
            names = (ref.otherwise,) if ref.otherwise is not None else ()
        if ref.also is not None:
            names += (ref.also,)
        lists = [found for name in names if (found := hits.get(name))]
        if len(lists) == 1:
            hits[ref.name] = lists[0]
        elif lists:
            hits[ref.name] = sorted({h for found in lists for h in found})
