"""Homophone keys: Chinese text rewritten so that characters that sound alike are equal.

Speech recognition writes "自费" for "资费" and "退定" for "退订". Each Chinese character is
replaced by one private-use character per toneless pinyin syllable, so the key has the
same length as the text and a match in the key is a match at the same span of the text.
"""

from __future__ import annotations

from functools import lru_cache

_PRIVATE_USE = 0xF0000  # plane 15: never appears in real transcripts


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    from pypinyin import Style, lazy_pinyin

    chars = [chr(code) for code in range(0x4E00, 0xA000)]
    syllables = lazy_pinyin(chars, style=Style.NORMAL, errors="default")
    codes: dict[str, str] = {}
    table: dict[int, str] = {}
    for char, syllable in zip(chars, syllables, strict=False):
        if syllable == char:  # no reading known: keep the character itself
            continue
        code = codes.setdefault(syllable, chr(_PRIVATE_USE + len(codes)))
        table[ord(char)] = code
    return table


def homophone_key(text: str) -> str:
    """The text with each Chinese character replaced by its sound (same length)."""
    return text.translate(_table())
