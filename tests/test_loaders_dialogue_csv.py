"""Dialogue text (.txt) and one-row-per-turn CSV loaders."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engine.model import Call, Product, Rejected, SourceRef
from engine.transcripts import load_calls
from engine.transcripts.csvturns import read_turn_csv
from engine.transcripts.dialogue import read_dialogue

SAMPLES = Path(__file__).resolve().parent.parent / "transcripts" / "samples"
CST = timezone(timedelta(hours=8))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def load(*paths: Path) -> list[Call | Rejected]:
    return list(load_calls(list(paths)))


def one(results: list[Call | Rejected]) -> Call | Rejected:
    assert len(results) == 1, results
    return results[0]


def only_call(results: list[Call | Rejected]) -> Call:
    result = one(results)
    assert isinstance(result, Call), result
    return result


def only_rejected(results: list[Call | Rejected]) -> Rejected:
    result = one(results)
    assert isinstance(result, Rejected), result
    return result


def dialogue(text: str, name: str = "call.txt") -> list[Call | Rejected]:
    return list(read_dialogue(name, text.encode("utf-8")))


def turn_csv(text: str, encoding: str = "utf-8") -> list[Call | Rejected]:
    return list(read_turn_csv("turns.csv", text.encode(encoding)))


def speakers_and_texts(call: Call) -> list[tuple[str, str]]:
    return [(turn.speaker, turn.text) for turn in call.turns]


# --- dialogue: speakers, times, wrapped lines ----------------------------------------------


@pytest.mark.parametrize(
    ("label", "speaker"),
    [
        ("坐席", "agent"),
        ("客服", "agent"),
        ("座席", "agent"),
        ("话务员", "agent"),
        ("客户", "customer"),
        ("用户", "customer"),
        ("顾客", "customer"),
        ("Agent", "agent"),
        ("Customer", "customer"),
        ("AGENT", "agent"),
        ("customer", "customer"),
    ],
)
@pytest.mark.parametrize("colon", ["：", ":", " : "])
def test_dialogue_speaker_labels(label: str, speaker: str, colon: str) -> None:
    call = only_call(dialogue(f"{label}{colon}你好\n"))
    assert speakers_and_texts(call) == [(speaker, "你好")]


def test_dialogue_bracket_times_and_ends() -> None:
    call = only_call(
        dialogue(
            "[00:00] 坐席：您好\n"
            "[00:04] 客户：嗯，你说\n"
            "[01:02:05] 客服: 第三句\n"
            "[1:02:07.5] 用户：第四句\n"
        )
    )
    assert [(t.speaker, t.start, t.end) for t in call.turns] == [
        ("agent", 0.0, 4.0),
        ("customer", 4.0, 3725.0),
        ("agent", 3725.0, 3727.5),
        ("customer", 3727.5, 3727.5),
    ]
    assert call.turns[1].text == "嗯，你说"


def test_dialogue_fractional_minute_seconds_time() -> None:
    call = only_call(dialogue("[00:01.5] 坐席：您好\n[00:03.25] 客户：嗯\n"))
    assert [(t.start, t.end) for t in call.turns] == [(1.5, 3.25), (3.25, 3.25)]


def test_dialogue_without_times_has_no_times() -> None:
    call = only_call(dialogue("Agent: Hello, this is Sam\nCustomer: yes speaking\n"))
    assert [(t.start, t.end) for t in call.turns] == [(None, None), (None, None)]
    assert speakers_and_texts(call) == [
        ("agent", "Hello, this is Sam"),
        ("customer", "yes speaking"),
    ]


def test_dialogue_wrapped_lines_join_without_space_in_chinese_with_space_in_english() -> None:
    call = only_call(
        dialogue(
            "[00:00] 坐席：您好，我是中国电信的\n"
            "客服小王\n"
            "\n"
            "[00:05] 客户：嗯\n"
            "Agent: The first 30 days\n"
            "are free.\n"
            "  and then $4.99 a month\n"
            "[笑声]\n"
        )
    )
    assert speakers_and_texts(call) == [
        ("agent", "您好，我是中国电信的客服小王"),
        ("customer", "嗯"),
        ("agent", "The first 30 days are free. and then $4.99 a month [笑声]"),
    ]


def test_dialogue_url_in_wrapped_line_is_not_a_speaker() -> None:
    call = only_call(dialogue("Agent: details are at\nhttps://example.com/offer\n"))
    assert call.turns[0].text == "details are at https://example.com/offer"


# --- dialogue: metadata from header lines and sidecars ------------------------------------


ZH_HEADER = """\
# call_id: C20261123-0001
# call_type: sale
# agent_id: A017
# customer_phone: 13800138001
# started_at: 2026-11-23T09:30:00+08:00
# language: zh
# product_code: LLB10
# product_name: 流量包
# monthly_fee: 10
# currency: CNY
# trial_days: 30
# campaign: 双十一回馈
# exported by platform v2
"""


def test_dialogue_header_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "whatever.txt", ZH_HEADER + "[00:00] 坐席：您好\n[00:04] 客户：嗯\n")
    call = only_call(load(path))
    assert call.call_id == "C20261123-0001"
    assert call.call_type == "sale"
    assert call.agent_id == "A017"
    assert call.customer_phone == "13800138001"
    assert call.started_at == datetime(2026, 11, 23, 9, 30, tzinfo=CST)
    assert call.language == "zh"
    assert call.product == Product("LLB10", "流量包", 10.0, "CNY", 30)
    assert call.extra == (("campaign", "双十一回馈"),)  # the plain comment is not a field
    assert call.source == SourceRef(str(path))


def test_dialogue_header_without_hash_and_full_width_colon() -> None:
    call = only_call(
        dialogue(
            "call_id：C9\n"
            "call_type: callback\n"
            "Language : EN\n"
            "trial_days：0\n"
            "Agent: Hi, returning your call\n"
        )
    )
    assert (call.call_id, call.call_type, call.language) == ("C9", "callback", "en")
    assert call.product == Product(trial_days=0)
    assert not call.has_trial


def test_dialogue_defaults_call_id_type_and_language(tmp_path: Path) -> None:
    zh = only_call(load(write(tmp_path / "C-77.txt", "坐席：您好，请问是机主吗\n客户：OK\n")))
    assert (zh.call_id, zh.call_type, zh.language) == ("C-77", "sale", "zh")
    assert zh.started_at is None and zh.product is None
    en = only_call(load(write(tmp_path / "E-1.txt", "Agent: Hello there, 王先生\nCustomer: yes\n")))
    assert (en.call_id, en.call_type, en.language) == ("E-1", "sale", "en")


def test_dialogue_json_sidecar_with_nested_product_header_overrides(tmp_path: Path) -> None:
    meta = {
        "call_id": "C-SIDE",
        "call_type": "second_confirmation",
        "agent_id": "A001",
        "related_call_id": "C-SALE",
        "product": {"code": "VR5", "monthly_fee": 5, "trial_days": 7, "currency": "CNY"},
        "crm_ticket": 4411,
    }
    (tmp_path / "call.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    path = write(tmp_path / "call.txt", "# agent_id: A002\n# monthly_fee: 6\n坐席：您好\n")
    call = only_call(load(path))
    assert call.call_id == "C-SIDE"
    assert call.call_type == "second_confirmation"
    assert call.related_call_id == "C-SALE"
    assert call.agent_id == "A002"  # header line wins over the sidecar
    assert call.product == Product("VR5", None, 6.0, "CNY", 7)
    assert call.extra == (("crm_ticket", 4411),)


def test_dialogue_yaml_sidecar(tmp_path: Path) -> None:
    (tmp_path / "c1.meta.yaml").write_text(
        "call_id: 0001\n"
        "started_at: 2026-11-23T09:30:00+08:00\n"
        "language: zh\n"
        "product:\n"
        "  code: LLB10\n"
        "  name: 流量包\n"
        "  monthly_fee: 9.9\n"
        "  trial_days: 30\n",
        encoding="utf-8",
    )
    call = only_call(load(write(tmp_path / "c1.txt", "Agent: hi\nCustomer: hello\n")))
    assert call.call_id == "0001"  # kept as written, not read as a YAML number
    assert call.started_at == datetime(2026, 11, 23, 9, 30, tzinfo=CST)
    assert call.language == "zh"  # from the sidecar, though the text is English
    assert call.product == Product("LLB10", "流量包", 9.9, None, 30)


def test_sidecar_is_not_loaded_as_a_transcript_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "c1.meta.json").write_text('{"call_id": "X1"}', encoding="utf-8")
    write(tmp_path / "c1.txt", "坐席：您好\n")
    assert [r.call_id for r in load(tmp_path)] == ["X1"]


# --- dialogue: encodings --------------------------------------------------------------------

ZH_DIALOGUE = "# call_id: 编码测试\n[00:00] 坐席：您好，流量包每月十元\n[00:03] 客户：好的\n"


@pytest.mark.parametrize(
    "data",
    [
        ZH_DIALOGUE.encode("utf-8"),
        b"\xef\xbb\xbf" + ZH_DIALOGUE.encode("utf-8"),
        ZH_DIALOGUE.encode("gbk"),
        ZH_DIALOGUE.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030"],
)
def test_dialogue_encodings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "enc.txt"
    path.write_bytes(data)
    call = only_call(load(path))
    assert call.call_id == "编码测试"
    assert speakers_and_texts(call) == [("agent", "您好，流量包每月十元"), ("customer", "好的")]


def test_dialogue_undecodable_bytes_rejected() -> None:
    rejected = only_rejected(list(read_dialogue("bad.txt", b"Agent: hi\n\x80\xff\x80\n")))
    assert rejected.source == SourceRef("bad.txt")
    assert rejected.reason.startswith("undecodable text: bytes at line 2")
    assert rejected.call_id == "bad"


# --- dialogue: bad records ------------------------------------------------------------------


def test_dialogue_unknown_speaker_rejects_call_with_line_number() -> None:
    rejected = only_rejected(
        dialogue("# call_id: C5\n[00:00] 坐席：您好\n\n经理：我来说两句\n客户：嗯\n")
    )
    assert rejected.source == SourceRef("call.txt", 4)
    assert rejected.reason == "line 4: unknown speaker '经理'"
    assert "坐席" in rejected.hint and "customer" in rejected.hint
    assert rejected.call_id == "C5"
    assert rejected.excerpt == "经理：我来说两句"


def test_dialogue_unknown_speaker_before_any_turn() -> None:
    rejected = only_rejected(dialogue("Supervisor: listen in\nAgent: hi\n", name="s.txt"))
    assert (rejected.source, rejected.reason) == (
        SourceRef("s.txt", 1),
        "line 1: unknown speaker 'Supervisor'",
    )
    assert rejected.hint.endswith("write other metadata as '# key: value'")
    assert rejected.call_id == "s"


def test_dialogue_unknown_speaker_after_time() -> None:
    rejected = only_rejected(dialogue("[00:00] 坐席：您好\n[00:03] 说话人2：喂\n"))
    assert (rejected.source.line, rejected.reason) == (2, "line 2: unknown speaker '说话人2'")


def test_dialogue_time_without_speaker() -> None:
    rejected = only_rejected(dialogue("[00:00] 坐席：您好\n[00:03] 嗯嗯\n"))
    assert rejected.reason == "line 2: no speaker after [00:03]"


@pytest.mark.parametrize("time", ["ab:cd", "00:75", "1:60:00", "00：x"])
def test_dialogue_non_numeric_time_rejected(time: str) -> None:
    rejected = only_rejected(dialogue(f"[00:00] 坐席：您好\n[{time}] 客户：嗯\n"))
    assert rejected.source == SourceRef("call.txt", 2)
    assert rejected.reason == f"line 2: time [{time}] is not mm:ss or hh:mm:ss"
    assert "[mm:ss]" in rejected.hint


def test_dialogue_times_going_backwards_rejected() -> None:
    rejected = only_rejected(dialogue("[00:10] 坐席：您好\n客户：嗯\n[00:05] 坐席：好\n"))
    assert rejected.source.line == 3
    assert rejected.reason == "line 3: time [00:05] is earlier than the turn on line 1"


def test_dialogue_without_dialogue_lines_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.txt", "# call_id: C0\n# call_type: sale\n\n")
    rejected = only_rejected(load(path))
    assert rejected.source == SourceRef(str(path))
    assert rejected.reason == "no dialogue lines found"
    assert "坐席：您好" in rejected.hint and "Agent: Hello" in rejected.hint
    assert rejected.call_id == "C0"


def test_dialogue_text_before_first_speaker_rejected() -> None:
    rejected = only_rejected(dialogue("通话录音转写稿\n坐席：您好\n"))
    assert (rejected.source.line, rejected.reason) == (
        1,
        "line 1: text before the first speaker line",
    )


def test_dialogue_metadata_after_dialogue_rejected() -> None:
    rejected = only_rejected(dialogue("坐席：您好\n# call_type: callback\n"))
    assert rejected.reason == "line 2: metadata 'call_type' after the dialogue started"


def test_dialogue_comment_after_dialogue_is_skipped() -> None:
    call = only_call(dialogue("# call_id: C1\n坐席：您好\n# note: transferred\n客户：嗯\n"))
    assert speakers_and_texts(call) == [("agent", "您好"), ("customer", "嗯")]
    assert call.extra == ()


def test_dialogue_duplicate_header_key_rejected() -> None:
    rejected = only_rejected(dialogue("# call_id: A\n# call_id: B\n坐席：您好\n"))
    assert rejected.reason == "line 2: 'call_id' is given twice (first on line 1)"


def test_dialogue_non_numeric_fee_rejected_at_its_header_line() -> None:
    rejected = only_rejected(dialogue("# call_id: C1\n# monthly_fee: 十元\n坐席：您好\n"))
    assert rejected.source == SourceRef("call.txt", 2)
    assert rejected.reason == "'product.monthly_fee' is not a number: '十元'"
    assert rejected.call_id == "C1"


def test_dialogue_bad_started_at_rejected_at_its_header_line() -> None:
    rejected = only_rejected(dialogue("\n# started_at: 2026-11-23 09:30\n坐席：您好\n"))
    assert rejected.source == SourceRef("call.txt", 2)
    assert rejected.reason == "'started_at' has no UTC offset: '2026-11-23 09:30'"


def test_dialogue_bad_field_from_sidecar_names_the_sidecar(tmp_path: Path) -> None:
    sidecar = tmp_path / "c.meta.json"
    sidecar.write_text('{"call_type": "upsell"}', encoding="utf-8")
    rejected = only_rejected(load(write(tmp_path / "c.txt", "坐席：您好\n")))
    assert rejected.source == SourceRef(str(sidecar))
    assert rejected.reason == "unknown call_type 'upsell'"


@pytest.mark.parametrize(
    ("name", "content", "reason", "line"),
    [
        ("c.meta.json", '{"call_id": "C1",', "not valid JSON", None),
        ("c.meta.json", '["C1"]', "it holds list, not a mapping of call fields", None),
        ("c.meta.yaml", "call_id: C1\nproduct: [unclosed\n", "not valid YAML", 3),
        ("c.meta.yaml", "- just\n- a list\n", "it holds list, not a mapping", None),
        ("c.meta.yaml", "turns: []\n", "'turns' cannot be given as call metadata", None),
    ],
)
def test_dialogue_broken_sidecar_rejected(
    tmp_path: Path, name: str, content: str, reason: str, line: int | None
) -> None:
    sidecar = tmp_path / name
    sidecar.write_text(content, encoding="utf-8")
    rejected = only_rejected(load(write(tmp_path / "c.txt", "坐席：您好\n")))
    assert rejected.source == SourceRef(str(sidecar), line)
    assert reason in rejected.reason
    if not reason.startswith("'turns'"):
        assert rejected.reason.startswith(f"broken metadata sidecar {name}: ")
    assert rejected.call_id == "c"


def test_dialogue_two_sidecars_rejected(tmp_path: Path) -> None:
    (tmp_path / "c.meta.json").write_text("{}", encoding="utf-8")
    (tmp_path / "c.meta.yaml").write_text("{}", encoding="utf-8")
    rejected = only_rejected(load(write(tmp_path / "c.txt", "坐席：您好\n")))
    assert rejected.reason == "more than one metadata sidecar: c.meta.json and c.meta.yaml"


def test_dialogue_bad_files_do_not_stop_good_ones(tmp_path: Path) -> None:
    write(tmp_path / "a_good.txt", "坐席：您好\n客户：嗯\n")
    write(tmp_path / "b_bad.txt", "经理：你好\n")
    write(tmp_path / "c_good.txt", "Agent: hi\n", encoding="gbk")
    (tmp_path / "d_broken.meta.json").write_text("{", encoding="utf-8")
    write(tmp_path / "d_broken.txt", "坐席：您好\n")
    results = load(tmp_path)
    assert [(type(r).__name__, r.call_id) for r in results] == [
        ("Call", "a_good"),
        ("Rejected", "b_bad"),
        ("Call", "c_good"),
        ("Rejected", "d_broken"),
    ]


# --- CSV --------------------------------------------------------------------------------------


def test_csv_basic_columns_and_times() -> None:
    results = turn_csv(
        "call_id,speaker,text,start,end\n"
        "C1,agent,Hello there,0,2.5\n"
        "C1,Customer,Hi,00:02.5,01:04\n"
        "C1,坐席,Third,1:00:00,01:00:03\n"
    )
    call = only_call(results)
    assert call.call_id == "C1"
    assert [(t.speaker, t.text, t.start, t.end) for t in call.turns] == [
        ("agent", "Hello there", 0.0, 2.5),
        ("customer", "Hi", 2.5, 64.0),
        ("agent", "Third", 3600.0, 3603.0),
    ]
    assert (call.call_type, call.language) == ("sale", "en")
    assert call.source == SourceRef("turns.csv", 2)


def test_csv_aliases_and_call_level_columns_from_the_first_row() -> None:
    results = turn_csv(
        "通话ID,Role,Utterance,Start Time,END_TIME,坐席工号,phone,Started_At,"
        "product_code,monthly_fee,trial_days,related_call_id,call_type,批次\n"
        "C1,客服,您好,0,3,A017,13800138004,2026-11-23T09:30:00+08:00,"
        "LLB10,10,30,C0,second_confirmation,B7\n"
        "C1,顾客,嗯,3,4,A999,,,,,,,,B8\n"
    )
    call = only_call(results)
    assert call.agent_id == "A017"  # the first row's value, not a later one
    assert call.customer_phone == "13800138004"
    assert call.started_at == datetime(2026, 11, 23, 9, 30, tzinfo=CST)
    assert call.product == Product("LLB10", None, 10.0, None, 30)
    assert call.related_call_id == "C0"
    assert call.call_type == "second_confirmation"
    assert call.language == "zh"
    assert call.extra == (("批次", "B7"),)
    assert speakers_and_texts(call) == [("agent", "您好"), ("customer", "嗯")]


def test_csv_groups_non_contiguous_rows_in_first_appearance_order() -> None:
    results = turn_csv(
        "call_id,speaker,text,start\n"
        "B,agent,b1,0\n"
        "A,agent,a1,0\n"
        "B,customer,b2,5\n"
        "\n"
        "A,customer,a2,3\n"
        "B,agent,b3,9\n"
    )
    assert [r.call_id for r in results] == ["B", "A"]
    b, a = results
    assert isinstance(b, Call) and isinstance(a, Call)
    assert [(t.text, t.start) for t in b.turns] == [("b1", 0.0), ("b2", 5.0), ("b3", 9.0)]
    assert [t.text for t in a.turns] == ["a1", "a2"]
    assert a.source == SourceRef("turns.csv", 3)
    assert all(t.end is None for t in b.turns)  # no end column: ends are not invented


def test_csv_quoted_multiline_cells_keep_line_numbers() -> None:
    results = turn_csv(
        "call_id,speaker,text,start\r\n"
        'C1,agent,"first line\r\nsecond line, with comma",0\r\n'
        "C1,customer,ok,x\r\n"
    )
    rejected = only_rejected(results)
    assert rejected.source == SourceRef("turns.csv", 4)
    assert rejected.reason == "line 4: column 'start' is not a time: 'x'"


def test_csv_multiline_cell_text() -> None:
    call = only_call(turn_csv('call_id,speaker,text\nC1,agent,"one\r\ntwo"\n'))
    assert call.turns[0].text == "one\ntwo"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = write(
        tmp_path / "gbk.csv",
        "通话编号,角色,内容,开始,结束\nC1,坐席,您好，流量包,00:00,00:03\nC1,客户,好的,00:03,00:04\n",
        encoding,
    )
    call = only_call(load(path))
    assert call.call_id == "C1"
    assert speakers_and_texts(call) == [("agent", "您好，流量包"), ("customer", "好的")]
    assert [t.end for t in call.turns] == [3.0, 4.0]


def test_csv_missing_required_column_rejects_file(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "\n通话编号,内容,开始\nC1,您好,0\nC2,嗯,0\n")
    rejected = only_rejected(load(path))
    assert rejected.source == SourceRef(str(path), 2)
    assert rejected.reason == "missing column 'speaker' (columns found: '通话编号', '内容', '开始')"
    assert "角色" in rejected.hint


def test_csv_doubled_column_rejects_file() -> None:
    rejected = only_rejected(turn_csv("call_id,speaker,text,内容\nC1,agent,a,b\n"))
    assert rejected.reason == "columns 'text' and '内容' both give text"


def test_csv_bad_time_rejects_only_that_call(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "call_id,speaker,text,start,结束\n"
        "C1,agent,hello,0,1\n"
        "C2,agent,hi,0,1\n"
        "C2,customer,yes,1,ab\n"
        "C3,agent,hey,0,1\n"
        "C2,agent,more,2,3\n",
    )
    results = load(path)
    assert [(type(r).__name__, r.call_id) for r in results] == [
        ("Call", "C1"),
        ("Rejected", "C2"),
        ("Call", "C3"),
    ]
    rejected = results[1]
    assert isinstance(rejected, Rejected)
    assert rejected.source == SourceRef(str(path), 4)
    assert rejected.reason == "line 4: column '结束' is not a time: 'ab'"
    assert rejected.excerpt == "C2,customer,yes,1,ab"


def test_csv_unknown_speaker_rejects_only_that_call() -> None:
    results = turn_csv("通话编号,角色,内容\nC1,经理,你好\nC2,坐席,您好\nC1,,嗯\n")
    assert [(type(r).__name__, r.call_id) for r in results] == [
        ("Rejected", "C1"),
        ("Call", "C2"),
    ]
    rejected = results[0]
    assert isinstance(rejected, Rejected)
    assert (rejected.source.line, rejected.reason) == (
        2,
        "line 2: unknown speaker '经理' in column '角色'",
    )
    assert "坐席" in rejected.hint


def test_csv_wrong_cell_count_and_missing_call_id() -> None:
    results = turn_csv(
        "call_id,speaker,text\n"
        "C1,agent,hello, world\n"  # unquoted comma: one cell too many
        ",agent,orphan\n"
        "C2,agent,fine\n"
    )
    assert [(type(r).__name__, r.call_id, r.source.line) for r in results] == [
        ("Rejected", "C1", 2),
        ("Rejected", None, 3),
        ("Call", "C2", 4),
    ]
    too_many, no_id = results[0], results[1]
    assert isinstance(too_many, Rejected) and isinstance(no_id, Rejected)
    assert too_many.reason == "line 2: row has 4 cells but the header has 3"
    assert no_id.reason == "line 3: no call id in column 'call_id'"


def test_csv_record_error_points_at_the_turn_row() -> None:
    results = turn_csv("call_id,speaker,text,start,end\nC1,agent,a,0,1\nC1,customer,b,5,2\n")
    rejected = only_rejected(results)
    assert rejected.source == SourceRef("turns.csv", 3)
    assert rejected.reason == "turn 1 ends (2.0) before it starts (5.0)"


def test_csv_bad_call_level_value_points_at_its_row() -> None:
    results = turn_csv("call_id,speaker,text,language\nC1,agent,a,\nC1,agent,b,fr\nC2,agent,c,en\n")
    assert [(type(r).__name__, r.call_id) for r in results] == [
        ("Rejected", "C1"),
        ("Call", "C2"),
    ]
    rejected = results[0]
    assert isinstance(rejected, Rejected)
    assert (rejected.source.line, rejected.reason) == (3, "unknown language 'fr'")


def test_csv_broken_quoting_rejects_the_calls_it_may_have_cut_short() -> None:
    results = turn_csv('call_id,speaker,text\nC1,agent,hello\nC2,agent,"never closed\nC3,agent,x\n')
    assert [(type(r).__name__, r.call_id) for r in results] == [
        ("Rejected", "C1"),
        ("Rejected", None),
    ]
    assert results[0].reason.startswith("the CSV breaks at line 3 before this call's rows")
    rejected = results[1]
    assert isinstance(rejected, Rejected)
    assert rejected.source == SourceRef("turns.csv", 3)
    assert rejected.reason.startswith("line 3: broken CSV (")
    assert "rest of the file were not read" in rejected.reason


def test_csv_empty_and_header_only_files_rejected() -> None:
    empty = only_rejected(turn_csv("\n\n"))
    assert empty.reason == "empty CSV file: no header row"
    header_only = only_rejected(turn_csv("call_id,speaker,text\n"))
    assert header_only.reason == "no turn rows below the header"


def test_csv_language_detection_per_call() -> None:
    results = turn_csv("call_id,speaker,text\nZ,坐席,您好，请问是机主吗\nE,agent,Hello there\n")
    assert [(r.call_id, r.language) for r in results if isinstance(r, Call)] == [
        ("Z", "zh"),
        ("E", "en"),
    ]


# --- the sample files -------------------------------------------------------------------------


def test_samples_load() -> None:
    results = load(SAMPLES)
    assert [r for r in results if isinstance(r, Rejected)] == []
    calls = {r.call_id: r for r in results if isinstance(r, Call)
             and r.source is not None and not r.source.path.endswith(".jsonl")}
    assert list(calls) == ["E20261123-0042", "C20261123-0001", "C20261124-0101", "C20261124-0102"]

    en = calls["E20261123-0042"]
    assert en.language == "en" and len(en.turns) == 10
    assert en.turns[0].speaker == "agent" and en.turns[-1].speaker == "customer"
    assert any("don't call me again" in t.text for t in en.turns if t.speaker == "customer")

    zh = calls["C20261123-0001"]
    assert zh.language == "zh" and zh.has_trial
    assert zh.product == Product("LLB10", "视频定向流量包", 10.0, "CNY", 30)
    assert zh.turns[2].text.endswith("刷抖音、看视频都不耗您套餐里的流量。")  # wrapped line
    assert (zh.turns[-1].start, zh.turns[-1].end) == (67.0, 67.0)

    assert (SAMPLES / "turns_gbk.csv").read_bytes().decode("gbk").startswith("通话编号,角色")
    confirm = calls["C20261124-0102"]
    assert confirm.call_type == "second_confirmation"
    assert confirm.customer_phone == "13800138003"
    assert [t.speaker for t in confirm.turns] == ["agent", "customer"] * 2 + ["agent"]


def test_sound_note_before_the_label_stays_with_the_speaker() -> None:
    (call,) = list(read_dialogue("x.txt", "坐席：您好\n[笑声] 客户：好的\n".encode()))
    assert isinstance(call, Call)
    assert [(t.speaker, t.text) for t in call.turns] == [("agent", "您好"),
                                                         ("customer", "[笑声]好的")]


def test_numbered_diarisation_label_is_an_unknown_speaker_not_a_wrapped_line() -> None:
    (rejected,) = list(read_dialogue("x.txt", b"Agent: hi\nSpeaker 2: yes\n"))
    assert isinstance(rejected, Rejected)
    assert rejected.reason == "line 2: unknown speaker 'Speaker 2'"
