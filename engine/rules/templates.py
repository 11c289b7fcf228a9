"""Templates: phrases with typed, optional slots and inline alternatives.

    不要{adv?}再{打给我|给我打}      "不要再打给我", "不要一直再给我打"...
    {kin}的号                       "我爸的号", "我岳母的号"
    stop {adv?} calling me          "stop calling me", "stop constantly calling me"

A template compiles to one RE2 pattern over the normalised match text, searched in the same
regex pass as the matchers' own regexes. The pattern keeps no groups (the index never asks
where a group matched); `check --show-matches` re-matches a hit's span with the capturing
form to show what filled each slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import re2

if TYPE_CHECKING:
    from engine.rules.matchers import Hit, Matcher
    from engine.text.normalize import NormalizedTurn


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Built-in slots per language: words (matched as written, after normalisation). A pack
# adds words or new slots under `slots:` in pack.yaml.
SLOT_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "kin": _words(
            "爸爸 妈妈 爸 妈 老爸 老妈 父亲 母亲 爷爷 奶奶 姥爷 姥姥 外公 "
            "外婆 老公 老婆 爱人 丈夫 妻子 媳妇 媳妇儿 儿子 女儿 闺女 孙子 "
            "孙女 外孙 外孙女 哥 哥哥 姐 姐姐 弟弟 妹妹 弟 妹 大哥 大姐 二哥 "
            "二姐 表哥 表姐 表弟 表妹 堂哥 堂姐 堂弟 堂妹 叔叔 叔 阿姨 姨 "
            "舅舅 舅 舅妈 姑姑 姑 姑父 姑妈 姨夫 姨妈 伯伯 大伯 婶婶 婶子 "
            "岳父 岳母 公公 婆婆 丈人 丈母娘 女婿 儿媳 儿媳妇 嫂子 姐夫 妹夫 "
            "小姨子 小舅子 亲戚 家里人 家人 对象 男朋友 女朋友"
        ),
        "id_fact": _words(
            "身份证后四位 身份证后六位 身份证号 身份证号码 身份证 后四位 后六位 "
            "出生日期 出生年月 生日 服务密码 密码 验证码 机主姓名 姓名 全名 "
            "登记地址 家庭住址 住址 地址 证件号 证件号码"
        ),
        "pronoun": _words(
            "我们 你们 他们 她们 我 你 您 他 她 它 咱 咱们"
        ),
        "adv": _words(
            "老是 一直 总是 老 总 再 又 还 还是 天天 每天 整天 一天到晚 反复 "
            "不停 不停地 不断 经常 三番五次 动不动就 都 就 也"
        ),
    },
    "en": {
        "kin": (
            "dad", "mom", "mum", "father", "mother", "stepdad", "stepmom", "stepfather",
            "stepmother", "husband", "wife", "son", "daughter", "stepson", "stepdaughter",
            "grandma", "grandpa", "grandmother", "grandfather", "granny", "grandson",
            "granddaughter", "uncle", "aunt", "auntie", "cousin", "brother", "sister", "nephew",
            "niece", "in-law", "mother-in-law", "father-in-law", "son-in-law",
            "daughter-in-law", "brother-in-law", "sister-in-law", "partner", "fiance", "fiancee",
            "boyfriend", "girlfriend", "spouse", "parents", "kid", "kids",
        ),
        "id_fact": (
            "zip", "zip code", "zipcode", "postal code", "pin", "pin number", "passcode",
            "password", "security code", "date of birth", "birth date", "birthday", "dob",
            "last four", "last four digits", "last 4", "last 4 digits", "last four of your social",
            "ssn", "social", "social security number", "billing address", "address",
            "account number", "security question", "mother's maiden name",
        ),
        "pronoun": ("i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them"),
        "adv": (
            "always", "keep", "keep on", "constantly", "continually", "repeatedly", "still",
            "again", "just", "ever", "even", "every day", "all the time", "over and over",
        ),
    },
}

# Built-in slots that are patterns, not words.
SLOT_PATTERNS: dict[str, dict[str, str]] = {
    "zh": {"num": "[0-9零〇一二两三四五六七八九十百千万幺]+(?:\\.[0-9]+)?"},
    "en": {
        "num": "(?:[0-9]+(?:[.,][0-9]+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten"
        "|eleven|twelve|twenty|thirty|forty|fifty|hundred)"
    },
}

_SLOT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Slots:
    """The slots a pack's templates may name: built-in ones and the pack's own."""

    language: str
    words: Mapping[str, tuple[str, ...]]
    patterns: Mapping[str, str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({*self.words, *self.patterns}))


def default_slots(language: str, extra: Mapping[str, Sequence[str]] | None = None) -> Slots:
    """The built-in slots of a language, with a pack's words added (new names are new slots)."""
    words = {name: tuple(values) for name, values in SLOT_WORDS.get(language, {}).items()}
    for name, values in (extra or {}).items():
        words[name] = tuple(dict.fromkeys((*words.get(name, ()), *values)))
    return Slots(language, words, dict(SLOT_PATTERNS.get(language, {})))


@dataclass(frozen=True)
class Template:
    """One compiled template of a matcher."""

    source: str  # as the rule author wrote it
    pattern: str  # RE2 over the match text, without groups: what the index searches
    capture: str  # the same with one group per brace, for showing what filled it
    labels: tuple[str, ...]  # per group: the slot's name, or the alternatives "a|b"


class TemplateError(ValueError):
    """A template that cannot be compiled: what is wrong and what to do."""

    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.message = message
        self.help = help


class _Brace(NamedTuple):
    label: str  # slot name, or "a|b" for alternatives
    slot: bool
    options: tuple[str, ...]  # alternatives as written (slots: empty)
    optional: bool


def _parse(text: str, slots: Slots) -> list[str | _Brace]:
    """Literal pieces and braces, in order."""
    parts: list[str | _Brace] = []
    at = 0
    while at < len(text):
        open_at = text.find("{", at)
        close_at = text.find("}", at)
        if close_at >= 0 and (open_at < 0 or close_at < open_at):
            raise TemplateError("a '}' closes no '{'", "write slots as {kin} or {adv?}")
        if open_at < 0:
            parts.append(text[at:])
            break
        if open_at > at:
            parts.append(text[at:open_at])
        end = text.find("}", open_at)
        inner_open = text.find("{", open_at + 1)
        if end < 0 or 0 <= inner_open < end:
            raise TemplateError(
                "a '{' is not closed", "close each slot with '}'; slots do not nest"
            )
        parts.append(_brace(text[open_at + 1 : end], slots))
        at = end + 1
    return parts


def _brace(inner: str, slots: Slots) -> _Brace:
    optional = inner.endswith("?")
    body = inner[:-1] if optional else inner
    if "|" in body:
        options = tuple(o.strip() for o in body.split("|"))
        if not any(options):
            raise TemplateError("the alternatives are all empty", "write {打给我|给我打}")
        return _Brace(body, False, options, optional or "" in options)
    name = body.strip()
    if not name:
        raise TemplateError("an empty slot '{}'", "name a slot: " + ", ".join(slots.names))
    if name in slots.words or name in slots.patterns:
        return _Brace(name, True, (), optional)
    if optional and not _SLOT_NAME.fullmatch(name):
        return _Brace(name, False, (name,), True)  # an optional word: {再?}
    from engine.rules.problems import suggest

    hint = suggest(name, slots.names, "slots")
    if not _SLOT_NAME.fullmatch(name):
        hint = f"for alternatives write {{{name}|...}}, for an optional word {{{name}?}}; " + hint
    raise TemplateError(f"unknown slot '{{{name}}}'", hint)


def compile_template(
    text: str,
    slots: Slots,
    normalize: Callable[[str], str],
    word_forms: Callable[[str], tuple[str, ...]] | None = None,
    apostrophes: bool = False,
) -> Template:
    """A template as RE2 over match text. `normalize` shapes literal text as the match text
    is shaped; `word_forms` (English) gives the forms a literal word may take; with
    `apostrophes` (English) every apostrophe may be left out ("i'm" or "im")."""
    parts = _parse(text, slots)
    if all((isinstance(p, _Brace) and p.optional) or (isinstance(p, str) and not p.strip())
           for p in parts):
        raise TemplateError(
            "the template has nothing that must be said",
            "keep at least one word or slot that is not optional ('?')",
        )
    if slots.language == "en":
        template = _compile_words(text, parts, slots, normalize, word_forms)
        if not apostrophes:
            return template
        quote, optional = re2.escape("'"), re2.escape("'") + "?"
        return Template(template.source, template.pattern.replace(quote, optional),
                        template.capture.replace(quote, optional), template.labels)
    plain: list[str] = []
    capture: list[str] = []
    labels: list[str] = []
    for part in parts:
        if isinstance(part, str):
            literal = re2.escape(normalize(part)) if normalize(part) else ""
            plain.append(literal)
            capture.append(literal)
            continue
        inner = _alternation(part, slots, normalize)
        mark = "?" if part.optional else ""
        plain.append(f"(?:{inner}){mark}")
        capture.append(f"({inner}){mark}")
        labels.append(part.label)
    return Template(text, "".join(plain), "".join(capture), tuple(labels))


def _alternation(brace: _Brace, slots: Slots, normalize: Callable[[str], str]) -> str:
    if brace.slot and brace.label in slots.patterns:
        return slots.patterns[brace.label]
    values = slots.words[brace.label] if brace.slot else brace.options
    shaped = {normalize(v) for v in values}
    shaped.discard("")
    # Longest first: RE2 prefers the earlier alternative, and a fill shows the whole word.
    return "|".join(re2.escape(v) for v in sorted(shaped, key=lambda v: (-len(v), v)))


def _compile_words(
    text: str,
    parts: list[str | _Brace],
    slots: Slots,
    normalize: Callable[[str], str],
    word_forms: Callable[[str], tuple[str, ...]] | None,
) -> Template:
    """English: words one space apart, whole words only; an optional brace standing as a
    word of its own takes its space with it ("stop {adv?} calling" → "stop calling")."""
    # Split into words: a word is a run of pieces between spaces outside braces.
    words: list[list[str | _Brace]] = [[]]
    for part in parts:
        if isinstance(part, _Brace):
            words[-1].append(part)
            continue
        pieces = part.split()
        if part[:1].isspace() and words[-1]:
            words.append([])
        for number, piece in enumerate(pieces):
            if number:
                words.append([])
            words[-1].append(piece)
        if part[-1:].isspace() and words[-1]:
            words.append([])
    words = [w for w in words if w]
    plain: list[str] = []
    capture: list[str] = []
    labels: list[str] = []
    for word in words:
        word_plain, word_capture = "", ""
        for piece in word:
            if isinstance(piece, str):
                shaped = normalize(piece)
                forms = word_forms(shaped) if word_forms and " " not in shaped and len(word) == 1 \
                    else (shaped,)
                literal = (
                    "(?:" + "|".join(re2.escape(f) for f in forms) + ")"
                    if len(forms) > 1
                    else re2.escape(shaped)
                )
                word_plain += literal
                word_capture += literal
                continue
            inner = _alternation(piece, slots, normalize)
            alone = len(word) == 1 and piece.optional
            mark = "" if alone else ("?" if piece.optional else "")
            word_plain += f"(?:{inner}){mark}"
            word_capture += f"({inner}){mark}"
            labels.append(piece.label)
        if len(word) == 1 and isinstance(word[0], _Brace) and word[0].optional:
            plain.append("\0" + word_plain)  # an optional word: joined below with its space
            capture.append("\0" + word_capture)
        else:
            plain.append(word_plain)
            capture.append(word_capture)
    edge_start = "\\b" if _starts_with_word(parts) else ""
    edge_end = "\\b" if _ends_with_word(parts) else ""
    return Template(
        text,
        edge_start + _join_words(plain) + edge_end,
        edge_start + _join_words(capture) + edge_end,
        tuple(labels),
    )


def _join_words(words: list[str]) -> str:
    """Words one space apart; an optional word (marked by a leading NUL) brings its space."""
    joined = ""
    seen_required = False
    for word in words:
        if word.startswith("\0"):
            joined += f"(?: {word[1:]})?" if seen_required else f"(?:{word[1:]} )?"
            continue
        joined += (" " if seen_required else "") + word
        seen_required = True
    return joined


def _starts_with_word(parts: list[str | _Brace]) -> bool:
    first = parts[0]
    if isinstance(first, str):
        stripped = first.lstrip()
        return bool(stripped) and stripped[0].isalnum()
    return True


def _ends_with_word(parts: list[str | _Brace]) -> bool:
    last = parts[-1]
    if isinstance(last, str):
        stripped = last.rstrip()
        return bool(stripped) and stripped[-1].isalnum()
    return True


@lru_cache(maxsize=1024)
def _capturing(capture: str) -> re2._Regexp:
    options = re2.Options()
    options.log_errors = False
    return re2.compile("(?i)" + capture, options)


class SlotFill(NamedTuple):
    """What filled one brace of a template in a hit: at match-text positions."""

    label: str
    start: int
    end: int


def slot_fills(template: Template, text: str, start: int, end: int) -> list[SlotFill] | None:
    """The braces' fills when the template matches exactly text[start:end]; else None."""
    found = _capturing(template.capture).fullmatch(text[start:end])
    if found is None:
        return None
    fills = []
    for group, label in enumerate(template.labels, start=1):
        at, to = found.span(group)
        if at >= 0 and to > at:
            fills.append(SlotFill(label, start + at, start + to))
    return fills


def slot_notes(
    matchers: Sequence[Matcher], turns: Sequence[NormalizedTurn], hits: Mapping[str, Sequence[Hit]]
) -> dict[int, list[str]]:
    """Per turn, what filled the slots of each template hit, in the turn's own words:
    `opt_out_request: 别老是打过来 — template 别{adv?}打过来 — adv=老是`. For
    `check --show-matches`."""
    notes: dict[int, list[str]] = {}
    for matcher in matchers:
        if not matcher.templates:
            continue
        for hit in hits.get(matcher.name, ()):
            turn = turns[hit.turn]
            for template in matcher.templates:
                fills = slot_fills(template, turn.text, hit.start, hit.end)
                if fills is None:
                    continue
                said = ", ".join(
                    f"{fill.label}={_original(turn, fill.start, fill.end)}" for fill in fills
                )
                line = f"{matcher.name}: {_original(turn, hit.start, hit.end)}"
                line += f" — template {template.source}" + (f" — {said}" if said else "")
                notes.setdefault(hit.turn, []).append(line)
                break
    return notes


def _original(turn: NormalizedTurn, start: int, end: int) -> str:
    at, to = turn.to_original(start, end)
    return turn.original[at:to]
