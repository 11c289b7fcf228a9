"""The whole-call normaliser gives every turn exactly what the one-turn reference gives."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model import Call
from engine.text.normalize import Normalizer
from engine.transcripts import load_calls
from tests.reference_normalize import reference_normalize

REPO = Path(__file__).resolve().parent.parent
NORMALIZERS = {"zh": Normalizer("zh"), "en": Normalizer("en")}
# Characters that exercise every branch: clause ends, questions and particles, kept
# punctuation, fillers, digits, Latin words, traditional characters, and characters whose
# NFKC or lower case changes length (é + combining accent, İ, ①, ²).
PIECES = [*"ab zZ1239.,:_'%？?。，！、吗么不是呃嗯額這個\n\t-İΣé①²⓿٣Ａ１　：\u0301\x1f\x1e\x1d",
          *"한ßx5", "um", "umm", "er", "hmm", "，呃，"]
TRICKY = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


def assert_same_as_reference(language: str, texts: list[str]) -> None:
    turns = NORMALIZERS[language].normalize_call(texts)
    assert len(turns) == len(texts)
    for text, turn in zip(texts, turns, strict=True):
        expected = reference_normalize(language, text)
        assert turn.original == text
        assert turn.text == expected.text, text
        assert turn.clause_starts == expected.clause_starts, text
        assert turn.question_clauses == expected.question_clauses, text
        assert _as_runs(turn.segments) == _as_runs(expected.segments), text


def _as_runs(segments: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """The map back to folded positions, without entries that only continue the run before
    them (the reference starts a new one at each space it keeps between Latin words)."""
    runs: list[tuple[int, int]] = []
    for match_at, folded_at in segments:
        if runs and runs[-1][1] + (match_at - runs[-1][0]) == folded_at:
            continue
        runs.append((match_at, folded_at))
    return runs


@settings(max_examples=400)
@given(st.lists(st.one_of(TRICKY, st.text(max_size=20)), min_size=1, max_size=6))
def test_any_turns_normalise_as_the_reference_does(texts: list[str]):
    for language in NORMALIZERS:
        assert_same_as_reference(language, texts)


def test_every_bundled_transcript_normalises_as_the_reference_does():
    checked = 0
    for call in load_calls([str(REPO / "transcripts")]):
        if isinstance(call, Call):
            assert_same_as_reference(call.language, [t.text for t in call.turns])
            checked += 1
    assert checked > 100


def test_a_turn_alone_is_the_same_as_within_its_call():
    zh = NORMALIZERS["zh"]
    texts = ["您好，請問是機主嗎？", "是的。", "这个业务绝对，呃，免费"]
    alone = [zh.normalize(t) for t in texts]
    together = zh.normalize_call(texts)
    assert [t.text for t in alone] == [t.text for t in together]
    assert together[0].text == "您好请问是机主吗"
    assert together[0].is_question_at(together[0].text.index("机主"))
    assert together[2].text == "这个业务绝对免费"
