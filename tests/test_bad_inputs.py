"""A corpus of bad inputs: each gives a clear error naming file and record, goes to the
rejects, and every good call in the same input is still audited."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model import Call, Rejected
from engine.transcripts import load_calls
from engine.transcripts.csvturns import read_turn_csv
from engine.transcripts.dialogue import read_dialogue
from engine.transcripts.jsonl import read_jsonl
from tests.test_loaders_jsonl import GOOD, with_

GOOD_LINE = json.dumps(GOOD, ensure_ascii=False)


def audit_input(path):
    results = list(load_calls([path]))
    return ([r for r in results if isinstance(r, Call)],
            [r for r in results if isinstance(r, Rejected)])


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"call_id": "X", "turns": [{"speaker": "agent", "te', "broken JSON"),
        (json.dumps(with_(call_id="X", turns=[
            {"speaker": "agent", "text": "b", "start": 9, "end": 10},
            {"speaker": "customer", "text": "a", "start": 1, "end": 2}])),
         "turn 1 starts at 1s, before turn 0 (9s): the turns are out of order"),
        (json.dumps(with_(call_id="X", turns=[{"speaker": "agent", "text": "a\u0000b"}])),
         "turn 0 text contains NUL characters"),
        (json.dumps(with_(call_id="X", agent_id=["A1"])), "'agent_id' must be a string"),
        (json.dumps(with_(call_id="")), "missing 'call_id'"),
        (json.dumps(with_(call_id="X", turns=[{"speaker": "", "text": "x"}])),
         "turn 0 has unknown speaker ''"),
    ],
)
def test_bad_record_among_good_ones(tmp_path, bad, reason):
    path = tmp_path / "night.jsonl"
    path.write_text("\n".join([GOOD_LINE, bad, json.dumps(with_(call_id="C-9"))]) + "\n",
                    encoding="utf-8")
    calls, rejected = audit_input(path)
    assert [c.call_id for c in calls] == ["C-1", "C-9"]
    (rejection,) = rejected
    assert rejection.source.line == 2 and rejection.reason.startswith(reason)


def test_overlapping_turns_are_normal_speech(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(with_(turns=[
        {"speaker": "agent", "text": "您好", "start": 0, "end": 3},
        {"speaker": "customer", "text": "喂", "start": 2, "end": 4}])) + "\n", encoding="utf-8")
    calls, rejected = audit_input(path)
    assert len(calls) == 1 and rejected == []


def test_control_characters_become_spaces_keeping_spans(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(with_(turns=[{"speaker": "agent", "text": "好\x07的"}])) + "\n",
                    encoding="utf-8")
    (call,), _ = audit_input(path)
    assert call.turns[0].text == "好 的"


def test_a_50_mb_line_is_rejected_without_dragging_the_rest(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(GOOD_LINE + "\n")
        handle.write('{"call_id": "HUGE", "turns": [' + "x" * (50 * 1024 * 1024) + "\n")
        handle.write(json.dumps(with_(call_id="C-9")) + "\n")
    calls, rejected = audit_input(path)
    assert [c.call_id for c in calls] == ["C-1", "C-9"]
    assert rejected[0].reason.startswith("broken JSON") and len(rejected[0].excerpt) <= 200


def test_empty_files_and_broken_links_are_listed(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n\n", encoding="utf-8")
    os.symlink(tmp_path / "gone.jsonl", tmp_path / "link.jsonl")
    (tmp_path / "good.jsonl").write_text(GOOD_LINE + "\n", encoding="utf-8")
    calls, rejected = audit_input(tmp_path)
    assert [c.call_id for c in calls] == ["C-1"]
    reasons = {r.source.path.rsplit("/", 1)[-1]: r.reason for r in rejected}
    assert reasons["empty.jsonl"] == "the file holds no calls (it is empty)"
    assert reasons["link.jsonl"].startswith("a broken link")
    assert reasons["blank.txt"].startswith("no dialogue lines")


def test_mixed_encodings_line_by_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(GOOD_LINE.encode("utf-8") + b"\n"
                     + json.dumps(with_(call_id="G"), ensure_ascii=False).encode("gb18030")
                     + b"\n\xff\xfe\n")
    calls, rejected = audit_input(path)
    assert [c.call_id for c in calls] == ["C-1", "G"]
    assert "neither UTF-8 nor GB18030" in rejected[0].reason


# -- no input makes a loader crash ---------------------------------------------------------

ANY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ANY
@given(st.binary(max_size=400))
def test_jsonl_loader_never_crashes(data):
    for result in read_jsonl("x.jsonl", data.splitlines()):
        assert isinstance(result, (Call, Rejected))


@ANY
@given(st.text(max_size=400))
def test_dialogue_loader_never_crashes(text):
    for result in read_dialogue("x.txt", text.encode("utf-8")):
        assert isinstance(result, (Call, Rejected))


@ANY
@given(st.text(alphabet=st.sampled_from("call_id,speaker,text,start\n\"坐席客户agent1:2.5 "),
               max_size=300))
def test_csv_loader_never_crashes(text):
    for result in read_turn_csv("x.csv", ("call_id,speaker,text,start\n" + text).encode()):
        assert isinstance(result, (Call, Rejected))
