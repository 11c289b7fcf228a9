"""Templates with slots, English determiners and inflections, pack-wide homophones and
dialect words: what a rule author writes in YAML and what a QA analyst sees."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine.rules.pack import load_pack
from engine.rules.problems import RulePackError
from engine.rules.templates import slot_notes
from engine.text.english import phrase_variants, word_forms
from tests.conftest import write_pack


def hits_of(pack, turns):
    """Matcher name → turn numbers it matched, for (speaker, text) turns."""
    _, hits = pack.index.read_call([t for _, t in turns], [s for s, _ in turns])
    return {name: sorted({h.turn for h in found}) for name, found in hits.items()}


ZH_MATCHERS = """
matchers:
  opt_out:
    speaker: customer
    templates: ['{别|不要}{adv?}再{打给我|给我打}']
    negation: false
  not_holder:
    speaker: customer
    templates: ['我{kin}的{号|手机}']
  unsubscribe:
    speaker: customer
    phrases: [退订]
  consent:
    speaker: customer
    homophones: false
    phrases: [同意开通]
"""


@pytest.fixture
def zh_pack(tmp_path):
    return load_pack(write_pack(tmp_path / "zh", {"m.yaml": ZH_MATCHERS},
                                header="homophones: true\nslots:\n  kin: [干爹]\n"))


def test_one_template_covers_inserted_adverbs_and_both_word_orders(zh_pack):
    turns = [("customer", "你别老是再打给我了"), ("customer", "不要再给我打了"),
             ("customer", "不要一直再给我打"), ("customer", "再打给我吧")]
    assert hits_of(zh_pack, turns)["opt_out"] == [0, 1, 2]


def test_kinship_slot_has_the_built_in_terms_and_the_packs_own(zh_pack):
    turns = [("customer", "这是我姑父的手机"), ("customer", "这是我岳母的号"),
             ("customer", "是我干爹的号"), ("customer", "这是我的号")]
    assert hits_of(zh_pack, turns)["not_holder"] == [0, 1, 2]


def test_pack_wide_homophones_apply_unless_the_matcher_says_no(zh_pack):
    turns = [("customer", "我要退定"), ("customer", "统一开通的")]
    found = hits_of(zh_pack, turns)
    assert found["unsubscribe"] == [0]  # 退定 heard for 退订
    assert "consent" not in found  # 统一开通 sounds like 同意开通, but homophones: false


def test_homophones_are_off_without_the_pack_setting(tmp_path):
    pack = load_pack(write_pack(tmp_path / "p", {"m.yaml": ZH_MATCHERS}))
    assert "unsubscribe" not in hits_of(pack, [("customer", "我要退定")])


def test_cantonese_words_match_mandarin_phrases_and_evidence_quotes_them(zh_pack, tmp_path):
    pack = load_pack(write_pack(tmp_path / "c", {"m.yaml": """
matchers:
  refusal: {speaker: customer, phrases: [他不要, 没兴趣, 为什么]}
"""}))
    turns = [("customer", "佢唔要，冇兴趣"), ("customer", "为啥要办"), ("customer", "唔，好的")]
    normalized, hits = pack.index.read_call([t for _, t in turns], ["customer"] * 3)
    spans = [(h.turn, normalized[h.turn].to_original(h.start, h.end)) for h in hits["refusal"]]
    quotes = [turns[turn][1][a:b] for turn, (a, b) in spans]
    assert quotes == ["佢唔要", "冇兴趣", "为啥"]
    assert normalized[2].text == "好的"  # a lone 唔 stays a filler


def test_dialect_table_can_be_changed_or_switched_off_in_pack_yaml(tmp_path):
    files = {"m.yaml": "matchers:\n  m: {phrases: [他不要, 什么]}\n"}
    dropped = load_pack(write_pack(tmp_path / "a", files, header="dialect: {佢: ~, 乜: 什么}\n"))
    assert hits_of(dropped, [("customer", "佢唔要"), ("customer", "乜")]) == {"m": [1]}
    off = load_pack(write_pack(tmp_path / "b", files, header="dialect: false\n"))
    assert hits_of(off, [("customer", "佢唔要")]) == {}


def test_english_determiners_and_inflections(tmp_path):
    pack = load_pack(write_pack(tmp_path / "en", {"m.yaml": """
matchers:
  cancel: {speaker: customer, phrases: [cancel your account], lemmas: true}
  exact: {speaker: customer, phrases: [my account], determiners: false}
  offer: {speaker: agent, phrases: [it's activated]}
"""}, language="en", header="determiners: true\n"))
    turns = [("customer", "I cancelled the account"), ("customer", "she cancels this account"),
             ("customer", "cancel the accounts"), ("customer", "go to your account"),
             ("agent", "I can activate it")]
    assert hits_of(pack, turns) == {"cancel": [0, 1]}


def test_word_forms_cover_regular_and_irregular_verbs_but_not_other_words():
    assert {"cancel", "cancels", "cancelled", "canceled", "canceling", "cancelling"} <= set(
        word_forms("cancel"))
    assert {"take", "took", "taken", "taking"} <= set(word_forms("took"))
    assert {"call", "calling", "called"} <= set(word_forms("calling"))
    assert word_forms("news") == ("news",)
    assert word_forms("is") == ("is",)
    assert "cancel that account" in phrase_variants("cancel the account", True, False)
    assert "cancel that account" not in phrase_variants("cancel the account", False, True)


def test_english_apostrophes_may_be_left_out_as_speech_recognition_writes_them(tmp_path):
    pack = load_pack(write_pack(tmp_path / "en", {"m.yaml": """
matchers:
  refusal: {speaker: customer, phrases: [i don't want it]}
  roommate: {speaker: customer, templates: ["{i'm|i am} {his|her} roommate"]}
  alone: {speaker: agent, phrases: [we'll]}
  strict: {speaker: customer, phrases: [i'm in], apostrophes: false}
"""}, language="en", header="apostrophes: true\n"))
    turns = [("customer", "nah i dont want it"), ("customer", "yeah im his roommate"),
             ("agent", "well okay"), ("customer", "im in"), ("customer", "I'm his roommate")]
    assert hits_of(pack, turns) == {"refusal": [0], "roommate": [1, 4]}
    assert "i dont want it" in phrase_variants("i don't want it", False, False, True)
    assert phrase_variants("we'll", False, False, True) == ("we'll",)  # not "well"
    off = load_pack(write_pack(tmp_path / "off", {"m.yaml": """
matchers:
  refusal: {speaker: customer, phrases: [i don't want it]}
"""}, language="en"))
    assert hits_of(off, turns) == {}


def test_english_template_optional_adverb_and_kin(tmp_path):
    pack = load_pack(write_pack(tmp_path / "en", {"m.yaml": """
matchers:
  opt_out: {templates: ["stop {adv?} calling me"], negation: false}
  kin: {templates: ["it's my {kin}'s phone"]}
"""}, language="en"))
    turns = [("customer", "Stop calling me!"), ("customer", "please stop constantly calling me"),
             ("customer", "It's my stepdad's phone"), ("customer", "it's my phone"),
             ("customer", "bus stop calling meeting")]
    assert hits_of(pack, turns) == {"opt_out": [0, 1], "kin": [2]}


def test_unknown_slot_is_a_rule_file_error_with_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "matchers:\n  m:\n    templates: ['不要{advv}打']\n"
    folder = write_pack(tmp_path / "pack", {"m.yaml": text})
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    assert caught.value.render() == (
        "pack/m.yaml:3:17: error: template '不要{advv}打': unknown slot '{advv}'\n"
        "  |\n"
        "3 |     templates: ['不要{advv}打']\n"
        "  |                 ^^^^^^^^^^^^^^\n"
        "help: did you mean 'adv'? slots: adv, id_fact, kin, num, pronoun"
    )


@pytest.mark.parametrize(("template", "message"), [
    ("不要{", "a '{' is not closed"),
    ("}不要", "a '}' closes no '{'"),
    ("{adv?}", "the template has nothing that must be said"),
    ("{打给我}", "unknown slot '{打给我}'"),
])
def test_broken_templates_are_reported_at_their_line(tmp_path, template, message):
    text = f"matchers:\n  m:\n    templates: ['{template}']\n"
    folder = write_pack(tmp_path / "p", {"m.yaml": text})
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    (problem,) = caught.value.problems
    assert message in problem.message
    assert problem.location.line == 3


def test_a_pack_slot_no_template_uses_is_a_warning_naming_the_built_in(tmp_path):
    pack = load_pack(write_pack(tmp_path / "p", {"m.yaml": "matchers:\n  m: [你好]\n"},
                                header="slots:\n  kinn: [干爹]\n"))
    (warning,) = [w for w in pack.warnings if "slot" in w.message]
    assert warning.message == "no template uses slot 'kinn'"
    assert warning.help.startswith("did you mean 'kin'?")


def test_show_matches_prints_the_slot_fills_in_the_callers_words(tmp_path, zh_pack):
    from cli import main

    call = tmp_path / "call.jsonl"
    call.write_text(
        '{"call_id":"T1","call_type":"sale","language":"zh","started_at":'
        '"2026-11-23T10:00:00+08:00","turns":[{"speaker":"customer","text":'
        '"你們別老是再打給我！","start":0,"end":2}]}\n', encoding="utf-8")
    folder = write_pack(tmp_path / "zh2", {"m.yaml": ZH_MATCHERS}, header="homophones: true\n")
    result = CliRunner().invoke(main, ["check", str(call), "--rules", str(folder),
                                      "--show-matches"])
    assert result.exit_code == 0, result.output
    assert ("       slots: opt_out: 別老是再打給我 — template {别|不要}{adv?}再{打给我|给我打}"
            " — 别|不要=別, adv=老是, 打给我|给我打=打給我") in result.output.splitlines()


def test_slot_notes_only_for_template_hits(zh_pack):
    turns = [("customer", "别一直再打给我"), ("customer", "我要退订")]
    normalized, hits = zh_pack.index.read_call([t for _, t in turns], ["customer"] * 2)
    notes = slot_notes(zh_pack.index.matchers, normalized, hits)
    assert notes == {0: ["opt_out: 别一直再打给我 — template {别|不要}{adv?}再{打给我|给我打}"
                         " — 别|不要=别, adv=一直, 打给我|给我打=打给我"]}
