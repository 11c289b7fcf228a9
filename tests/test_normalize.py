"""Normalisation: match on folded text, map every match back to the original words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.text import normalize
from engine.text.normalize import Normalizer, fold
from engine.text.pinyin import (
    HOMOPHONES,
    homophone_key,
    read_homophones,
    syllables_from_pypinyin,
    write_homophones,
)

ZH = Normalizer("zh")
EN = Normalizer("en")


def original_of(normalizer: Normalizer, text: str, phrase: str) -> str:
    turn = normalizer.normalize(text)
    key = normalizer.phrase(phrase)
    at = turn.text.find(key)
    assert at >= 0, f"{phrase!r} not found in {turn.text!r}"
    start, end = turn.to_original(at, at + len(key))
    return text[start:end]


def test_full_width_becomes_half_width():
    assert fold("ＡＢＣ１２３％").text == "abc123%"


def test_traditional_becomes_simplified_keeping_length():
    folded = fold("這個業務絕對免費")
    assert folded.text == "这个业务绝对免费"
    assert len(folded.text) == len("這個業務絕對免費")


@pytest.mark.parametrize(("said", "simplified"), [
    # speech recognition's odd traditional character in a simplified call: replaced alone
    ("您好，我这边是移动客服，这个业务前三十天免費体验，之后每月九块九，您看可以吗",
     "您好,我这边是移动客服,这个业务前三十天免费体验,之后每月九块九,您看可以吗"),
    # a call in traditional characters: translated whole
    ("您好，這個業務絕對免費，請問您現在方便嗎？",
     "您好,这个业务绝对免费,请问您现在方便吗?"),
])
def test_both_ways_of_simplifying_give_the_same_characters(said: str, simplified: str):
    assert fold(said).text == simplified


def test_a_few_traditional_characters_are_replaced_alone_and_many_translated(monkeypatch):
    """Both ways give the same characters; which one ran shows in the one-by-one path's
    calls: one per traditional character in a simplified call, none for a call in
    traditional characters (translated whole)."""
    replaced: list[str] = []
    one_by_one = normalize._simplified_char

    def counted(match):
        replaced.append(match.group())
        return one_by_one(match)

    monkeypatch.setattr(normalize, "_simplified_char", counted)
    assert fold("您好，这个业务前三十天免費体验，之后每月九块九，您看可以吗").text.count("费") == 1
    assert replaced == ["費"]
    replaced.clear()
    assert fold("您好，這個業務絕對免費，請問您現在方便嗎？").text.startswith("您好,这个业务")
    assert replaced == []


def test_case_folding():
    assert EN.normalize("I AGREE").text == "i agree"


def test_punctuation_and_fillers_do_not_break_a_phrase():
    assert original_of(ZH, "这个是绝对，呃，免费的", "绝对免费") == "绝对，呃，免费"
    assert original_of(EN, "It is, um, totally free.", "totally free") == "totally free"


def test_match_maps_back_to_traditional_original():
    assert original_of(ZH, "您放心，這是絕對免費的！", "绝对免费") == "絕對免費"


def test_match_maps_back_through_full_width_expansion():
    text = "资费每月５元，㎏不相关，绝对免费"
    assert original_of(ZH, text, "绝对免费") == "绝对免费"


def test_decimal_point_between_digits_is_kept():
    assert "5.5元" in ZH.normalize("每月5.5元").text


def test_a_tag_keeps_its_at_sign():
    """A written post's "@工信部" tags the regulator; "工信部" alone only names it."""
    assert ZH.normalize("投诉无门 @中国联通客服 @工信部").text == "投诉无门@中国联通客服@工信部"
    assert EN.normalize("Fix it @Comcast or I go to @FCC").text == "fix it @comcast or i go to @fcc"


def test_latin_words_stay_separate():
    assert EN.normalize("don't, call-me again").text == "don't call me again"


def test_clauses_and_questions():
    turn = ZH.normalize("我不需要。你能保证吗？好的")
    assert turn.text == "我不需要你能保证吗好的"
    assert turn.clause_starts == (0, 4, 9)
    assert turn.is_question_at(turn.text.index("保证"))
    assert not turn.is_question_at(0)


def test_the_me_of_a_word_is_no_question_particle():
    """"您什么都不用管" goes on: its 么 closes a word, not a question; "你说什么" asks."""
    turn = ZH.normalize("到期了它自动就去销了 您什么都不用管 不会扣您钱的")
    assert turn.clause_starts == (0,)
    assert not turn.is_question_at(turn.text.index("自动"))
    assert not ZH.normalize("这么便宜的套餐").is_question_at(0)
    assert ZH.normalize("你说什么").is_question_at(0)
    assert ZH.normalize("你说什么，我听不清").is_question_at(0)


def test_question_particle_without_punctuation():
    turn = ZH.normalize("你能保证吗我要投诉")
    assert turn.is_question_at(turn.text.index("保证"))
    assert not turn.is_question_at(turn.text.index("投诉"))


def test_the_me_of_question_words_is_no_particle_inside_a_turn():
    turn = ZH.normalize("到期了它自动就取消了 您什么都不用管 不会扣您钱的")
    assert turn.clause_starts == (0,) and turn.question_clauses == frozenset()
    turn = ZH.normalize("那我这边就给您先开上了啊 开通的短信还有怎么去销的")
    assert not turn.is_question_at(turn.text.index("开上"))
    assert ZH.normalize("你说什么").is_question_at(0)  # at the end it still asks


def test_a_tag_question_ends_its_clause_without_punctuation():
    turn = ZH.normalize("十五一个月是吧 那行吧 开吧 我同意")
    assert turn.is_question_at(turn.text.index("十五"))
    assert not turn.is_question_at(turn.text.index("我同意"))


def test_homophone_keys():
    assert homophone_key("资费") == homophone_key("自费")
    assert homophone_key("退订") == homophone_key("退定")
    assert homophone_key("资费") != homophone_key("费用")


def test_saved_homophones_are_pypinyins_readings(tmp_path):
    """homophones.tsv is pypinyin's reading of every CJK character, saved; a rebuild from
    the pinned pypinyin must give the file back byte for byte."""
    pytest.importorskip("pypinyin")
    rebuilt = tmp_path / "homophones.tsv"
    write_homophones(syllables_from_pypinyin(), rebuilt)
    assert rebuilt.read_bytes() == HOMOPHONES.read_bytes()
    groups = read_homophones()
    assert len(groups) > 400 and sum(map(len, groups.values())) > 20_000


@given(st.text(max_size=60))
def test_every_match_span_maps_inside_the_original(text: str):
    for normalizer in (ZH, EN):
        turn = normalizer.normalize(text)
        for start in range(len(turn.text)):
            for end in range(start + 1, min(len(turn.text), start + 4) + 1):
                a, b = turn.to_original(start, end)
                assert 0 <= a <= b <= len(text)


@given(st.text(max_size=40), st.data())
def test_a_turn_answers_each_span_the_same_whatever_it_was_asked_before(text: str, data):
    """A turn remembers the spans it mapped back (the turn memo keeps a turn across calls,
    and rules ask it for the same spans): each answer must equal a fresh turn's."""
    for normalizer in (ZH, EN):
        asked = normalizer.normalize(text)
        length = len(asked.text)
        spans = data.draw(st.lists(
            st.tuples(st.integers(0, length), st.integers(0, length)).map(sorted), max_size=8
        ))
        for start, end in spans + spans[::-1]:
            fresh = normalizer.normalize(text)
            assert asked.to_original(start, end) == fresh.to_original(start, end)


@pytest.mark.parametrize(("language", "said", "text", "clause_starts", "questions"), [
    # traditional characters, full-width punctuation, a filler between commas, "吗"
    ("zh", "您好，這個業務，呃，絕對免費嗎？嗯，好的。", "您好这个业务绝对免费吗好的",
     (0, 2, 6, 11), {2}),
    # the point of an amount is kept; full-width letters folded and lower-cased
    ("zh", "资费每月9.9元，ＯＫ吗", "资费每月9.9元ok吗", (0, 8), {1}),
    # Latin words keep one space between them; fillers and punctuation go
    ("en", "Um, I said NO. Stop calling, er, OK?", "i said no stop calling ok",
     (0, 10, 23), {2}),
    ("zh", "那就开通吧嗯嗯", "那就开通吧", (0,), set()),
])
def test_turns_normalise_to_text_written_out_by_hand(language, said, text, clause_starts,
                                                      questions):
    """Expected values written here, not computed: the fold, the filler words and the
    clauses as a reader of the rules expects them."""
    (turn,) = Normalizer(language).normalize_call([said])
    assert turn.text == text
    assert turn.clause_starts == clause_starts
    assert turn.question_clauses == questions
    assert Normalizer(language).normalize(said).text == text
