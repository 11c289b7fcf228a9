"""Cantonese and dialect function words read as Mandarin: "佢唔要" matches "他不要".

Two kinds of entry, chosen by length so that offsets stay exact:

* **same length** (冇 → 没, 佢哋 → 他们, 唔要 → 不要): the turn's folded text is rewritten
  character for character, so every position still points at the customer's own words;
* **other lengths** (啥 → 什么, 咋 → 怎么): the turn is left as it is and each phrase holding
  the Mandarin word also gets the dialect form ("为什么" also matches "为啥").

唔 is both a filler ("唔，好的") and Cantonese negation ("唔要", "唔好"). The table maps 唔
only together with the word it negates; a 唔 on its own stays a filler and is dropped.
系 is the Cantonese 是 only after a pronoun or negator ("我系机主", "唔系"): on its own it is
the 系 of 联系, 关系, 系统.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DIALECT: dict[str, str] = {
    # Cantonese, one character for one
    "冇": "没",
    "佢": "他",
    "咗": "了",
    "嘅": "的",
    "啲": "些",
    "睇": "看",
    "畀": "给",
    "喺": "在",
    "嚟": "来",
    "佢哋": "他们",
    "我哋": "我们",
    "你哋": "你们",
    "唔该": "谢谢",
    "边个": "哪个",
    "乜嘢": "什么",
    # 唔 negating the word after it (a lone 唔 is a filler)
    "唔要": "不要",
    "唔好": "不好",
    "唔使": "不用",
    "唔用": "不用",
    "唔想": "不想",
    "唔得": "不行",
    "唔会": "不会",
    "唔识": "不会",
    "唔知": "不知",
    "唔明": "不明",
    "唔系": "不是",
    "唔是": "不是",
    "唔需": "不需",
    "唔同意": "不同意",
    "唔可以": "不可以",
    "唔准": "不准",
    "唔能": "不能",
    "唔买": "不买",
    "唔办": "不办",
    "唔开": "不开",
    "唔订": "不订",
    "唔打": "不打",
    "唔再": "不再",
    "唔感兴趣": "不感兴趣",
    # 系 as 是 only after a pronoun, negator or adverb
    "我系": "我是",
    "你系": "你是",
    "佢系": "他是",
    "他系": "他是",
    "她系": "她是",
    "就系": "就是",
    "都系": "都是",
    "系唔系": "是不是",
    "真系": "真是",
    # Northern and south-western Mandarin
    "俺": "我",
    "俺们": "我们",
    "啥子": "什么",
    "晓得": "知道",
    "木有": "没有",
    "莫得": "没有",
    # Other lengths: the phrase gets the dialect form as a variant
    "啥": "什么",
    "咋": "怎么",
    "咋样": "怎么样",
    "甭": "不用",
    "咩": "什么",
    "咁": "这么",
    "点解": "为什么",
}


@dataclass(frozen=True)
class Dialect:
    """A pack's dialect table, compiled: one rewrite of the text, variants for phrases."""

    # Same-length entries as one alternation, longest first; None when there are none.
    rewrite: re.Pattern[str] | None
    same_length: tuple[tuple[str, str], ...]  # (dialect, Mandarin)
    # (Mandarin, dialect): a phrase holding the Mandarin word also gets the dialect form.
    variants: tuple[tuple[str, str], ...]
    hint: re.Pattern[str] | None  # a character some same-length entry rewrites

    def apply(self, text: str) -> str:
        """The text with each same-length dialect word made Mandarin (same length)."""
        if self.rewrite is None or self.hint is None or self.hint.search(text) is None:
            return text
        table = dict(self.same_length)
        return self.rewrite.sub(lambda m: table[m.group()], text)

    def phrase_variants(self, key: str) -> tuple[str, ...]:
        """A normalised phrase and its dialect forms (the phrase first)."""
        found = [key]
        for mandarin, dialect in self.variants:
            for phrase in list(found):
                if mandarin in phrase:
                    variant = phrase.replace(mandarin, dialect)
                    if variant not in found:
                        found.append(variant)
        return tuple(found)


def compile_dialect(table: Mapping[str, str]) -> Dialect | None:
    """The table (dialect word → Mandarin) compiled; None when it is empty."""
    entries = {k: v for k, v in table.items() if k and v and k != v}
    if not entries:
        return None
    same = sorted(
        ((k, v) for k, v in entries.items() if len(k) == len(v)),
        key=lambda kv: len(kv[0]),
        reverse=True,
    )
    other = tuple((v, k) for k, v in entries.items() if len(k) != len(v))
    rewrite = re.compile("|".join(re.escape(k) for k, _ in same)) if same else None
    # The characters that differ from the Mandarin: a turn without any needs no rewrite.
    marks = {a for k, v in same for a, b in zip(k, v, strict=True) if a != b}
    hint = re.compile("[" + "".join(re.escape(c) for c in sorted(marks)) + "]") if same else None
    return Dialect(rewrite, tuple(same), other, hint)
