"""Matching by example (`like:` / `unlike:` / `threshold:`), as a rule author and a QA analyst
meet it: paraphrases found, near misses not, speakers kept apart, errors at file:line:col,
the explanation in `check --show-matches`, and nothing scored that no rule asks for."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from cli import main
from engine.audit import audit_call, context_for
from engine.rules.problems import RulePackError
from engine.rules.similar import ExampleModel, _vector, ngrams
from tests.conftest import REPO, make_call, write_pack

IMPAIRED = """
matchers:
  activation:
    speaker: agent
    phrases: [已经为您开通]
  impaired:
    speaker: customer
    phrases: [喝醉了]
    like: [我刚喝了几杯，有点晕, 我喝多了，脑子不清醒, 你把我吵醒了，我还迷糊着呢,
           我刚睡醒，没听明白你说啥, 你大点声，我耳朵背, 我岁数大了，听不懂这些,
           头晕乎乎的，你说的我一句也没记住,
           我现在脑子一团浆糊，反应不过来]
    unlike: [我喝水呢，你说吧, 我听得清楚，你继续说, 我没喝酒，清醒着呢, 我睡醒好一会儿了，你说,
             这个我明白了]
    {extra}
rules:
  - id: impaired-sale
    kind: condition
    standard: comprehension
    severity: critical
    when: {{before: {{first: impaired, then: activation}}}}
    message: 客户不清醒仍然办理
    rationale: 合格标准第二条
    examples:
      violating: [[{{customer: 我刚喝了几杯，有点晕}}, {{agent: 好的，已经为您开通了}}]]
      compliant: [[{{customer: 我听得清楚，你继续说}}, {{agent: 好的，已经为您开通了}}]]
"""


def impaired_pack(pack_factory, extra: str = ""):
    return pack_factory({"m.yaml": IMPAIRED.format(extra=extra)})


def fired(pack, turns) -> list[str]:
    return [f.rule_id for f in audit_call(pack, make_call(turns)).findings]


def test_a_paraphrase_no_phrase_lists_is_found_and_quoted(pack_factory):
    pack = impaired_pack(pack_factory)
    result = audit_call(pack, make_call([
        ("customer", "这么晚打来，我晚上喝了好几杯，头有点晕，你说的是什么业务"),
        ("agent", "好的，已经为您开通了"),
    ]))
    assert [f.rule_id for f in result.findings] == ["impaired-sale"]
    # The evidence quotes the clause most like the examples, in the original words.
    assert result.findings[0].evidence[0].quote == "头有点晕"


@pytest.mark.parametrize("said", ["我喝水呢，你接着说", "我听得见，你说吧", "好的，可以，你说吧"])
def test_near_misses_and_ordinary_replies_do_not_match(pack_factory, said):
    pack = impaired_pack(pack_factory)
    assert fired(pack, [("customer", said), ("agent", "好的，已经为您开通了")]) == []


def test_only_the_matchers_speaker_is_scored(pack_factory):
    pack = impaired_pack(pack_factory)
    turns = [("agent", "您是不是喝多了，脑子不清醒？"), ("agent", "好的，已经为您开通了")]
    assert fired(pack, turns) == []


def test_a_higher_threshold_asks_for_closer_wording(pack_factory):
    turns = [("customer", "我耳朵不好使，你说话大声点"), ("agent", "好的，已经为您开通了")]
    assert fired(impaired_pack(pack_factory), turns) == ["impaired-sale"]
    assert fired(impaired_pack(pack_factory, "threshold: 0.95"), turns) == []


def test_questions_false_skips_asking_clauses(pack_factory):
    turns = [("customer", "你是说我喝多了脑子不清醒吗？"), ("agent", "好的，已经为您开通了")]
    assert fired(impaired_pack(pack_factory, "questions: false"), turns) == []


def test_unless_turn_says_vetoes_a_match_by_example(pack_factory):
    turns = [("customer", "我刚喝了几杯有点晕，开玩笑的"), ("agent", "好的，已经为您开通了")]
    assert fired(impaired_pack(pack_factory), turns) == ["impaired-sale"]
    assert fired(impaired_pack(pack_factory, "unless_turn_says: [开玩笑]"), turns) == []


def test_nothing_is_scored_when_no_rule_needs_the_matcher(pack_factory):
    pack = impaired_pack(pack_factory)
    # No activation: the rule's `before ... then: activation` cannot hold, so the customer's
    # turns are never scored against the examples.
    audit_call(pack, make_call([("customer", "我刚喝了几杯，有点晕"), ("agent", "那您先休息")]))
    assert pack.by_example is not None and len(pack.by_example._memo) == 0
    audit_call(pack, make_call([("customer", "我刚喝了几杯，有点晕"),
                                ("agent", "已经为您开通了")]))
    assert len(pack.by_example._memo) == 1


def test_a_pack_without_examples_has_no_example_layer(pack_factory):
    pack = pack_factory({"m.yaml": "matchers:\n  a: [同意]\n"})
    assert pack.by_example is None


def test_a_matcher_may_have_examples_and_no_phrases(pack_factory):
    pack = pack_factory({"m.yaml": IMPAIRED.replace("    phrases: [喝醉了]\n", "")
                         .format(extra="")})
    assert fired(pack, [("customer", "我刚被你吵醒，脑子迷迷糊糊的"),
                        ("agent", "已经为您开通了")]) == ["impaired-sale"]


ENGLISH = """
matchers:
  plea:
    speaker: agent
    like: [I really need this one for my numbers, "please, I'm one sale short of my quota",
           "if I don't close this I might lose my job", "you'd really be helping me out here",
           "come on, do it for me, it would make my week"]
    unlike: [thanks for your help today, take your time and think it over]
rules:
  - id: plea
    kind: forbidden
    standard: forbidden_phrase
    severity: major
    matcher: plea
    message: pleading
    rationale: no pressure
    examples:
      violating: [[{agent: "I really need this one for my numbers"}]]
      compliant: [[{agent: "take your time"}]]
"""


def test_english_examples_score_english_clauses(pack_factory):
    pack = pack_factory({"m.yaml": ENGLISH}, language="en")
    plea = audit_call(pack, make_call([("agent", "Honestly, if I don't make this sale I could "
                                                 "lose my job.")], language="en"))
    assert [f.rule_id for f in plea.findings] == ["plea"]
    assert plea.findings[0].evidence[0].quote == "if I don't make this sale I could lose my job"
    calm = audit_call(pack, make_call([("agent", "Take your time and call us back.")],
                                      language="en"))
    assert calm.findings == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("unlike: [不对]", "matcher 'm': 'unlike' needs 'like:' example sentences"),
        ("threshold: 0.5", "matcher 'm': 'threshold' needs 'like:' example sentences"),
        ("like: [一, 二, 三]\n    threshold: 1.5", "threshold must be between 0 and 1, not 1.5"),
        ("like: [一, 二, 三]\n    threshold: high", "threshold must be a number"),
        ("like: [我喝多了]", "'like:' needs at least 3 example sentences, not 1"),
        ("like: [一, 二, 三]\n    replies_to: a", "'like:' cannot be combined with 'replies_to'"),
    ],
)
def test_mistakes_are_reported_at_their_place(tmp_path, body, message):
    folder = write_pack(tmp_path / "p", {"m.yaml": "matchers:\n  a: [好]\n  m:\n    speaker: "
                                                   f"customer\n    phrases: [x]\n    {body}\n"})
    from engine.rules.pack import load_pack

    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    text = caught.value.render()
    assert message in text
    assert "m.yaml:" in text  # file:line:col of the offending value


def test_show_matches_explains_the_clause_its_score_and_nearest_example(tmp_path):
    folder = write_pack(tmp_path / "p", {"m.yaml": IMPAIRED.format(extra="")})
    call = tmp_path / "call.jsonl"
    call.write_text(json.dumps({
        "call_id": "C-1", "language": "zh", "call_type": "sale",
        "started_at": "2026-11-23T10:00:00+08:00",
        "turns": [{"speaker": "customer", "text": "啊？我耳朵不好使，你说话大声点"},
                  {"speaker": "agent", "text": "好的，已经为您开通了"}],
    }, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(call), "--rules", str(folder),
                                      "--show-matches"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "by example:" in x)
    assert "impaired" in line
    assert "“啊？我耳朵不好使，你说话大声点”" in line  # short turn: scored whole
    assert "nearest example “你大点声，我耳朵背”" in line
    score = float(line.split("impaired ")[1].split()[0])
    assert 0.3 <= score <= 1


def test_one_pass_scores_equal_the_plain_definition():
    """The batched scorer (Aho-Corasick + numpy) gives exactly what tf-idf and the weights say."""
    for language, like, texts in [
        ("zh", ["我刚喝了几杯，有点晕", "我喝多了，脑子不清醒", "你大点声，我耳朵背"],
         ["我喝了两瓶啤酒头晕晕晕", "你好", "abc 我喝 多了", ""]),
        ("en", ["i had a few drinks", "you woke me up", "speak up i am deaf"],
         ["i had had too many drinks drinks", "zzz qqq", " hello you "]),
    ]:
        model = ExampleModel.build(language, like, ["我喝水呢", "i can hear you"])
        for text, score in zip(texts, model.scores(texts), strict=True):
            vector = _vector(ngrams(text, language), model.idf, model.unseen)
            raw = model.bias + sum(model.weights.get(g, 0.0) * v for g, v in vector.items())
            assert score == pytest.approx(1 / (1 + math.exp(-raw)), abs=1e-9)


# (language, `like` examples, texts to score): odd texts included (empty, repeated n-grams).
SCORING_CASES = [
    ("zh", ["我刚喝了几杯，有点晕", "我喝多了，脑子不清醒", "你大点声，我耳朵背"],
     ["我喝了两瓶啤酒头晕晕晕", "你好", "abc 我喝 多了", "", "晕" * 80]),
    ("en", ["i had a few drinks", "you woke me up", "speak up i am deaf"],
     ["i had had too many drinks drinks", "zzz qqq", " hello you ", "drinks " * 70]),
]


def test_a_clause_scores_the_same_whatever_is_scored_with_it():
    """Audits remember each clause's score across calls: the verdicts must not depend on
    which clauses were scored together, to the last bit."""
    for language, like, texts in SCORING_CASES:
        model = ExampleModel.build(language, like, ["我喝水呢", "i can hear you"])
        together = model.scores(texts).tolist()
        assert [model.scores([t]).tolist()[0] for t in texts] == together
        assert model.scores(texts[::-1]).tolist() == together[::-1]


def test_the_plain_python_scorer_gives_numpys_floats_exactly():
    """Audits score a call's few new clauses in plain Python: the verdicts must not depend
    on which scorer ran, to the last bit."""
    for language, like, texts in SCORING_CASES:
        model = ExampleModel.build(language, like, ["我喝水呢", "i can hear you"])
        assert model.scores_of_few(texts) == model.scores(texts).tolist()


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_clauses_set_aside_unscored_are_below_the_threshold(threshold):
    """may_reach may keep a clause that scores low, never drop one that reaches."""
    like = ["我刚喝了几杯，有点晕", "我喝多了，脑子不清醒", "你大点声，我耳朵背"]
    texts = ["我喝了两瓶啤酒头晕晕晕", "我喝多了", "你好", "有点晕", "今天天气不错", "脑子不清醒了",
             "您的套餐每月十九元", "喝了几杯", "我耳朵背，你大点声"]
    model = ExampleModel.build("zh", like, ["我喝水呢"])
    reach = model.may_reach(texts, threshold)
    scores = model.scores(texts).tolist()
    assert all(may for may, score in zip(reach, scores, strict=True) if score >= threshold)
    assert not all(reach)  # it does set some aside


def test_bundled_packs_catch_pleas_and_rules_cited_to_coerce():
    from engine.audit import PackChooser

    chooser = PackChooser(REPO / "rules")
    zh = make_call([("agent", "大哥，我这个月业绩还差一单，您就当可怜可怜我")])
    assert "emotional-pressure" in [f.rule_id for f in
                                    audit_call(chooser.for_call(zh), zh).findings]
    coerce = make_call([("agent", "It's company policy now, every account has to take this "
                                  "upgrade")], language="en")
    ids = [f.rule_id for f in audit_call(chooser.for_call(coerce), coerce).findings]
    assert "authority-impersonation" in ids
    calm = make_call([("agent", "This add-on is optional, take your time to decide")],
                     language="en")
    ctx = context_for(chooser.for_call(calm), calm)
    assert ctx.hits_of("authority_claim") == [] and ctx.hits_of("emotional_pressure") == []
