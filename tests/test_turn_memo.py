"""A pack remembers what each distinct turn yielded: the audit must not change by it.

What depends on the call (its product name, replies to earlier turns, where a turn falls)
is worked out per call; only what a turn's own text yields is remembered.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bench.generate import write_calls
from engine.audit import PackChooser, audit_call
from engine.model import Call
from engine.rules.matchers import TurnMemo
from engine.transcripts import load_calls
from tests.conftest import make_call

REPO = Path(__file__).resolve().parent.parent

MATCHERS = """
matchers:
  offer_question:
    speaker: agent
    phrases: [您同意办理吗]
  reply_accept:
    speaker: customer
    phrases: [好的, 可以]
    replies_to: offer_question
  product:
    speaker: agent
    phrases: [推荐]
    product_name: true
    except: [流量包资费]
    unless_turn_says: [开玩笑]
"""


def _hits(pack, call: Call) -> dict:
    texts = [t.text for t in call.turns]
    speakers = [t.speaker for t in call.turns]
    product = call.product.name if call.product else None
    turns, hits = pack.index.read_call(texts, speakers, product)
    assert [t.original for t in turns] == texts
    return hits


def test_generated_and_bundled_calls_audit_the_same_remembered_or_not(tmp_path):
    generated = write_calls(tmp_path / "calls.jsonl", 400)
    remembering = PackChooser(REPO / "rules")
    forgetting = PackChooser(REPO / "rules")
    inputs = [str(generated), str(REPO / "transcripts")]
    compared = 0
    for _ in range(2):  # the second time every turn is remembered
        for call in load_calls(inputs):
            if not isinstance(call, Call):
                continue
            fresh = forgetting.for_call(call)
            fresh.index.memo.size = 0
            assert audit_call(remembering.for_call(call), call) == audit_call(fresh, call), \
                call.call_id
            compared += 1
    memos = [pack.index.memo for pack in remembering.loaded()]
    assert len(memos) == 2
    assert compared > 1000
    assert sum(m.recalled for m in memos) > sum(m.asked for m in memos) / 2


def test_the_product_name_is_matched_per_call_not_remembered(pack_factory):
    pack = pack_factory({"m.yaml": MATCHERS})
    said = [("agent", "给您介绍一下流量包和视频会员")]
    first = make_call(said, product={"code": "P", "name": "流量包", "monthly_fee": 5})
    second = make_call(said, product={"code": "V", "name": "视频会员", "monthly_fee": 5})
    third = make_call(said, product={"code": "M", "name": "音乐包", "monthly_fee": 5})
    assert _hits(pack, first) == {"product": [(0, 6, 9)]}
    assert _hits(pack, second) == {"product": [(0, 10, 14)]}
    assert _hits(pack, third) == {}
    assert _hits(pack, first) == {"product": [(0, 6, 9)]}


def test_a_remembered_turn_keeps_its_exceptions_and_vetoes_for_the_product_name(pack_factory):
    pack = pack_factory({"m.yaml": MATCHERS})
    product = {"code": "P", "name": "流量包", "monthly_fee": 5}
    excepted = make_call([("agent", "流量包资费五元")], product=product)
    vetoed = make_call([("agent", "流量包，开玩笑的")], product=product)
    for _ in range(2):
        assert _hits(pack, excepted) == {}
        assert _hits(pack, vetoed) == {}
    assert pack.index.memo.recalled == 2


def test_a_remembered_reply_counts_only_where_it_answers(pack_factory):
    pack = pack_factory({"m.yaml": MATCHERS})
    answered = make_call([("agent", "您同意办理吗？"), ("customer", "好的")])
    unasked = make_call([("agent", "您好"), ("customer", "好的")])
    assert _hits(pack, answered) == {"offer_question": [(0, 0, 6)], "reply_accept": [(1, 0, 2)]}
    assert _hits(pack, unasked) == {}
    far = make_call([("agent", "您同意办理吗？"), ("agent", "嗯"), ("agent", "嗯"),
                     ("customer", "好的")])
    assert _hits(pack, far) == {"offer_question": [(0, 0, 6)]}


def test_the_same_text_by_another_speaker_is_read_again(pack_factory):
    pack = pack_factory({"m.yaml": MATCHERS})
    asked = make_call([("agent", "您同意办理吗？"), ("customer", "您同意办理吗？")])
    assert _hits(pack, asked) == {"offer_question": [(0, 0, 6)]}
    assert pack.index.memo.recalled == 0


def test_the_memo_forgets_the_least_recently_used_turn_first():
    memo = TurnMemo(2)
    a, b, c = ("agent", "a"), ("agent", "b"), ("agent", "c")
    memo.keep([(a, "A"), (b, "B")])  # type: ignore[list-item]
    assert memo.recall([a]) == ["A"]  # a is now the most recent
    memo.keep([(c, "C")])  # type: ignore[list-item]
    assert memo.recall([a, b, c]) == ["A", None, "C"]
    assert (memo.asked, memo.recalled) == (4, 3)
    memo.clear()
    assert memo.recall([a]) == [None]


def test_threads_sharing_a_pack_find_what_one_thread_finds(tmp_path):
    """Dask workers run tasks in threads that share the worker's packs."""
    calls = [c for c in load_calls([str(write_calls(tmp_path / "c.jsonl", 120))])
             if isinstance(c, Call)]
    alone = PackChooser(REPO / "rules")
    expected = [audit_call(alone.for_call(c), c) for c in calls]
    shared = PackChooser(REPO / "rules")
    shared.preload()
    for pack in shared.loaded():
        pack.index.memo.size = 50  # turns are forgotten and read again all the time
    results: list[list] = [[], [], []]

    def audit(into: list) -> None:
        into.extend(audit_call(shared.for_call(c), c) for c in calls)

    threads = [threading.Thread(target=audit, args=(r,)) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 3


def test_a_reply_counts_only_in_the_turns_just_after_the_ask(pack_factory):
    pack = pack_factory({"m.yaml": """
matchers:
  ask:
    phrases: [办吗]
  yes:
    phrases: [好的]
    replies_to: ask
"""})
    call = make_call([("agent", "办吗？好的"), ("customer", "嗯"), ("customer", "好的"),
                      ("customer", "好的")])
    for _ in range(2):  # read, then remembered
        # Not in the asking turn itself, nor three turns on: within the default two.
        assert _hits(pack, call) == {"ask": [(0, 0, 2)], "yes": [(2, 0, 2)]}
