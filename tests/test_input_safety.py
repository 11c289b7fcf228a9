"""Inputs that must not break a night: control characters in identifiers, YAML sidecars
made of aliases. Each is a reject naming file and line, and the rest of the batch goes on."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine.model import Call, Rejected, SourceRef
from engine.transcripts import load_calls
from tests.test_loaders_jsonl import GOOD, with_
from tests.test_rule_file_problems import _deadline

IDENTIFIERS = ("call_id", "agent_id", "customer_phone", "related_call_id", "product.code",
               "product.currency")
# BEL, ESC (terminal escapes), a C1 control (CSI), a line separator, a right-to-left
# override (text that reads backwards on screen).
CONTROLS = ("\x07", "\x1b", "\x9b", "\u2028", "\u202e")


def load(*paths: Path) -> tuple[list[Call], list[Rejected]]:
    results = list(load_calls(list(paths)))
    return ([r for r in results if isinstance(r, Call)],
            [r for r in results if isinstance(r, Rejected)])


def _with_field(field: str, value: str) -> dict:
    if field.startswith("product."):
        return with_(call_id="C-2", product={**GOOD["product"], field[8:]: value})
    return with_(**{"call_id": "C-2", field: value})


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("field", IDENTIFIERS)
def test_a_control_character_in_an_identifier_rejects_the_call_in_jsonl(tmp_path, field,
                                                                       control):
    path = tmp_path / "night.jsonl"
    lines = [with_(call_id="C-1"), _with_field(field, f"A{control}9"), with_(call_id="C-3")]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    calls, (rejected,) = load(path)
    assert [c.call_id for c in calls] == ["C-1", "C-3"]
    assert rejected.source == SourceRef(str(path), 2)
    code = f"U+{ord(control):04X}"
    assert rejected.reason == f"'{field}' holds a control character ({code})"
    assert rejected.hint == ("identifiers must be printable text: correct the field in the "
                             "export, or re-export the call")
    assert not any(c in str(rejected) for c in CONTROLS)  # safe to print on a terminal


def test_a_control_character_in_a_dialogue_header_rejects_at_its_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("# call_id: C-7\n# agent_id: A\x070\n坐席：您好\n客户：你好\n",
                    encoding="utf-8")
    _, (rejected,) = load(path)
    assert rejected.source == SourceRef(str(path), 2)
    assert rejected.reason == "'agent_id' holds a control character (U+0007)"


def test_a_control_character_in_a_sidecar_names_the_sidecar(tmp_path):
    (tmp_path / "c.meta.json").write_text(json.dumps({"customer_phone": "138\x1b[2J"}),
                                          encoding="utf-8")
    path = tmp_path / "c.txt"
    path.write_text("坐席：您好\n", encoding="utf-8")
    _, (rejected,) = load(path)
    assert rejected.source == SourceRef(str(tmp_path / "c.meta.json"))
    assert rejected.reason == "'customer_phone' holds a control character (U+001B)"


def test_a_control_character_in_a_csv_cell_rejects_only_that_call(tmp_path):
    path = tmp_path / "night.csv"
    path.write_text("call_id,agent_id,speaker,text\n"
                    "C1,A01,agent,您好\n"
                    "C2,A\x0702,agent,您好\n"
                    "C3,A03,agent,您好\n", encoding="utf-8")
    calls, (rejected,) = load(path)
    assert [c.call_id for c in calls] == ["C1", "C3"]
    assert rejected.source == SourceRef(str(path), 3)
    assert rejected.reason == "'agent_id' holds a control character (U+0007)"
    (tmp_path / "ids.csv").write_text("call_id,speaker,text\nC\x1b9,agent,您好\n",
                                      encoding="utf-8")
    _, (rejected,) = load(tmp_path / "ids.csv")
    assert rejected.source == SourceRef(str(tmp_path / "ids.csv"), 2)
    assert rejected.reason == "'call_id' holds a control character (U+001B)"
    assert "\x1b" not in str(rejected)


def test_control_characters_in_text_become_spaces_one_for_one(tmp_path):
    path = tmp_path / "c.jsonl"
    text = "好\x1b[31m的\x9b2J，\x07再见"
    path.write_text(json.dumps(with_(turns=[{"speaker": "agent", "text": text}],
                                     product={"code": "TV", "name": "视频\x07会员"})) + "\n",
                    encoding="utf-8")
    (call,), _ = load(path)
    assert call.turns[0].text == "好 [31m的 2J， 再见"
    assert len(call.turns[0].text) == len(text)  # evidence spans index the same characters
    assert call.product is not None and call.product.name == "视频 会员"


def test_a_control_character_in_an_agent_id_does_not_stop_the_night(tmp_path):
    from tests.test_nightly import centre_of_one_night

    monday = date(2026, 11, 23)
    config = centre_of_one_night(tmp_path, monday)
    calls = tmp_path / "transcripts" / "calls.jsonl"
    records = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
    records[0]["agent_id"] = "A\x0701"
    calls.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                     encoding="utf-8")
    result = CliRunner().invoke(main, ["nightly", "--date", monday.isoformat(), "--config",
                                       str(config), "--workers", "1"])
    assert result.exit_code == 0, result.output
    night = tmp_path / "reports" / monday.isoformat()
    assert (night / "report.xlsx").stat().st_size > 0
    (reject,) = [json.loads(line) for line in
                 (night / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert reject["reason"] == "'agent_id' holds a control character (U+0007)"
    assert (reject["file"], reject["line"]) == (str(calls), 1)


def test_a_billion_laughs_sidecar_is_rejected_at_once(tmp_path):
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    sidecar = tmp_path / "c.meta.yaml"
    sidecar.write_text("product:\n  name: *l8\n".join(["\n".join(lines) + "\n", ""]),
                       encoding="utf-8")
    path = tmp_path / "c.txt"
    path.write_text("坐席：您好\n", encoding="utf-8")
    started = time.perf_counter()
    with _deadline(10):
        _, (rejected,) = load(path)
    assert time.perf_counter() - started < 2
    assert rejected.source == SourceRef(str(sidecar), 6)
    assert rejected.reason == ("broken metadata sidecar c.meta.yaml: not valid YAML (aliases "
                               "(*name) in this file expand to more than 100,000 values)")
