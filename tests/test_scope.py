"""Clause scope: what a clause is (question, conditional, past, reported, whose), how negation
stops at a clause's edge, and the matcher fields a rule author writes to use it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from engine.audit import PackChooser, audit_call, context_for
from engine.rules.problems import RulePackError
from engine.text.clauses import ClauseReader
from engine.text.normalize import Normalizer
from tests.conftest import REPO, make_call


def clauses_of(language: str, text: str) -> list[tuple[str, tuple[str, ...]]]:
    turn = Normalizer(language).normalize(text)
    return [(turn.text[c.start : c.end].strip(), c.labels())
            for c in ClauseReader(language).clauses(turn)]


# -- what a clause is ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    # a conditional's if-part ends at 的话: the instruction after it is a clause of its own
    ("不需要的话回复TD就退订了", [("不需要的话", ("conditional",)), ("回复td就退订了", ())]),
    # 要不然 is a connective standing alone, not part of what follows
    ("要不然我就打12300投诉", [("要不然", ()), ("我就打12300投诉", ())]),
    # the if-part of 要是… ends where its then-part starts (我就…)
    ("要是你们再打我就投诉", [("要是你们再打", ("conditional",)), ("我就投诉", ())]),
    # A-not-A asks, with or without "？"
    ("那以后是不是就不会再打给我了", [("那以后是不是就不会再打给我了", ("question",))]),
    ("你们会不会再打过来", [("你们会不会再打过来", ("question",))]),
    # ... but a request put as a question is a request
    ("你们能不能别再打了", [("你们能不能别再打了", ("request",))]),
    ("你们不要再打这个号码了好吗", [("你们不要再打这个号码了好吗", ("request",))]),
    # a neighbour's past story: the clause without a subject goes on with it
    ("我邻居去年被扣了钱，打了12315才退",
     [("我邻居去年被扣了钱", ("past", "about other")), ("打了12315才退", ("past", "about other"))]),
    ("他说要去工信部投诉", [("他说要去工信部投诉", ("reported", "about other"))]),
    # the speaker's own past, then now again
    ("我以前投诉过你们，再打就投诉", [("我以前投诉过你们", ("past",)), ("再打就投诉", ())]),
    # look-alikes: 打过来 is no past, 其他 no third party, 话费 no 的话
    ("其他的我不管，别打过来了", [("其他的我不管", ()), ("别打过来了", ())]),
    ("您的话费是多少", [("您的话费是多少", ())]),
])
def test_chinese_clauses(text, expected):
    assert clauses_of("zh", text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("otherwise I'm taking this to the FCC",
     [("otherwise", ()), ("i'm taking this to the fcc", ())]),
    ("if you call again I'll report you to the FCC",
     [("if you call again", ("conditional",)), ("i'll report you to the fcc", ())]),
    ("Say I cancel later, do I pay?",
     [("say i cancel later", ("conditional",)), ("do i pay", ("question",))]),
    ("is it free", [("is it free", ("question",))]),
    ("so are you going to stop calling", [("so are you going to stop calling", ("question",))]),
    ("could you take me off your list?", [("could you take me off your list", ("request",))]),
    ("My neighbor got charged last year and called the FCC",
     [("my neighbor got charged last year and called the fcc", ("past", "about other"))]),
    ("I ordered it last year", [("i ordered it last year", ("past",))]),
    ("my friend said you guys are scammers",
     [("my friend said you guys are scammers", ("reported", "about other"))]),
    ("I suppose that's fine", [("i suppose that's fine", ())]),
    ("don't call me again", [("don't call me again", ())]),
    # written threads: an @-mention or a #tag is a clause of its own that calls someone in,
    # now; it does not go on with the story before it
    ("They cut my line last year @ Consumer Council",
     [("they cut my line last year", ("past", "about other")), ("@consumer council", ())]),
    ("#315 Exposure# they charged me twice",
     [("315 exposure", ()), ("they charged me twice", ("about other",))]),
])
def test_english_clauses(text, expected):
    assert clauses_of("en", text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # unpunctuated speech runs a question into a command: the command is a clause of its own
    ("why do you keep calling me stop calling me",
     [("why do you keep calling me", ("question",)), ("stop calling me", ())]),
    ("are you listening to me stop calling me or i'm going to the attorney general",
     [("are you listening to me", ("question",)),
      ("stop calling me or i'm going to the attorney general", ())]),
    # ... but not a verb after its subject, an auxiliary or "to"
    ("is it true you'll stop calling me now", [("is it true you'll stop calling me now",
                                                ("question",))]),
    ("do you want me to put it on", [("do you want me to put it on", ("question",))]),
    ("what do you take me for", [("what do you take me for", ("question",))]),
])
def test_a_command_after_an_unpunctuated_question(text, expected):
    assert clauses_of("en", text) == expected


def test_a_mention_in_a_chinese_thread_is_a_clause_of_its_own():
    assert clauses_of("zh", "我邻居去年被扣了钱@工信部") == [
        ("我邻居去年被扣了钱", ("past", "about other")), ("@工信部", ())]


# -- negation stops at a clause's edge -----------------------------------------------------

CANCEL = """
matchers:
  cancel_method: {speaker: agent, phrases: [退订]}
  threat: {speaker: customer, regex: ['打.{0,3}12300']}
  threat_en: {speaker: customer, phrases: [taking this to the fcc]}
rules:
  - id: said
    kind: forbidden
    standard: script
    severity: info
    matcher: cancel_method
    message: m
    rationale: r
    examples: {violating: [[{agent: 回复TD退订}]], compliant: [[{agent: 不用退订}]]}
"""


def hits(pack, turns, language="zh"):
    return context_for(pack, make_call(turns, language=language)).hits


@pytest.mark.parametrize(("text", "counts"), [
    ("不需要的话回复TD就退订了", True),   # the if-part's 不 negates nothing after 的话
    ("如果不需要，回复TD就退订了", True),
    ("您不用退订", False),                # plain negation still works
    ("不需要退订的话可以不管", False),      # ... inside the if-part too
])
def test_a_conditional_ends_negation(pack_factory, text, counts):
    pack = pack_factory({"m.yaml": CANCEL})
    assert ("cancel_method" in hits(pack, [("agent", text)])) is counts


@pytest.mark.parametrize("text", ["要不然我就打12300投诉", "不然我就打12300", "否则我就打12300"])
def test_otherwise_is_a_connective_not_a_negation(pack_factory, text):
    pack = pack_factory({"m.yaml": CANCEL})
    assert "threat" in hits(pack, [("customer", text)])


def test_otherwise_in_english(pack_factory):
    pack = pack_factory({"m.yaml": CANCEL.replace("[退订]", "[cancel]")}, language="en")
    found = hits(pack, [("customer", "Fix it, otherwise I'm taking this to the FCC")], "en")
    assert "threat_en" in found


# -- the matcher fields ---------------------------------------------------------------------

SCOPED = """
matchers:
  threat:
    speaker: customer
    regex: ['打.{0,3}(12315|12300)']
    phrases: [要投诉]
    {fields}
rules:
  - id: threat
    kind: forbidden
    standard: complaint_risk
    severity: critical
    matcher: threat
    message: m
    rationale: r
    examples: {violating: [[{customer: 我要投诉}]], compliant: [[{customer: 好的}]]}
"""


def scoped(fields: str) -> str:
    """The threat matcher with these fields."""
    return SCOPED.replace("{fields}", fields)


def fires(pack_factory, fields: str, text: str, language: str = "zh") -> bool:
    pack = pack_factory({"m.yaml": scoped(fields)}, language=language)
    return bool(audit_call(pack, make_call([("customer", text)], language=language)).findings)


@pytest.mark.parametrize(("fields", "text", "counts"), [
    # about: speaker — a neighbour's or relative's story is not the speaker's threat
    ("about: speaker", "我邻居去年被扣了钱，打了12315才退", False),
    ("about: speaker", "我妈说她要投诉", False),
    ("about: speaker", "你们再这样我就打12315", True),
    ("", "我妈说她要投诉", True),
    # time: now — the speaker's own past is not a threat now
    ("time: now", "我以前打过12315，后来就算了", False),
    ("time: now", "我以前打过12315，再打我就要投诉", True),
    ("", "我以前打过12315，后来就算了", True),
    # reported: false
    ("reported: false", "听说打12315就能退", False),
    ("reported: false", "你们再打我就打12315", True),
    # conditional: false — only a match in the if-part is set aside
    ("conditional: false", "要是打12315有用的话早就打了", False),
    ("conditional: false", "要是你们再打我就要投诉", True),
    ("", "要是打12315有用的话早就打了", True),
    # questions: false now knows A-not-A questions without "？"
    ("questions: false", "是不是要打12315才行", False),
    ("questions: false", "我要投诉", True),
    ("", "是不是要打12315才行", True),
])
def test_scope_fields(pack_factory, fields, text, counts):
    assert fires(pack_factory, fields, text) is counts


@pytest.mark.parametrize(("fields", "text", "counts"), [
    ("about: speaker", "My neighbor got charged last year and called 12315", False),
    ("time: now", "I called 12315 last year", False),
    ("time: now", "Stop this or I'll call 12315", True),
    ("questions: false", "Do I have to call 12315 to get this fixed", False),
    ("questions: false", "Could you please stop or I call 12315?", True),
])
def test_scope_fields_in_english(pack_factory, fields, text, counts):
    matcher = (scoped(fields).replace("打.{0,3}(12315|12300)", "call(ed)? 12315")
               .replace("[要投诉]", "[file a complaint]"))
    pack = pack_factory({"m.yaml": matcher}, language="en")
    found = audit_call(pack, make_call([("customer", text)], language="en")).findings
    assert bool(found) is counts


def test_unless_clause_says_looks_only_at_the_match_clause(pack_factory):
    """One "还不到" in a per-day comparison does not veto the fee said in another clause."""
    clause = "unless_clause_says: [还不到]"
    turn = "unless_turn_says: [还不到]"
    text = "每月15元，一天还不到5毛，我要投诉"
    assert fires(pack_factory, clause, text) is True
    assert fires(pack_factory, turn, text) is False
    assert fires(pack_factory, clause, "还不到要投诉的地步") is False


# -- the bundled packs ----------------------------------------------------------------------

@pytest.mark.parametrize(("language", "text", "fires_rule"), [
    ("zh", "要不然我就打12300投诉", True),
    ("zh", "你们再打我就去工信部投诉", True),
    ("zh", "我邻居去年被扣了钱，打了12315才退", False),
    ("zh", "是不是要打12315才行", False),
    ("en", "Otherwise I'm taking this to the FCC", True),
    ("en", "If you call again I'll report you to the FCC", True),
    ("en", "My neighbor got charged last year and called the FCC", False),
    ("en", "Do I need to file a complaint to get this fixed?", False),
])
def test_bundled_complaint_threats(language, text, fires_rule):
    call = make_call([("customer", text)], language=language, call_type="callback")
    pack = PackChooser(REPO / "rules").for_call(call)
    rules = {f.rule_id for f in audit_call(pack, call).findings}
    assert ("complaint-threat" in rules) is fires_rule


@pytest.mark.parametrize(("language", "text", "fires_rule"), [
    ("zh", "你们能不能别再打了", True),
    ("zh", "你们不要再打这个号码了好吗", True),
    ("zh", "我妈说别再打了", False),
    ("en", "Could you take me off your list?", True),
    ("en", "Will you stop calling me?", True),
    ("en", "Is it true you'll stop calling me now?", False),
])
def test_bundled_opt_outs(language, text, fires_rule):
    call = make_call([("customer", text)], language=language, call_type="callback")
    pack = PackChooser(REPO / "rules").for_call(call)
    rules = {f.rule_id for f in audit_call(pack, call).findings}
    assert ("customer-opt-out" in rules) is fires_rule


# -- pack.yaml and errors ---------------------------------------------------------------------

def test_a_pack_can_replace_a_word_list(pack_factory):
    files = {"m.yaml": scoped("about: speaker")}
    text = "我二舅打了12315"
    assert bool(audit_call(pack_factory(files), make_call([("customer", text)])).findings)
    pack = pack_factory(files, header="clauses:\n  others: [我二舅, 他]\n")
    assert not audit_call(pack, make_call([("customer", text)])).findings


def problems(pack_factory, tmp_path, files, header=""):
    with pytest.raises(RulePackError) as caught:
        pack_factory(files, header=header)
    return caught.value.render().replace(str(tmp_path) + "/", "")


def test_a_wrong_value_is_reported_where_it_is(pack_factory, tmp_path):
    text = problems(pack_factory, tmp_path, {"m.yaml": scoped("about: speakr")})
    assert "m.yaml:7:12: error: about 'speakr' is not one of the allowed values" in text
    assert "did you mean 'speaker'?" in text
    text = problems(pack_factory, tmp_path, {"m.yaml": scoped("time: past")})
    assert "time 'past' is not one of the allowed values" in text and "any, now" in text
    text = problems(pack_factory, tmp_path, {"m.yaml": scoped("conditional: no!")})
    assert "conditional must be true or false" in text


def test_an_unknown_word_list_is_reported(pack_factory, tmp_path):
    text = problems(pack_factory, tmp_path, {"m.yaml": scoped("")},
                    header="clauses:\n  other: [我二舅]\n")
    assert "pack.yaml:5:3: error: unknown key 'other' in clauses" in text
    assert "did you mean 'others'?" in text


# -- cost and explanation -----------------------------------------------------------------------

def test_a_pack_that_does_not_ask_reads_no_clause(pack_factory):
    pack = pack_factory({"m.yaml": scoped("")})
    audit_call(pack, make_call([("customer", "我邻居去年打了12315，是不是？")]))
    assert pack.index.clauses.turns_cut == 0
    asking = pack_factory({"m.yaml": scoped("about: speaker")})
    audit_call(asking, make_call([("customer", "好的"), ("customer", "我邻居去年打了12315")]))
    assert asking.index.clauses.turns_cut == 1  # only the turn with a match


def test_show_matches_prints_the_clause_and_what_it_set_aside(tmp_path):
    call = {"call_id": "S-1", "call_type": "callback", "language": "zh",
            "started_at": "2026-11-23T10:00:00+08:00",
            "turns": [{"speaker": "customer", "text": "我邻居去年被扣了钱，打了12315才退",
                       "start": 0, "end": 4},
                      {"speaker": "customer", "text": "要是再打，我就打12315",
                       "start": 5, "end": 9}]}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--rules-root", str(REPO / "rules"), "check", str(path),
                                       "--show-matches"], catch_exceptions=False)
    lines = result.output.splitlines()
    assert ("       clause 「打了12315才退」: past, about other · set aside: complaint_threat "
            "(about other)") in lines
    # the second turn's own threat (other complaint matchers may match it too)
    assert any(line.startswith("       matches: complaint_threat") for line in lines)
