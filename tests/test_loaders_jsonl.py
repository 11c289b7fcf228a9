"""The interchange format: every good field kept, every bad record named and explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.model import Call, Rejected
from engine.transcripts import count_units, load_calls

GOOD = {
    "call_id": "C-1",
    "call_type": "second_confirmation",
    "agent_id": "A01",
    "customer_phone": "13800138000",
    "started_at": "2026-11-23T10:00:00+08:00",
    "language": "zh",
    "product": {"code": "TV30", "name": "视频会员", "monthly_fee": 10, "currency": "CNY",
                "trial_days": 30},
    "related_call_id": "C-0",
    "campaign": "winter",
    "turns": [
        {"speaker": "agent", "text": "您好", "start": 0, "end": 1.5},
        {"speaker": "customer", "text": "你好", "start": 1.5, "end": 2, "confidence": 0.9},
    ],
}


def load(path: Path) -> list[Call | Rejected]:
    return list(load_calls([path]))


def write(path: Path, *lines: str | dict, encoding: str = "utf-8", bom: bool = False) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
                     for x in lines) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def test_every_field_is_read_and_extra_fields_are_kept(tmp_path):
    (call,) = load(write(tmp_path / "c.jsonl", GOOD))
    assert isinstance(call, Call)
    assert call.call_type == "second_confirmation"
    assert call.started_at.isoformat() == "2026-11-23T10:00:00+08:00"
    assert call.product.monthly_fee == 10.0 and call.product.trial_days == 30
    assert call.has_trial and call.related_call_id == "C-0"
    assert call.turns[1].confidence == 0.9 and call.turns[0].end == 1.5
    assert dict(call.extra) == {"campaign": "winter"}
    assert str(call.source).endswith("c.jsonl:1")


def test_utf8_bom_and_gb18030_lines(tmp_path):
    assert isinstance(load(write(tmp_path / "a.jsonl", GOOD, bom=True))[0], Call)
    (call,) = load(write(tmp_path / "b.jsonl", GOOD, encoding="gb18030"))
    assert call.product.name == "视频会员"


def with_(**changes: object) -> dict:
    record = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    return record


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("{\"call_id\": \"C-1\", \"turns\": [", "broken JSON"),
        ("[1, 2]", "a call must be a JSON object, not a list"),
        (with_(turns=None), "missing 'turns'"),
        (with_(turns=[]), "'turns' is empty"),
        (with_(turns="hello"), "'turns' must be a list, not a string"),
        (with_(call_id=None), "missing 'call_id'"),
        (with_(call_type="upsell"), "unknown call_type 'upsell'"),
        (with_(language="fr"), "unknown language 'fr'"),
        (with_(started_at="yesterday"), "'started_at' is not an ISO 8601 time: 'yesterday'"),
        (with_(started_at="2026-11-23T10:00:00"), "'started_at' has no UTC offset"),
        (with_(turns=[{"speaker": "boss", "text": "x", "start": 0, "end": 1}]),
         "turn 0 has unknown speaker 'boss'"),
        (with_(turns=[{"speaker": "agent", "text": "x", "start": "soon", "end": 1}]),
         "turn 0 start is not a number: 'soon'"),
        (with_(turns=[{"speaker": "agent", "text": "x", "start": 5, "end": 1}]),
         "turn 0 ends (1.0) before it starts (5.0)"),
        (with_(turns=[{"speaker": "agent", "text": "x", "start": -0.5, "end": 1}]),
         "turn 0 start must be a finite number of seconds ≥ 0, not -0.5"),
        (with_(turns=[{"speaker": "agent", "text": "x", "start": 0, "end": True}]),
         "turn 0 end must be a number of seconds, not true/false"),
        (with_(turns=[{"speaker": "agent", "start": 0, "end": 1}]), "turn 0 has no text"),
        (with_(product={"monthly_fee": "five"}), "'product.monthly_fee' is not a number"),
        (with_(product={"trial_days": 1.5}), "'product.trial_days' must be a whole number"),
    ],
)
def test_bad_record_is_rejected_with_line_reason_and_hint(tmp_path, record, reason):
    results = load(write(tmp_path / "c.jsonl", with_(call_id="OK-1"), record,
                         with_(call_id="OK-2")))
    assert [r.call_id for r in results if isinstance(r, Call)] == ["OK-1", "OK-2"]
    (rejected,) = [r for r in results if isinstance(r, Rejected)]
    assert rejected.source.line == 2
    assert rejected.reason.startswith(reason)
    assert rejected.hint


def test_undecodable_line_is_rejected_alone(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe\xfd\x80\n" + json.dumps(
        with_(call_id="C-2")).encode() + b"\n")
    results = load(path)
    assert [type(r).__name__ for r in results] == ["Call", "Rejected", "Call"]
    assert "neither UTF-8 nor GB18030" in results[1].reason


def test_json_document_with_a_list_of_calls(tmp_path):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([GOOD, with_(call_id="C-2", turns=None)], indent=2),
                    encoding="utf-8")
    results = load(path)
    assert isinstance(results[0], Call)
    assert results[1].reason == "missing 'turns'" and results[1].source.line == 2


def test_folders_are_read_recursively_skipping_sidecars_and_labels(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "b.jsonl", GOOD)
    write(tmp_path / "x.labels.jsonl", {"call_id": "C-1", "violations": []})
    (tmp_path / "notes.md").write_text("not a transcript", encoding="utf-8")
    results = load(tmp_path)
    assert [type(r).__name__ for r in results] == ["Call"]


def test_unknown_suffix_named_directly_is_rejected(tmp_path):
    path = tmp_path / "call.docx"
    path.write_bytes(b"PK")
    (rejected,) = load(path)
    assert rejected.reason == "unknown transcript format '.docx'"


def test_count_units_counts_lines_with_or_without_final_newline(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"{}\n{}\n{}")
    assert count_units(path) == 3
    path.write_bytes(b"{}\n{}\n")
    assert count_units(path) == 2
