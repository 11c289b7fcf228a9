"""Clause analysis: what each clause of a turn is, for the matchers that ask (scope,
attribution and time).

A turn's clauses are its punctuation clauses (see `normalize`), cut further where a
conditional opens (如果, "if") or closes (…的话), around connectives (要不然, "otherwise") and,
inside a conditional, where its consequent starts (…我就, "then", "I'll"). Each clause gets:

* `question`    — it ends in ？/吗, or holds an A-not-A form (是不是, 会不会, 能不能), a
  question word (是否, 难道), or (English) starts inverted ("is it…", "will you…"); a request
  put as a question ("能不能别再打了", "could you take me off your list?") is a `request`
  and not a question;
* `conditional` — it is the if-part of a conditional (要是…, …的话, "if…", "say I…");
* `past`        — it narrates what happened before (去年, 上次, 打过, "last year", "used to");
* `reported`    — it reports what someone else said (他说, 听说, "my friend said");
* `about`       — `other` when its subject is a third party (我邻居, 他, "my mom", "she"),
  else `self` (the speaker or the person spoken to).

A clause without a subject of its own (Chinese drops it: "我邻居去年被扣了钱，打了12315才退")
goes on with the story of the clause before it: it takes that clause's `about` and `reported`
and, unless it says "now" (现在, 再, "again"), its `past`.

Nothing here runs unless a matcher needs it: `ClauseReader` reads a turn the first time a
rule asks about one of its matches, and remembers it by text.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import ahocorasick_rs

from engine.text.normalize import NormalizedTurn

ABOUT_CHOICES = ("self", "other")

_ZH_KIN = (
    "邻居", "妈", "妈妈", "爸", "爸爸", "老妈", "老爸", "父母", "老婆", "老公", "爱人", "媳妇",
    "对象", "儿子", "女儿", "孩子", "朋友", "同事", "同学", "室友", "房东", "领导", "老板",
    "姐", "姐姐", "哥", "哥哥", "弟", "弟弟", "妹", "妹妹", "姑父", "姑姑", "姑妈", "舅舅", "舅妈",
    "姨", "小姨", "姨妈", "姨父", "叔叔", "婶婶", "伯伯", "爷爷", "奶奶", "外公", "外婆", "姥姥",
    "姥爷", "亲戚", "表哥", "表姐", "表弟", "表妹", "堂哥", "堂姐", "堂弟", "堂妹", "岳母",
    "岳父", "丈母娘", "婆婆", "公公", "家里人", "家人", "老人", "家里老人",
)
_ZH_POSSESSIVE = ("我", "我的", "我们", "我们家", "我家", "咱家", "俺", "俺家")
# Kin words said alone are third parties only when they cannot be a form of address:
# agents call customers 姐, 哥, 阿姨.
_ZH_ALONE = ("邻居", "朋友", "同事", "亲戚", "家里人", "家人", "室友", "房东")
_EN_KIN = (
    "neighbor", "neighbour", "neighbors", "mom", "mother", "mum", "dad", "father", "parents",
    "wife", "husband", "son", "daughter", "kid", "kids", "friend", "buddy", "brother", "sister",
    "uncle", "aunt", "grandma", "grandmother", "grandpa", "grandfather", "cousin", "roommate",
    "coworker", "co-worker", "colleague", "boss", "landlord", "stepdad", "stepmom", "stepfather",
    "stepmother", "in-laws", "mother-in-law", "father-in-law", "family", "partner", "girlfriend",
    "boyfriend",
)
_EN_POSSESSIVE = ("my", "our", "a")
_EN_AUX = (
    "is", "are", "was", "were", "am", "do", "does", "did", "will", "would", "can", "could",
    "should", "shall", "may", "might", "have", "has", "had", "won't", "can't", "don't",
    "doesn't", "didn't", "isn't", "aren't", "wasn't", "wouldn't", "couldn't", "shouldn't",
)
_EN_SUBJECTS = (
    "i", "you", "he", "she", "it", "we", "they", "this", "that", "there", "your", "my", "the",
    "someone", "anyone", "anybody", "somebody",
)
_EN_WH = ("what", "why", "how", "when", "where", "who", "which")
_EN_WH_NEXT = (*_EN_AUX, "much", "many", "long", "come", "about", "often", "soon")


@dataclass(frozen=True)
class ClauseWords:
    """The word lists clause analysis reads, per language; a pack may replace any of them
    (`clauses:` in pack.yaml)."""

    conditional: tuple[str, ...]  # open an if-part: 如果, 要是, if, say I
    conditional_end: tuple[str, ...]  # close one: 的话 ("不需要的话" is an if-part)
    not_conditional: tuple[str, ...]  # look-alikes: 的话费, 主要是, "I suppose"
    consequent: tuple[str, ...]  # start the then-part inside a conditional: 就, 我就, then, I'll
    connectives: tuple[str, ...]  # start a clause and are never negation: 要不然, otherwise
    past: tuple[str, ...]  # 去年, 上次, 过 (打过), last year, used to
    not_past: tuple[str, ...]  # look-alikes: 打过来, 不过, "once you"
    now: tuple[str, ...]  # a clause saying these does not go on with an earlier past story
    reported: tuple[str, ...]  # 他说, 听说, my friend said
    not_reported: tuple[str, ...]  # look-alikes: 跟他说 (the speaker told him)
    others: tuple[str, ...]  # third parties as subjects: 我邻居, 他, my mom, she
    not_others: tuple[str, ...]  # look-alikes: 其他, 他妈的
    self: tuple[str, ...]  # the speaker or the person spoken to: 我, 您, I, you
    questions: tuple[str, ...]  # 是否, 难道; English: openers of an inverted question
    not_questions: tuple[str, ...]  # look like A-not-A but do not ask: 差不多, 对不起
    requests: tuple[str, ...]  # make a question a request: 能不能, 麻烦你, please, could you
    # A clause ending in a tag (好吗, "okay") that also says an imperative (别, 不要, "stop")
    # is a request too: "你们不要再打这个号码了好吗".
    tags: tuple[str, ...]
    imperatives: tuple[str, ...]


# Keys of `clauses:` in pack.yaml, in the order the docs list them.
CLAUSE_KEYS = tuple(f.name for f in fields(ClauseWords))

DEFAULT_CLAUSE_WORDS: dict[str, ClauseWords] = {
    "zh": ClauseWords(
        conditional=("如果", "要是", "假如", "假设", "万一", "若是", "倘若", "如若", "要不是"),
        conditional_end=("的话",),
        not_conditional=("的话费", "的话单", "的话术", "的话筒", "说的话", "讲的话", "主要是",
                         "需要是", "只要是", "还要是", "不要是"),
        consequent=("就", "那就", "那么", "那我", "那你", "那我们", "我就", "我们就", "你就",
                    "你们就", "他就", "她就", "我也就", "便"),
        connectives=("要不然", "不然", "否则", "不然的话", "要不然的话"),
        past=("去年", "前年", "上次", "上回", "以前", "之前", "那次", "那回", "那时", "那时候",
              "当时", "当初", "上个月", "上周", "上礼拜", "上星期", "前几天", "前段时间",
              "那会儿", "曾经", "过"),
        not_past=("过来", "过去", "不过", "超过", "经过", "通过", "过会", "过一会", "过两天",
                  "过几天", "过期", "难过", "过分", "错过", "度过", "路过", "过年", "过日子",
                  "过户", "过滤", "过程", "太过", "过后", "过头", "过奖", "过问", "过敏",
                  "过节", "过量", "过度", "过失", "过了今天", "过了这", "过不去", "过得",
                  "再说", "再见", "再次确认"),
        now=("现在", "马上", "立刻", "今天", "这次", "这回", "以后", "今后", "再", "还要", "就要",
             "一会儿", "待会"),
        reported=("听说", "据说", "听人说", "听别人说", "说是", "他说", "她说", "他们说",
                  "她们说", "人家说", "别人说", "有人说", "他讲", "她讲",
                  *(f"{p}{k}说" for p in ("我", "我的", "我家") for k in _ZH_KIN)),
        not_reported=("跟他说", "和他说", "对他说", "给他说", "跟她说", "和她说", "对她说",
                      "跟他们说", "和他们说", "对他们说", "听他说完", "跟人家说", "别人说什么"),
        others=("他", "她", "他们", "她们", "人家", "别人", "有人", "有个人", "那个人",
                *_ZH_ALONE, *(p + k for p in _ZH_POSSESSIVE for k in _ZH_KIN)),
        not_others=("其他", "其它", "他妈的", "她妈的", "吉他", "我的妈呀", "我的妈", "妈呀",
                    "别人家的"),
        self=("我", "我们", "咱", "咱们", "俺", "本人", "你", "您", "你们"),
        questions=("是否", "难道", "对吧", "是吧"),
        not_questions=("差不多", "对不起", "了不起", "来不及", "说不定", "受不了", "忍不住",
                       "禁不住", "好不容易", "不知不觉", "要不然", "一不小心"),
        requests=("能不能", "可不可以", "可以不可以", "能否", "麻烦你", "麻烦您", "请你",
                  "请您", "求你", "求求你", "拜托"),
        tags=("好吗", "好不好", "行吗", "行不行", "可以吗", "成吗", "好吧", "行吧", "听到没有",
              "听见没有", "知道吗", "明白吗", "懂吗"),
        imperatives=("别", "不要", "甭", "不许", "不准", "少", "给我", "帮我", "把我"),
    ),
    "en": ClauseWords(
        conditional=("if", "unless", "in case", "what if", "suppose", "supposing", "let's say",
                     "say i", "say you", "say we", "say it", "assuming", "as long as"),
        conditional_end=(),
        not_conditional=("i suppose", "as if", "even if it's", "if you don't mind",
                         "if you like"),
        consequent=("then", "i'll", "i will", "i'm going to", "i am going to", "i'm gonna",
                    "we'll", "we will", "i'd", "i would", "you'll", "you will"),
        connectives=("otherwise", "or else"),
        past=("last year", "last month", "last week", "last time", "used to", "back then",
              "years ago", "months ago", "weeks ago", "a while ago", "a year ago", "yesterday",
              "previously", "at the time", "that time", "once", "did"),
        not_past=("once you", "once i", "once we", "once it", "once the", "once more",
                  "once again", "at once", "once a", "didn't", "did not", "did you", "did i"),
        now=("now", "today", "again", "will", "going to", "gonna", "from now on", "this time",
             "next time", "i'll", "we'll", "you'll", "i'm"),
        reported=("i heard", "heard that", "i was told", "apparently", "according to",
                  "he said", "she said", "they said", "he says", "she says", "they say",
                  "he told me", "she told me", "they told me",
                  *(f"{p} {k} {v}" for p in ("my", "a") for k in _EN_KIN
                    for v in ("said", "says", "told me"))),
        not_reported=(),
        others=("he", "she", "they", "he's", "she's", "they're", "he'll", "she'll", "they'll",
                "someone", "somebody", "people",
                *(f"{p} {k}" for p in _EN_POSSESSIVE for k in _EN_KIN)),
        not_others=("they said you", "people like you"),
        self=("i", "i'm", "i'll", "i've", "i'd", "we", "we're", "we'll", "we've", "me", "my",
              "you", "you're", "you'll", "your"),
        questions=(*(f"{a} {s}" for a in _EN_AUX for s in _EN_SUBJECTS),
                   *(f"{w} {a}" for w in _EN_WH for a in _EN_WH_NEXT), "isn't it"),
        not_questions=("will you be",),
        requests=("please", "can you", "could you", "would you", "will you", "won't you",
                  "can u", "would you mind"),
        tags=("okay", "ok", "alright", "all right", "will you", "would you", "please",
              "got it", "understand"),
        imperatives=("don't", "do not", "stop", "never", "quit", "take", "remove", "put",
                     "leave", "cancel", "delete"),
    ),
}

# English words that may come before an inverted question's opener: "so is it…", "ok will you…"
_EN_LEAD = frozenset(("so", "and", "but", "then", "well", "ok", "okay", "oh", "wait", "sorry",
                      "hey", "hi", "uh", "um", "now", "also", "just", "hang", "on", "like",
                      "yeah", "yes", "no"))
# A command word after one of these is no command: "will you stop", "to take", "it'll stop".
_EN_NOT_A_COMMAND = frozenset((
    *_EN_SUBJECTS, *_EN_AUX, "to", "not", "just", "really",
    "also", "even", "still", "ever", "always", "actually", "simply", "gonna", "wanna", "gotta",
    "i'll", "you'll", "we'll", "they'll", "he'll", "she'll", "it'll", "i'd", "you'd", "we'd",
    "they'd", "must", "might", "please", "and", "or", "people", "y'all", "yall",
    "dont", "cant", "wont", "didnt", "doesnt", "isnt", "arent",
))
_A_NOT_A = re.compile(r"(\w)[不没]\1")
# A person right after one of these is an object, not the clause's subject: "坐席就给您办了"
# is still the story of the clause before it.
_ZH_PREPOSITIONS = frozenset("给跟和对帮为向把让叫替")
_EN_PREPOSITIONS = frozenset(("to", "for", "with", "at", "from", "about", "of"))


def clause_words(language: str, overrides: Mapping[str, Sequence[str]] | None = None
                 ) -> ClauseWords:
    """A language's default lists, with a pack's replacements."""
    base = DEFAULT_CLAUSE_WORDS.get(language, DEFAULT_CLAUSE_WORDS["zh"])
    if not overrides:
        return base
    values = {name: tuple(overrides.get(name, getattr(base, name))) for name in CLAUSE_KEYS}
    return ClauseWords(**values)


@dataclass(frozen=True)
class Clause:
    """One clause of a turn (a span of its match text) and what it is."""

    start: int
    end: int
    question: bool = False
    request: bool = False  # a question that asks for an action ("能不能别再打了")
    conditional: bool = False
    past: bool = False
    reported: bool = False
    about: str = "self"  # "other" when its subject is a third party

    def labels(self) -> tuple[str, ...]:
        """What is special about the clause, as `check --show-matches` prints it."""
        found = [name for name in ("question", "request", "conditional", "past", "reported")
                 if getattr(self, name)]
        if self.about == "other":
            found.append("about other")
        return tuple(found)


class _Finder:
    """Words of several kinds, found leftmost-longest in one pass; look-alikes (kind None)
    hide the words inside them ("其他" is not "他", "打过来" is not "打过"). A word listed
    under two kinds keeps the first (look-alikes should come first)."""

    def __init__(self, kinds: Sequence[tuple[str | None, Sequence[str]]], by_words: bool
                 ) -> None:
        self.by_words = by_words
        kind_of: dict[str, str | None] = {}
        for kind, words in kinds:
            for word in words:
                key = " ".join(word.lower().split()) if by_words else "".join(word.split())
                if key and key not in kind_of:
                    kind_of[key] = kind
        self.words = list(kind_of)
        self.kinds = [kind_of[w] for w in self.words]
        longest = ahocorasick_rs.MatchKind.LeftmostLongest
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.words, matchkind=longest) if self.words else None
        )

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """(kind, start, end) of every word found, look-alikes left out."""
        if self.automaton is None:
            return []
        found = []
        for index, start, end in self.automaton.find_matches_as_indexes(text):
            kind = self.kinds[index]
            if kind is None:
                continue
            if self.by_words and not _whole_words(text, start, end):
                continue
            found.append((kind, start, end))
        return found


_MENTION_MARKS = ("@", "#", "＠", "＃")


def _addressed(turn: NormalizedTurn, starts: Sequence[int]) -> frozenset[int]:
    """The clauses of a written turn that open with an @-mention (the normaliser starts a
    clause at each "@", "＠" folded to it, and keeps it) or a #tag (it cuts a clause at "#"):
    "…last year @ Consumer Council" names whom the writer calls in. A "#" closing a tag
    ("#315 Exposure# they…") opens nothing."""
    text, original = turn.text, turn.original
    if not any(mark in original for mark in _MENTION_MARKS):
        return frozenset()
    found = set()
    for number, start in enumerate(starts):
        if start >= len(text):
            continue
        if text[start] == "@":
            found.add(number)
            continue
        before = original[: turn.to_original(start, start + 1)[0]].rstrip()
        if before.endswith(("#", "＃")) and (before.count("#") + before.count("＃")) % 2:
            found.add(number)
    return frozenset(found)


def _whole_words(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "'") and not (after.isalnum() or after == "'")


# Distinct turns whose clauses a reader remembers (it forgets them all when full).
CLAUSES_KEPT = 16384


class _TurnScope:
    """What a reader has worked out of one turn so far: each part the first time asked."""

    __slots__ = ("asking", "clauses", "starts")

    def __init__(self, starts: tuple[int, ...]) -> None:
        self.starts = starts
        self.asking: tuple[frozenset[int], frozenset[int]] | None = None  # (asked, requests)
        self.clauses: tuple[Clause, ...] | None = None


class ClauseReader:
    """Reads the clauses of a pack's turns; built once per pack from its word lists."""

    def __init__(self, language: str, words: ClauseWords | None = None) -> None:
        self.language = language
        self.words = words or clause_words(language)
        w = self.words
        by_words = language == "en"
        self.by_words = by_words
        self._cuts = _Finder([(None, w.not_conditional), ("connective", w.connectives),
                              ("open", w.conditional), ("close", w.conditional_end)], by_words)
        self._consequent = _Finder([("then", w.consequent)], by_words)
        self._time = _Finder([(None, w.not_past), ("past", w.past), ("now", w.now)], by_words)
        self._people = _Finder([(None, (*w.not_others, *w.not_reported)),
                                ("reported", w.reported), ("other", w.others),
                                ("self", w.self)], by_words)
        self._asks = _Finder([(None, w.not_questions), ("request", w.requests),
                              ("question", w.questions), ("tag", w.tags),
                              ("imperative", w.imperatives)], by_words)
        self._kept: dict[str, _TurnScope] = {}
        self._lock = threading.Lock()
        self.turns_cut = 0  # distinct turns whose clauses were cut (a pack not asking: 0)
        not_questions = sorted(set(w.not_questions), key=len, reverse=True)
        self._not_questions = (
            re.compile("|".join(re.escape(q) for q in not_questions)) if not_questions else None
        )

    # -- what matchers ask ------------------------------------------------------------

    def start_at(self, turn: NormalizedTurn, position: int) -> int:
        """Where the clause holding a match-text position starts."""
        starts = self._scope(turn).starts
        return starts[bisect_right(starts, position) - 1]

    def asks_at(self, turn: NormalizedTurn, position: int) -> bool:
        """Whether the clause holding a match-text position is a question (not a request):
        what `questions: false` needs, without the rest of the clause's features."""
        scope = self._scope(turn)
        if scope.asking is None:
            scope.asking = self._asking(turn, scope.starts)
        number = bisect_right(scope.starts, position) - 1
        asked, requests = scope.asking
        return number in asked and number not in requests

    def clause_at(self, turn: NormalizedTurn, position: int) -> Clause:
        """The clause holding a match-text position, with its features."""
        scope = self._scope(turn)
        clauses = self._clauses_of(turn, scope)
        return clauses[bisect_right(scope.starts, position) - 1]

    def clauses(self, turn: NormalizedTurn) -> tuple[Clause, ...]:
        """Every clause of the turn, in order."""
        return self._clauses_of(turn, self._scope(turn))

    def _clauses_of(self, turn: NormalizedTurn, scope: _TurnScope) -> tuple[Clause, ...]:
        if scope.clauses is None:
            if scope.asking is None:
                scope.asking = self._asking(turn, scope.starts)
            scope.clauses = self._read(turn, scope.starts, scope.asking)
        return scope.clauses

    def _scope(self, turn: NormalizedTurn) -> _TurnScope:
        key = turn.marked
        scope = self._kept.get(key)
        if scope is None:
            scope = _TurnScope(self._cut(turn))
            with self._lock:
                if len(self._kept) >= CLAUSES_KEPT:
                    self._kept.clear()
                self._kept[key] = scope
        return scope

    # -- cutting --------------------------------------------------------------------------

    def _cut(self, turn: NormalizedTurn) -> tuple[int, ...]:
        """Clause starts: punctuation clauses, cut again at conditionals and connectives."""
        self.turns_cut += 1
        text = turn.text
        cuts = set(turn.clause_starts)
        opens: list[int] = []
        for kind, start, end in self._cuts.find(text):
            if kind == "open":
                cuts.add(start)
                opens.append(end)
            elif kind == "close":
                cuts.add(end)
            else:  # a connective stands alone: what follows is a clause of its own
                cuts.add(start)
                cuts.add(end + 1 if text[end : end + 1] == " " else end)
        if opens:
            ordered = sorted(cuts)
            for opened in opens:
                # The then-part starts at the first consequent word inside the if-part's clause
                # (one word on, in English: "if I'd known" is still the if-part).
                following = [c for c in ordered if c > opened]
                limit = following[0] if following else len(text)
                begin = opened + 1
                if self.by_words:
                    space = text.find(" ", opened + 1)
                    begin = space + 1 if 0 <= space < limit else limit
                region = text[begin:limit]
                then = self._consequent.find(region)
                if then:
                    cuts.add(begin + then[0][1])
        if self.by_words:
            cuts |= self._commands_after_questions(text, sorted(cuts))
        return tuple(sorted(c for c in cuts if c < len(text) or c == 0))

    def _commands_after_questions(self, text: str, starts: list[int]) -> set[int]:
        """Unpunctuated speech runs a question into a command: "who is this take me off your
        list", "are you deaf i said dont call me again". A clause that opens as a question
        is cut where a command word starts that no subject, auxiliary or "to" leads ("is it
        true you'll stop calling me" stays one question)."""
        found: dict[int, list[tuple[str, int]]] = {}
        for kind, start, _ in self._asks.find(text):
            if kind in ("question", "imperative"):
                number = bisect_right(starts, start) - 1
                found.setdefault(number, []).append((kind, start))
        cuts: set[int] = set()
        for number, words in found.items():
            first_kind, first_at = words[0]
            if first_kind != "question" or not self._at_clause_start(text, starts[number],
                                                                     first_at):
                continue
            for kind, start in words[1:]:
                before = text[starts[number] : start].split()
                if kind == "imperative" and before and before[-1] not in _EN_NOT_A_COMMAND:
                    cuts.add(start)
                    break
        return cuts

    # -- features -------------------------------------------------------------------------

    def _asking(
        self, turn: NormalizedTurn, starts: tuple[int, ...]
    ) -> tuple[frozenset[int], frozenset[int]]:
        """The clauses that ask, and those that request (by index)."""
        text = turn.text
        ends = [*starts[1:], len(text)]

        def clause_of(position: int) -> int:
            return bisect_right(starts, position) - 1

        # A punctuation clause that asks: its last piece is the question.
        asked: set[int] = set()
        base = turn.clause_starts
        for index in turn.question_clauses:
            following = base[index + 1] if index + 1 < len(base) else len(text)
            asked.add(clause_of(max(base[index], following - 1)))
        requests: set[int] = set()
        lookalike_spans = []
        imperative: set[int] = set()
        for kind, start, end in self._asks.find(text):
            number = clause_of(start)
            if kind == "request":
                requests.add(number)
            elif kind == "imperative":
                imperative.add(number)
            elif kind == "tag":
                if number in imperative and not text[end : ends[number]].strip():
                    requests.add(number)
            elif not self.by_words or self._at_clause_start(text, starts[number], start):
                asked.add(number)
        if not self.by_words and ("不" in text or "没" in text):
            lookalike_spans = self._lookalikes(text)
            for match in _A_NOT_A.finditer(text):
                if not any(s <= match.start() and match.end() <= e for s, e in lookalike_spans):
                    asked.add(clause_of(match.start()))
        return frozenset(asked), frozenset(requests)

    def _read(
        self,
        turn: NormalizedTurn,
        starts: tuple[int, ...],
        asking: tuple[frozenset[int], frozenset[int]],
    ) -> tuple[Clause, ...]:
        text = turn.text
        count = len(starts)
        ends = [*starts[1:], len(text)]
        asked, requests = asking

        def clause_of(position: int) -> int:
            return bisect_right(starts, position) - 1

        conditional: set[int] = set()
        for kind, start, _ in self._cuts.find(text):
            if kind in ("open", "close"):
                conditional.add(clause_of(start))
        time: list[list[str]] = [[] for _ in range(count)]
        for kind, start, _ in self._time.find(text):
            time[clause_of(start)].append(kind)
        subject: list[str | None] = [None] * count
        reported: set[int] = set()
        for kind, start, _ in self._people.find(text):
            number = clause_of(start)
            if kind != "reported" and self._after_preposition(text, starts[number], start):
                continue
            if kind == "reported":
                reported.add(number)
                if subject[number] is None:
                    subject[number] = "other"
            elif subject[number] is None:
                subject[number] = kind
        addressed = _addressed(turn, starts)
        clauses: list[Clause] = []
        about, was_past, was_reported = "self", False, False
        for number in range(count):
            said = time[number]
            past = bool(said) and said[-1] == "past"
            if number in addressed and subject[number] is None:
                # "…they cut me off last year. @Consumer Council": a mention calls someone
                # in; it does not go on with the story before it.
                about, is_reported = "self", number in reported
            elif subject[number] is None:  # no subject of its own: the story goes on
                past = past or (was_past and not said)
                is_reported = number in reported or was_reported
            else:
                about = subject[number] or "self"
                is_reported = number in reported
            clause = Clause(
                start=starts[number],
                end=ends[number],
                question=number in asked and number not in requests,
                request=number in requests,
                conditional=number in conditional,
                past=past,
                reported=is_reported,
                about=about,
            )
            clauses.append(clause)
            was_past, was_reported = past, is_reported
        return tuple(clauses)

    def _after_preposition(self, text: str, clause_start: int, position: int) -> bool:
        if position <= clause_start:
            return False
        if not self.by_words:
            return text[position - 1] in _ZH_PREPOSITIONS
        before = text[clause_start:position].split()
        return bool(before) and before[-1] in _EN_PREPOSITIONS

    def _lookalikes(self, text: str) -> list[tuple[int, int]]:
        """Spans of the words that look like A-not-A questions but do not ask."""
        if self._not_questions is None:
            return []
        return [m.span() for m in self._not_questions.finditer(text)]

    @staticmethod
    def _at_clause_start(text: str, clause_start: int, position: int) -> bool:
        """English openers count only first in their clause, after words like "so", "ok"."""
        lead = text[clause_start:position].split()
        return all(word in _EN_LEAD for word in lead)
