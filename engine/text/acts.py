"""Dialogue acts and answers: what each turn does, and which question a customer answers.

Every turn is typed with a set of **act types** (ACT_TYPES): a yes/no question, an A-not-A
question (开不开 / 好不好), a tag question (…，行吗？ / …, all right?), an open question, a
permission request (现在方便吗 / do you have a minute), an offer (给您开通好吗 / would you
like…), a proposal — an act announced, not done (那我现在帮您办上哈 / let me go ahead and add
it) — a completed act (已经帮您办理成功了 / you're all set), a hypothetical or conditional
(要是用不惯… / say I cancel later…) and reported speech (他说… / you told me…).

Every customer turn is then linked to the agent question it answers (`link_answers`) and the
answer is classed accept / refuse / hedge / other, echo answers included ("开不开？" — "开").

The words behind each decision are a per-language `ActLexicon` (defaults below, extended or
trimmed in pack.yaml under `acts:`). Nothing here runs unless a rule asks: a pack's
`ActReader` types a turn the first time a rule needs it and remembers it by text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import ahocorasick_rs

from engine.text.english import phrase_variants
from engine.text.normalize import NormalizedTurn

ACT_TYPES: tuple[str, ...] = (
    "yes_no_question",
    "a_not_a_question",
    "tag_question",
    "open_question",
    "permission_request",
    "offer",
    "proposal",
    "completed",
    "hypothetical",
    "reported_speech",
)
# The acts that ask: a customer turn after one of them is read as its answer.
QUESTION_ACTS = frozenset({"yes_no_question", "a_not_a_question", "tag_question", "open_question"})
ANSWER_CLASSES: tuple[str, ...] = ("accept", "refuse", "hedge", "other")
REACH = 4  # turns looked back from an answer for the question it answers

# The word lists of a lexicon, each overridable in pack.yaml (`acts:`).
LEXICON_KEYS: tuple[str, ...] = (
    "tags",             # words that end a tag question: 行吗, 好不好, all right, okay
    "wh_words",         # words of an open question: 什么, 怎么, what, how
    "permission",       # asking for time: 方便, 耽误您, a minute, a good time
    "offer",            # offering the product, inside a question: 开通, 办理, would you like
    "proposal",         # announcing the act: 给您开通一下, let me go ahead and
    "completed",        # reporting it done: 已经开通, 办好了, you're all set
    "hypothetical",     # 要是, 如果, 的话, if, say i, suppose
    "reported_speech",  # 听说, 他说, you said, told me
    "accept",           # 好的, 可以, 那就办吧, yes, sure, go ahead
    "refuse",           # 不要, 不用, 算了, no, nope, not interested
    "hedge",            # 考虑, 再说, 发短信, let me think, send me something, i guess
    "busy",             # 在开车, 说不了, i'm driving, not a good time: a refusal of permission
    "back_channel",     # 哦, 啊, uh huh, i see: neither yes nor no
)

_ZH = {
    "tags": ["行吗", "好吗", "可以吗", "行不行", "好不好", "可不可以", "可以不", "行不", "好不",
             "对吧", "是吧", "对吗", "是吗", "对不对", "是不是", "成吗", "中不中", "中吗",
             "怎么样", "您看呢", "你看呢", "好吧", "行吧", "可以吧", "没问题吧", "好伐", "行啵"],
    "wh_words": ["什么", "怎么", "为什么", "哪", "谁", "几", "多少", "啥", "咋"],
    "permission": ["方便", "耽误您", "耽误你", "占用您", "占用你", "打扰您", "打扰你", "有空",
                   "有时间", "一分钟", "两分钟", "几分钟", "一会儿", "说两句", "聊两句", "讲两句",
                   "听我说", "听我介绍", "听我讲", "简单介绍", "借您"],
    "offer": ["开通", "办理", "办一", "办个", "开一", "开个", "办不办", "开不开", "订不订",
              "给您开", "帮您开", "为您开", "给您办", "帮您办", "给你开", "给你办", "订购",
              "订一", "订个", "试试", "试一下", "体验一下", "加上", "要不要", "需要开通", "需要办",
              "需要给您", "需要帮您", "需要这个", "需要吗", "感兴趣",
              "有兴趣", "考虑一下", "升级", "办上", "开上", "来一个", "来一份"],
    "proposal": ["给您开通一下", "帮您开通一下", "为您开通一下", "给您办一下", "帮您办一下",
                 "给您开一下", "帮您开一下", "给您登记一下", "帮您登记一下", "给您申请一下",
                 "帮您申请一下", "帮您办上", "给您办上", "给您开上", "帮您开上", "给您加上",
                 "帮您加上", "给您订上", "帮您订上", "马上给您", "马上帮您", "马上为您",
                 "现在给您", "现在帮您", "现在为您", "这就给您", "这就帮您", "这边给您",
                 "这边帮您", "这边为您", "我给您开", "我帮您开", "我给您办", "我帮您办",
                 "那我给您", "那我帮您", "先给您开", "先帮您开", "先给您办", "先帮您办"],
    "completed": ["已经开通", "已经办理", "已经办好", "已经为您", "已经给您", "已经帮您",
                  "已为您", "已给您", "已帮您", "已经生效", "已经登记", "已经订", "已经加上",
                  "开通成功", "办理成功", "订购成功", "成功开通", "成功办理", "开通了", "办理了",
                  "办好了", "开好了", "开上了", "办上了", "加上了", "订上了", "订好了",
                  "登记上了", "登记好了", "生效了", "给您开了", "给您办了", "帮您开了",
                  "帮您办了", "搞定了", "弄好了", "操作好了", "处理好了", "给您保留着",
                  "给您留着", "继续保留"],
    "hypothetical": ["要是", "如果", "假如", "万一", "假设", "的话", "倘若", "一旦", "不然",
                     "要不然", "否则"],
    "reported_speech": ["听说", "据说", "跟我说", "和我说", "对我说", "告诉我",
                        "他说", "她说", "你说过", "您说过", "你刚才说", "您刚才说", "他们说",
                        "你们说", "人家说", "客服说", "上次说", "之前说", "当时说", "他讲",
                        "她讲"],
    "accept": ["好", "行", "中", "成", "是", "对", "要", "开", "办", "可以", "好的", "好啊",
               "好呀", "好嘞", "好滴", "行啊", "得嘞", "没问题", "同意", "愿意", "是的", "是啊",
               "对的", "对啊", "没错", "就是", "我是", "是我", "我就是", "本人", "我本人",
               "要的", "需要", "那就办", "那就开", "那就订",
               "那就这样", "也行", "那也行", "办吧", "开吧", "订吧", "开通吧", "办理吧", "来吧",
               "来一个",
               "给我开", "给我办", "帮我开", "帮我办", "确认", "确定", "方便", "你说",
               "您说", "说吧", "讲吧", "请讲", "请说", "说说", "讲讲", "快说", "快点说",
               "你讲", "您讲", "先说", "妥", "可以的", "OK", "ok"],
    "refuse": ["不", "没", "别", "不要", "不用", "不必", "不行", "不好", "不了", "不办", "不开",
               "不订", "不想", "不需要", "不感兴趣", "没兴趣", "没需要", "算了", "拒绝",
               "不同意", "不是", "不对", "不方便", "不可以", "免了", "没有", "用不着",
               "不考虑", "没打算"],
    "hedge": ["考虑", "想想", "想一想", "再说", "回头再", "以后再", "改天", "看看吧", "看情况",
              "不确定", "不知道", "说不好", "不好说", "问问家里", "问问我", "商量", "发短信",
              "发个短信",
              "发信息", "发给我看看", "随便", "看着办", "都行", "到时候", "先不", "等等",
              "犹豫", "再看", "没想好", "还没定", "定不下来", "琢磨"],
    "busy": ["开车", "在忙", "忙着", "很忙", "正忙", "开会", "上班", "没空", "没时间",
             "说不了", "不方便说", "晚点打", "晚点再", "稍后打", "回头打", "一会再打",
             "等会再说", "在外面", "睡觉", "在吃饭", "做饭", "在洗澡", "带孩子"],
    "back_channel": ["哦", "噢", "喔", "啊", "哈", "额", "呃", "这样啊", "哦哦", "啊啊", "喂",
                     "不好意思", "不客气", "没关系", "没事", "不错"],
}

_EN = {
    "tags": ["right", "all right", "alright", "okay", "ok", "correct", "yeah", "sound good",
             "sounds good", "is that ok", "is that okay", "is that alright", "fair enough",
             "won't you", "will you", "isn't it", "don't you", "wouldn't you", "aren't you",
             "shall we", "yes", "good"],
    "wh_words": ["what", "when", "where", "who", "whom", "which", "why", "how", "what's",
                 "where's", "who's", "how's"],
    "permission": ["good time", "bad time", "a minute", "a moment", "a second", "a few minutes",
                   "couple minutes", "couple of minutes", "two minutes", "quick minute",
                   "your time", "have time", "got time", "is now okay", "is now ok",
                   "is now good", "mind if i", "okay if i", "ok if i", "take a minute",
                   "have a minute", "convenient", "free to talk", "talk now"],
    "offer": ["would you like", "do you want", "want me to", "shall i", "should i",
              "can i go ahead", "may i go ahead", "can i add", "may i add", "sign you up",
              "interested in", "be interested", "are you interested", "give it a try",
              "want to try", "how about", "why don't we", "why don't i", "shall we",
              "should we", "like to add", "like to sign up", "like to try", "like me to",
              "ready to sign", "want to sign up", "set that up", "okay to add", "ok to add",
              "add it", "add that", "activate it", "want it", "like it", "upgrade"],
    "proposal": ["let me go ahead and", "i'll go ahead and", "i will go ahead and",
                 "i'm going to go ahead", "let me add", "let me set", "let me sign",
                 "let me put", "let me activate", "let me get", "i'll add", "i will add",
                 "i'll sign you up", "i'll set you up", "i'll put you down", "i'm going to add",
                 "i'll activate", "i'll get that set up", "let's get you set up",
                 "i'll get you signed up", "i'll turn", "i'll switch you", "let me switch",
                 "i'm adding", "i'm activating", "i'm signing you up", "i'll just add",
                 "i'll just put", "i'll enroll", "let me enroll"],
    "completed": ["you're all set", "you are all set", "you're set up", "you're all set up",
                  "all set up", "i've added", "i have added", "i've activated", "i have activated",
                  "i've signed you up", "i have signed you up", "i've set you up", "i've put you",
                  "i've enrolled", "i've gone ahead and", "has been activated", "has been added",
                  "been set up", "is now active", "is active now", "now active", "it's active",
                  "you're now signed up", "you're signed up", "you're enrolled",
                  "you're now enrolled", "it's been added", "it's been activated",
                  "it's on your account", "it's now on", "added it", "activated it",
                  "signed you up", "i've kept", "will stay on", "stays on your", "it's added",
                  "that's added", "it's been set up", "it's all set", "that's all set"],
    "hypothetical": ["if", "what if", "say i", "say you", "suppose", "supposing", "let's say",
                     "in case", "unless", "should you", "hypothetically", "assuming",
                     "otherwise", "or else"],
    "reported_speech": ["he said", "she said", "they said", "you said", "you told me",
                        "he told me", "she told me", "they told me", "i was told", "told me",
                        "i heard", "according to", "he says", "she says", "they say",
                        "someone said", "said that", "says that", "somebody said",
                        "the last guy said", "your colleague said"],
    "accept": ["yes", "yeah", "yep", "yup", "ya", "sure", "ok", "okay", "alright", "all right",
               "absolutely", "definitely", "of course", "certainly", "go ahead", "sounds good",
               "that works", "please do", "do it", "let's do it", "sign me up", "i agree",
               "i'll take it", "why not", "fine", "that's fine", "correct", "that's right",
               "that's correct", "that's me", "it is", "i am", "i do", "we do", "speaking",
               "this is he", "this is she", "for sure", "sure thing", "you bet", "no problem",
               "no worries", "go for it", "yes please", "i accept", "i'd like that", "shoot",
               "go on", "i have time", "i've got time", "i have a minute", "it's fine",
               "add it", "let's go", "i'm in", "count me in", "deal", "got a minute",
               "got a sec", "got a second", "have a minute", "have a second", "have a sec",
               "got time"],
    "refuse": ["no", "nope", "nah", "no thanks", "no thank you", "not interested",
               "i'm not interested", "i'm not", "it's not", "it isn't", "it is not", "i am not",
               "i don't", "i do not", "we don't", "not really", "i'd rather not", "i'll pass",
               "pass", "don't", "do not", "never", "not now", "not today", "not for me",
               "i decline", "no way", "absolutely not", "not at all", "don't add",
               "don't want", "i never said yes", "i didn't agree", "i did not agree"],
    "hedge": ["let me think", "think about it", "i'll think", "need to think", "maybe",
              "perhaps", "possibly", "not sure", "i'm not sure", "i guess", "i suppose",
              "send me something", "send me", "email me", "mail me", "text me", "send it",
              "i don't know", "dunno", "we'll see", "let me check", "check with", "talk to my",
              "ask my", "discuss it", "later maybe", "maybe later", "whatever", "i'll consider",
              "depends", "not yet", "hold off"],
    "busy": ["driving", "i'm busy", "busy right now", "at work", "in a meeting", "can't talk",
             "cannot talk", "not a good time", "bad time", "call me back", "call back",
             "call later", "another time", "not right now", "in the middle of"],
    "back_channel": ["uh huh", "mhm", "mm hmm", "mmhmm", "mm", "oh", "ah", "huh", "i see",
                     "hm", "uh", "hello", "hi"],
}

DEFAULT_LEXICONS: dict[str, Mapping[str, Sequence[str]]] = {"zh": _ZH, "en": _EN}

# Built in, not lists: the shapes of an A-not-A question and of an English question without
# its "?" (speech recognition drops punctuation).
_A_NOT_A_ZH = re.compile(r"([\u4e00-\u9fff])[不没]\1")  # 开不开, 可不可以, 有没有
# An A-not-A after a verb of finding out is an indirect question ("查有没有开通"), not one
# put to the listener.
_INDIRECT_ZH = re.compile(
    r"(查|问|知道|确认|了解|不管|无论|管它|看看|(?<![您你])看)([\u4e00-\u9fff])[不没]\2"
)
_V_NOT_ZH = re.compile(r"[\u4e00-\u9fff][不没]$")  # 开通不？ 好了没？ (only in a question)
_A_NOT_A_EN = re.compile(r"\bor not$")
_AUX = ("is|are|am|was|were|do|does|did|can|could|will|would|shall|should|may|might|have|has|"
        "isn't|aren't|don't|doesn't|won't|wouldn't|can't|couldn't")
_EN_ASKS = re.compile(
    rf"^(?:so |and |but |okay |ok |well |now )?(?:{_AUX}) (?:i|you|it|we|this|that|there|he|she"
    r"|they|your|the|my|our|now)\b"
    r"|^(?:what|when|where|who|which|why|how)(?:'s| is| are| do| does| did| can| would| will|"
    r" about| much| many| long)\b"
)
# An English echo: "it is", "i do" (accept); "it isn't", "i'm not", "we don't" (refuse).
_EN_ECHO_YES = re.compile(
    rf"^(?:yes |yeah |yep )?(?:i|it|we|he|she|they|that|this|you) (?:{_AUX})$"
)
_EN_ECHO_NO = re.compile(
    r"^(?:no )?(?:i|it|we|he|she|they|that|this|you) (?:(?:is|am|are|do|does|did|can|will|"
    r"have|has|was|were) not|isn't|aren't|don't|doesn't|didn't|can't|won't|haven't|hasn't|"
    r"wasn't|weren't)$|^(?:no )?(?:i'm|it's|that's|we're|he's|she's|they're) not$"
)
# Particles and pronouns trimmed before a Chinese answer is compared with its question.
_ZH_PARTICLES = "吧呀啊的了哈嘞呢啦嘛哟哇噢哦"
_ZH_QUESTION_NOISE = re.compile("[吗么呢吧啊呀]|您看|你看|您|你|请问|那")
_TYPING_KEYS = ("tags", "wh_words", "permission", "offer", "proposal", "completed",
                "hypothetical", "reported_speech")
_ECHO_LENGTH = 4  # an answer this short (characters, after particles) may echo its question
_RHETORICAL = ("咋", "怎么", "哪能", "哪有", "有啥", "有什么")
# "if" meaning "whether" is no conditional: "is it okay if I take a minute?"
_WHETHER_EN = re.compile(r"\b(?:okay|ok|mind|see|wondering|wonder|ask|asking|check|know|sure|"
                         r"alright|right) if\b")
# To an either-or question ("do you have a minute, or is this a bad time?") a bare yes or
# no says nothing: the words after it answer.
_BARE = {"en": frozenset({"yes", "yeah", "yep", "no", "nope", "nah"}),
         "zh": frozenset({"是", "不", "对", "没"})}


@dataclass(frozen=True)
class ActLexicon:
    """The words behind act types and answer classes, for one language."""

    language: str
    words: Mapping[str, tuple[str, ...]]  # LEXICON_KEYS → phrases, in match-text form
    _patterns: dict[str, re.Pattern[str] | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    # The typing lists' automaton and, per phrase, the lists it is in (built on first use).
    _typing: list[tuple[ahocorasick_rs.AhoCorasick | None, list[list[str]]]] = field(
        default_factory=list, compare=False, repr=False
    )

    def pattern(self, key: str) -> re.Pattern[str] | None:
        """One alternation of a list's phrases, longest first (whole words in English)."""
        if key not in self._patterns:
            phrases = sorted({p for p in self.words.get(key, ()) if p}, key=len, reverse=True)
            if not phrases:
                self._patterns[key] = None
            else:
                body = "|".join(re.escape(p) for p in phrases)
                self._patterns[key] = re.compile(
                    rf"(?<![\w'])(?:{body})(?![\w'])" if self.language == "en" else body
                )
        return self._patterns[key]

    def typing_hits(self, text: str) -> list[tuple[str, int, int]]:
        """Every word of the act-typing lists in a turn, overlaps included, in one pass."""
        if not self._typing:
            entries: dict[str, list[str]] = {}
            for key in _TYPING_KEYS:
                for phrase in self.words.get(key, ()):
                    entries.setdefault(phrase, []).append(key)
            automaton = ahocorasick_rs.AhoCorasick(list(entries)) if entries else None
            self._typing.append((automaton, list(entries.values())))
        automaton, keys = self._typing[0]
        if automaton is None:
            return []
        en = self.language == "en"
        hits = []
        for index, start, end in automaton.find_matches_as_indexes(text, overlapping=True):
            if en and not _whole_word(text, start, end):
                continue
            hits.extend((key, start, end) for key in keys[index])
        return hits

    def finds(self, key: str, text: str) -> list[tuple[int, int]]:
        pattern = self.pattern(key)
        return [m.span() for m in pattern.finditer(text)] if pattern is not None else []

    def says(self, key: str, text: str) -> bool:
        pattern = self.pattern(key)
        return pattern is not None and pattern.search(text) is not None


class Shaper(Protocol):
    """What shapes a phrase like the match text (a pack's Normalizer)."""

    def phrase(self, phrase: str) -> str: ...


def make_lexicon(
    language: str,
    shape: Shaper,
    changes: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
    apostrophes: bool = False,
) -> ActLexicon:
    """A language's default lexicon with a pack's additions and removals, every phrase in
    the match-text shape; with `apostrophes` (English), each phrase also written without its
    apostrophes ("i'm not interested" as "im not interested"), as the pack's matchers are."""
    defaults = DEFAULT_LEXICONS.get(language, _ZH)
    words: dict[str, tuple[str, ...]] = {}
    for key in LEXICON_KEYS:
        added, removed = (changes or {}).get(key, ((), ()))
        gone = {shape.phrase(p) for p in removed}
        listed = [shape.phrase(p) for p in (*defaults.get(key, ()), *added)]
        kept = [p for p in listed if p and p not in gone]
        if apostrophes and language == "en":
            kept = [v for p in kept for v in phrase_variants(p, False, False, True)]
        words[key] = tuple(dict.fromkeys(kept))
    return ActLexicon(language, words)


@dataclass(frozen=True)
class Clause:
    """One clause of a turn, in match-text positions."""

    start: int
    end: int
    asks: bool


@dataclass(frozen=True)
class TurnActs:
    """What one turn does."""

    acts: frozenset[str]
    # (act, start, end): the clause of the turn, in match-text positions, that made each act.
    spans: tuple[tuple[str, int, int], ...] = ()
    # The turn ends in a question: a customer turn after it is read as its answer.
    asks: bool = False
    # The clause asked last (match text), which an echo answer repeats: "开不开" → "开".
    asked: str = ""
    clauses: tuple[Clause, ...] = ()

    def span_of(self, act: str) -> tuple[int, int] | None:
        return next(((s, e) for a, s, e in self.spans if a == act), None)


NO_ACTS = TurnActs(frozenset())


@dataclass(frozen=True)
class Answer:
    """A customer turn read as the answer to an agent's question."""

    turn: int  # the customer's turn
    question: int  # the agent's turn it answers
    answer_class: str  # accept, refuse, hedge or other
    start: int  # the answering words, in the answer turn's match text
    end: int


class Dialogue:
    """A call's turns typed, and each customer turn linked to the question it answers.

    Read lazily: a rule that asks about the answers to a few questions types only the turns
    around them (`answer_at`); `acts` and `answers` read the whole call."""

    def __init__(
        self, reader: ActReader, turns: Sequence[NormalizedTurn], speakers: Sequence[str]
    ) -> None:
        self._reader = reader
        self._turns = turns
        self._speakers = speakers
        self._acts: list[TurnActs | None] = [None] * len(turns)
        self._answers: dict[int, Answer | None] = {}

    def acts_at(self, number: int) -> TurnActs:
        found = self._acts[number]
        if found is None:
            found = self._acts[number] = self._reader.acts_of(self._turns[number])
        return found

    def answer_at(self, number: int) -> Answer | None:
        """The answer a customer turn gives (None: an agent turn, or no answer)."""
        if number not in self._answers:
            self._answers[number] = answer_at(
                self._reader.lexicon, self._turns, self._speakers, self.acts_at, number,
                memo=self._reader.answers_memo(),
            )
        return self._answers[number]

    def answers_to(
        self, question: int, classes: Collection[str] | None = None, reach: int = REACH
    ) -> list[Answer]:
        """The customer's answers to the agent's turn `question` (of these classes): only
        the customer's run of turns right after it can hold them (the agent speaking again
        ends it). A turn without a word of the classes asked for is not read further."""
        found: list[Answer] = []
        speakers = self._speakers
        lexicon = self._reader.lexicon
        wanted = None if classes is None or "other" in classes else frozenset(classes)
        asks: bool | None = None
        customer_spoke = False
        for number in range(question + 1, min(len(self._turns), question + 1 + reach)):
            if speakers[number] != "customer":
                if customer_spoke:
                    break
                continue
            customer_spoke = True
            if wanted is not None and not _may_be(lexicon, self._turns[number].text, wanted):
                continue
            if asks is None:
                asks = self.acts_at(question).asks
            if not asks:
                break
            answer = self.answer_at(number)
            if answer is not None and answer.question == question:
                found.append(answer)
        return found

    @property
    def acts(self) -> tuple[TurnActs, ...]:
        return tuple(self.acts_at(n) for n in range(len(self._turns)))

    @property
    def answers(self) -> tuple[Answer | None, ...]:
        return tuple(self.answer_at(n) for n in range(len(self._turns)))


class ActReader:
    """Types turns with one pack's lexicon, built the first time a rule asks; what a turn's
    text yields is remembered (bounded), as the phrase index remembers its hits."""

    KEPT = 16384

    def __init__(
        self,
        language: str,
        shape: Shaper,
        changes: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None,
        apostrophes: bool = False,
    ) -> None:
        self._recipe = (language, shape, dict(changes or {}), apostrophes)
        self._lexicon: ActLexicon | None = None
        self._kept: dict[str, TurnActs] = {}
        self._answers: dict = {}  # link_answers' memo: what a text yields as an answer
        self._lock = threading.Lock()

    @property
    def lexicon(self) -> ActLexicon:
        if self._lexicon is None:
            self._lexicon = make_lexicon(*self._recipe)
        return self._lexicon

    def acts_of(self, turn: NormalizedTurn) -> TurnActs:
        """The acts of one turn (typed the first time its text is seen)."""
        key = turn.marked
        found = self._kept.get(key)
        if found is None:
            found = type_turn(self.lexicon, turn)
            with self._lock:
                if len(self._kept) >= self.KEPT:
                    self._kept.clear()
                self._kept[key] = found
        return found

    def read(self, turns: Sequence[NormalizedTurn], speakers: Sequence[str]) -> Dialogue:
        """The call's dialogue, typed and linked as rules ask."""
        return Dialogue(self, turns, speakers)

    def answers_memo(self) -> dict:
        if len(self._answers) >= 2 * self.KEPT:
            self._answers.clear()
        return self._answers


def clauses_of(lexicon: ActLexicon, turn: NormalizedTurn) -> list[Clause]:
    """A turn's clauses, each marked when it asks: by "？"/"吗" (the normaliser), by an
    A-not-A shape (开不开), or in English by its first words ("is this…", "do you…")."""
    starts = list(turn.clause_starts)
    questions = set(turn.question_clauses)
    text = turn.text
    if lexicon.language == "zh":
        # The normaliser closes a clause after 么, also inside 怎么 / 什么 ("怎么了？" is
        # one clause, not "怎么" + "了").
        for index in range(len(starts) - 1, 0, -1):
            if text[: starts[index]].endswith(("怎么", "什么", "要么", "那么", "这么")):
                if index in questions:
                    questions.add(index - 1)
                elif index - 1 in questions and index < len(starts):
                    questions.discard(index - 1)
                del starts[index]
                questions = {q - 1 if q > index else q for q in questions if q != index}
    ends = [*starts[1:], len(text)]
    return [Clause(s, e, i in questions or _asks(lexicon, text[s:e]))
            for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if e > s]


def _asks(lexicon: ActLexicon, clause: str) -> bool:
    if lexicon.language == "en":
        return _EN_ASKS.search(clause) is not None or _A_NOT_A_EN.search(clause) is not None
    if "不" not in clause and "没" not in clause:
        return False
    return _A_NOT_A_ZH.search(clause) is not None and _INDIRECT_ZH.search(clause) is None


def _whole_word(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "'") and not (after.isalnum() or after == "'")


def type_turn(lexicon: ActLexicon, turn: NormalizedTurn) -> TurnActs:
    """The act types of one turn, clause by clause."""
    text = turn.text
    if not text:
        return NO_ACTS
    en = lexicon.language == "en"
    clauses = clauses_of(lexicon, turn)
    hits = lexicon.typing_hits(text)
    if en:  # "okay if I…" asks whether: no conditional
        hits = [h for h in hits if not (h[0] == "hypothetical" and text[h[1] : h[2]] == "if"
                                         and _WHETHER_EN.search(text, max(0, h[1] - 12), h[2]))]
    spans: list[tuple[str, int, int]] = []
    conditional = False
    for index, clause in enumerate(clauses):
        first, last = clause.start, clause.end
        inside = [h for h in hits if first <= h[1] and h[2] <= last]
        keys = {h[0] for h in inside}
        found: list[str] = []
        asks = clause.asks
        tag_next = index + 1 < len(clauses) and clauses[index + 1].asks  # "给您开通，好吗？"
        if "hypothetical" in keys:
            found.append("hypothetical")
        if "reported_speech" in keys:
            found.append("reported_speech")
        # An act inside a conditional or someone's report is not done, nor is one in the
        # clause that follows a condition ("如果您同意，就给您开通").
        told = bool(found) or conditional
        if asks:
            words = text[first:last]
            a_not_a = (
                _A_NOT_A_EN.search(words) is not None
                if en
                else _A_NOT_A_ZH.search(words) is not None or _V_NOT_ZH.search(words) is not None
            )
            # A tag ends the clause, after other words of it or of an earlier clause.
            tag = any(k == "tags" and e == last and (index > 0 or s > first)
                      for k, s, e in inside)
            if a_not_a:
                found.append("a_not_a_question")
            if tag:
                found.append("tag_question")
            if not a_not_a and not tag:
                opens = any(k == "wh_words" and (not en or s == first) for k, s, _ in inside)
                found.append("open_question" if opens else "yes_no_question")
        in_question = asks or tag_next
        if in_question and "permission" in keys:
            found.append("permission_request")
        if in_question and not told and "offer" in keys:
            found.append("offer")
        if not asks and not told:
            if "completed" in keys:
                found.append("completed")
            elif not in_question and "proposal" in keys:
                found.append("proposal")
        conditional = "hypothetical" in found
        spans.extend((act, first, last) for act in found)
    acts = frozenset(a for a, _, _ in spans)
    asked_at = [i for i, c in enumerate(clauses) if c.asks]
    # The turn asks when one of its last two clauses does ("…，好吗？您放心").
    asks_last = bool(asked_at) and asked_at[-1] >= len(clauses) - 2
    asked = ""
    if asks_last:
        last = clauses[asked_at[-1]]
        asked = text[last.start : last.end]
    return TurnActs(acts, tuple(spans), asks_last, asked, tuple(clauses))


def answer_at(
    lexicon: ActLexicon,
    turns: Sequence[NormalizedTurn],
    speakers: Sequence[str],
    acts_at: Callable[[int], TurnActs],
    number: int,
    reach: int = REACH,
    memo: dict | None = None,
) -> Answer | None:
    """A customer turn linked to the agent question it answers, and classed.

    The question is the nearest agent turn before it that ends in a question, looking back
    (at most `reach` turns) past the customer's back-channels and earlier words of the same
    answer, and past the agent's own turns while the agent holds the floor (several turns
    in a row). A customer question in between breaks the link, unless the agent asks again.
    What a text yields as an answer (to a question of the same shape) is kept in `memo`.
    """
    if speakers[number] != "customer":
        return None
    memo = {} if memo is None else memo
    turn = turns[number]
    part_key = ("part", turn.marked)
    part = memo.get(part_key, memo)
    if part is memo:
        part = memo[part_key] = _answer_part(lexicon, turn, acts_at(number))
    if part is None:
        return None
    question = _question_before(speakers, acts_at, number, reach)
    if question is None:
        return None
    asked = acts_at(question)
    class_key = ("class", turn.marked, asked.asked, "permission_request" in asked.acts)
    classed = memo.get(class_key)
    if classed is None:
        end, kept = part
        classed = memo[class_key] = classify_answer(lexicon, turn.text[:end], asked, kept)
    return Answer(number, question, *classed)


def _answer_part(
    lexicon: ActLexicon, turn: NormalizedTurn, turn_acts: TurnActs
) -> tuple[int, tuple[Clause, ...]] | None:
    """Where a customer turn's answering words end and the clauses that may answer; None
    when the turn is not an answer (it opens with a question that says nothing)."""
    clauses = turn_acts.clauses
    end = _answer_end(clauses, len(turn.text))
    if end is None:
        # It opens with a question: an answer only when its other clauses say one
        # ("云盘？你先说说吧"), or it hedges in the question ("能先发短信给我看看吗？").
        said = tuple(c for c in clauses if not c.asks)
        if said and classify_answer(lexicon, turn.text, NO_ACTS, said)[0] != "other":
            clauses = said
        elif not any(k == "hedge" for k, _, _ in _longest_hits(lexicon, turn.text, clauses)):
            return None
        end = len(turn.text)
    # Words in a conditional or someone's report do not answer ("他说已经给我开通了").
    aside = {s for a, s, _ in turn_acts.spans if a in ("hypothetical", "reported_speech")}
    return end, tuple(c for c in clauses if c.start < end and c.start not in aside)


def _answer_end(clauses: Sequence[Clause], length: int) -> int | None:
    """Where the answering words end: before the turn's first question (None: it opens
    with one)."""
    for clause in clauses:
        if clause.asks:
            return clause.start or None
    return length


def _may_be(lexicon: ActLexicon, text: str, classes: frozenset[str]) -> bool:
    """Whether a customer turn could be an answer of these classes at all: it says a word
    of one of them (or, for a yes or a no, is short enough to echo the question)."""
    if not text:
        return False
    short = len(text) <= _ECHO_LENGTH + 2 if lexicon.language == "zh" else text.count(" ") < 4
    if "accept" in classes and (short or lexicon.says("accept", text)):
        return True
    if "refuse" in classes and (
        short or lexicon.says("refuse", text) or lexicon.says("busy", text)
    ):
        return True
    return "hedge" in classes and lexicon.says("hedge", text)


def _question_before(
    speakers: Sequence[str], acts_at: Callable[[int], TurnActs], number: int, reach: int
) -> int | None:
    in_agent_run = False  # passing the agent's run of turns just before the answer
    for earlier in range(number - 1, max(-1, number - 1 - reach), -1):
        speaker = speakers[earlier]
        if speaker == "agent":
            if acts_at(earlier).asks:
                return earlier
            in_agent_run = True
            continue
        if in_agent_run or speaker != "customer":
            return None  # the agent's last words, said after the customer spoke, do not ask
        if any(c.asks for c in acts_at(earlier).clauses):
            return None  # a customer question in between
    return None


def classify_answer(
    lexicon: ActLexicon,
    text: str,
    question: TurnActs,
    clauses: Sequence[Clause] | None = None,
) -> tuple[str, int, int]:
    """accept, refuse, hedge or other, with the span of the words that decided it.

    A refusal wins over a hedge, a hedge over an acceptance ("好的，我考虑一下" hedges); to a
    permission request, being busy ("我在开车") refuses unless the answer also says yes.
    """
    whole = (0, len(text))
    if _is_back_channel(lexicon, text):
        return "other", *whole
    clauses = clauses if clauses is not None else [Clause(0, len(text), False)]
    hits = _longest_hits(lexicon, text, clauses)
    echo = _echo(lexicon, text, question.asked, clauses)
    if echo is not None:
        hits.append(echo)
    if " or " in f" {question.asked} " or "还是" in question.asked:
        bare = _BARE.get(lexicon.language, frozenset())
        hits = [h for h in hits if text[h[1] : h[2]] not in bare]
    by_class: dict[str, list[tuple[str, int, int]]] = {}
    for hit in sorted(hits, key=lambda h: h[1]):
        by_class.setdefault(hit[0], []).append(hit)
    accept, busy = by_class.get("accept", []), by_class.get("busy", [])
    refuse = by_class.get("refuse", [])
    strong = [h for h in refuse if not _weak(lexicon, text, h)]
    if strong:
        return "refuse", *strong[0][1:]
    if busy and "permission_request" in question.acts and not accept:
        return "refuse", *busy[0][1:]  # "我在开车" refuses; "你说吧，我在做饭" grants
    if "hedge" in by_class:
        return "hedge", *by_class["hedge"][0][1:]
    # A short "不是" / "no" against a yes: whichever comes first answers ("是 是我 这边信号
    # 不好" says yes; "不是，我是他老婆" says no).
    first = min(accept[:1] + refuse[:1], key=lambda h: h[1], default=None)
    if first is not None:
        return first[0], *first[1:]
    return "other", *whole


def _weak(lexicon: ActLexicon, text: str, hit: tuple[str, int, int]) -> bool:
    """A refusal short enough to occur in passing: one English word, two Chinese
    characters ("不好" in "信号不好"); an echo ("不开") is never weak."""
    words = text[hit[1] : hit[2]]
    if lexicon.language == "en":
        return " " not in words
    return len(words) <= 2


def _is_back_channel(lexicon: ActLexicon, text: str) -> bool:
    """Nothing but back-channel words (or nothing at all: "嗯" is a filler)."""
    if not text.strip():
        return True
    pattern = lexicon.pattern("back_channel")
    return pattern is not None and not pattern.sub("", text).strip()


def _longest_hits(
    lexicon: ActLexicon, text: str, clauses: Sequence[Clause]
) -> list[tuple[str, int, int]]:
    """Every answer word found, overlaps settled for the longest ("没问题" over "没")."""
    found: list[tuple[str, int, int]] = []
    # Back-channel words are looked for too, so that their letters are no answer word:
    # "不好意思" holds "不好".
    for key in ("accept", "refuse", "hedge", "busy", "back_channel"):
        for start, end in lexicon.finds(key, text):
            if any(c.start <= start < c.end for c in clauses):
                found.append((key, start, end))
    found.sort(key=lambda h: (-(h[2] - h[1]), h[1]))
    kept: list[tuple[str, int, int]] = []
    for hit in found:
        if all(hit[2] <= k[1] or k[2] <= hit[1] for k in kept) and _stands_alone(
            lexicon, text, hit, clauses
        ):
            kept.append(hit)
    # A rhetorical negative says yes: "咋不方便", "怎么不行".
    return [h for h in kept if h[0] != "back_channel"
            and not (h[0] == "refuse" and text[: h[1]].endswith(_RHETORICAL))]


def _stands_alone(
    lexicon: ActLexicon, text: str, hit: tuple[str, int, int], clauses: Sequence[Clause]
) -> bool:
    """A one-character Chinese answer word ("好", "不", "中", "开") counts only as a whole
    clause, with its particles: "中" but not "中国", "好吧" but not "好像"."""
    _, start, end = hit
    if lexicon.language == "en" or end - start > 1:
        return True
    clause = next((c for c in clauses if c.start <= start < c.end), None)
    first, last = (clause.start, clause.end) if clause else (0, len(text))
    word = text[start:end]
    # Said again counts as said once: "对对", "好好好".
    return not text[first:start].strip(word) and not text[end:last].strip(word + _ZH_PARTICLES)


def _echo(
    lexicon: ActLexicon, text: str, asked: str, clauses: Sequence[Clause]
) -> tuple[str, int, int] | None:
    """An answer that repeats the question's verb: "开" / "不开" to "开不开", "行" to
    "…行吗", "it is" / "it isn't" to "is it…"."""
    if not asked:
        return None
    for clause in clauses:
        said = text[clause.start : clause.end]
        if lexicon.language == "en":
            if _EN_ECHO_YES.search(said):
                return "accept", clause.start, clause.end
            if _EN_ECHO_NO.search(said):
                return "refuse", clause.start, clause.end
            continue
        said = said.rstrip(_ZH_PARTICLES)
        if not said or len(said) > _ECHO_LENGTH:
            continue
        key = _ZH_QUESTION_NOISE.sub("", asked)
        negative = said[0] in "不没别"
        core = said[1:] if negative else said
        if core and core in key:
            return ("refuse" if negative else "accept"), clause.start, clause.start + len(said)
    return None
