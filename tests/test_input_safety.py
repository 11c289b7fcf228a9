"""Inputs that must not break a night: control characters in identifiers, YAML sidecars
made of aliases. Each is a reject naming file and line, and the rest of the batch goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


# --- what an input folder may hold ---------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
GOOD_LINE = json.dumps(GOOD, ensure_ascii=False) + "\n"


def _limited() -> None:
    """In the child: at most 2 GiB of memory, so a regression that reads an endless
    device fails instead of filling the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def audit_in_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`callaudit audit ARGS --no-ledger` in a child that cannot hang the test: a regression
    that blocks on a FIFO fails with TimeoutExpired after 30 s."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "CALLAUDIT_DB": str(cwd / "ledger.db")}
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "audit", *args, "--no-ledger", "--workers", "1"],
        cwd=cwd, env=env, stdin=subprocess.PIPE, capture_output=True, text=True, timeout=30,
        preexec_fn=_limited,
    )


def rejects_of(out: Path) -> dict[str, dict]:
    lines = (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()
    return {Path(r["file"]).name: r for r in map(json.loads, lines)}


def audited_of(out: Path) -> list[str]:
    lines = (out / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["call_id"] for line in lines]


def test_a_fifo_in_an_input_folder_is_a_reject_not_a_hang(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    (folder / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    os.mkfifo(folder / "pipe.jsonl")
    os.mkfifo(tmp_path / "named.jsonl")
    result = audit_in_subprocess(str(folder), str(tmp_path / "named.jsonl"), "--out",
                                 str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert audited_of(tmp_path / "out") == ["C-1"]
    rejects = rejects_of(tmp_path / "out")
    for name in ("pipe.jsonl", "named.jsonl"):
        assert rejects[name]["reason"] == "not a regular file but a FIFO (named pipe): not read"
        assert rejects[name]["hint"] == "give transcript files; copy the data into a file first"


def test_a_link_to_a_device_is_a_reject_not_an_endless_read(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    (folder / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    os.symlink("/dev/zero", folder / "zero.jsonl")
    os.symlink("/dev/stdin", tmp_path / "stdin.jsonl")
    os.symlink("/dev/zero", tmp_path / "named-zero.jsonl")
    result = audit_in_subprocess(str(folder), str(tmp_path / "stdin.jsonl"),
                                 str(tmp_path / "named-zero.jsonl"), "--out",
                                 str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert audited_of(tmp_path / "out") == ["C-1"]
    rejects = rejects_of(tmp_path / "out")
    assert rejects["zero.jsonl"]["reason"] == \
        "a link to /dev/zero, outside the input folder: not followed"
    assert rejects["named-zero.jsonl"]["reason"] == \
        "not a regular file but a device: not read"
    assert rejects["stdin.jsonl"]["reason"].startswith("not a regular file but a ")


def test_links_that_leave_the_input_folder_are_listed_never_read(tmp_path):
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "other-team.jsonl").write_text(
        json.dumps(with_(call_id="SECRET", customer_phone="13912345678"),
                   ensure_ascii=False) + "\n", encoding="utf-8")
    folder = tmp_path / "night"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    os.symlink(secret / "other-team.jsonl", folder / "borrowed.jsonl")
    os.symlink(secret, folder / "sub" / "linked-folder")
    os.symlink(folder / "a.jsonl", folder / "sub" / "same.jsonl")  # inside: read
    calls, rejected = load(folder)
    assert [c.call_id for c in calls] == ["C-1", "C-1"]
    reasons = {Path(r.source.path).name: r for r in rejected}
    assert set(reasons) == {"borrowed.jsonl", "linked-folder"}
    assert reasons["borrowed.jsonl"].reason == \
        f"a link to {secret / 'other-team.jsonl'}, outside the input folder: not followed"
    assert reasons["borrowed.jsonl"].hint == \
        "give the linked file or folder as an input of its own, or copy it into the folder"
    assert reasons["linked-folder"].reason == \
        f"a link to {secret}, outside the input folder: not followed"
    assert all(r.excerpt == "" and r.call_id is None for r in rejected)


def test_an_unreadable_sub_folder_is_a_reject(tmp_path, monkeypatch):
    folder = tmp_path / "night"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "b.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    (folder / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path="."):  # as root, chmod 000 does not stop reads: refuse it here
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    calls, (rejected,) = load(folder)
    assert [c.call_id for c in calls] == ["C-1"]
    assert rejected.source == SourceRef(str(folder / "locked"))
    assert rejected.reason == "cannot read the folder (Permission denied): its files were not read"
    assert rejected.hint == "check that this user may read the folder"


def test_out_inside_the_input_folder_is_refused(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    (folder / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    for out in (folder / "results", folder):
        result = CliRunner().invoke(main, ["audit", str(folder), "--out", str(out),
                                           "--no-ledger"])
        assert result.exit_code == 2, result.output
        assert result.output == (
            f"Error: --out {out} is inside the input folder {folder}: the next run would read "
            "the results as transcripts; choose a folder outside it\n")
        assert not (out / "verdicts.jsonl").exists()


@pytest.mark.parametrize("where", ["under-a-file", "read-only"])
def test_an_unwritable_out_is_a_plain_error(tmp_path, where):
    (tmp_path / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("a file, not a folder", encoding="utf-8")
    if where == "read-only" and not Path("/sys").is_dir():
        pytest.skip("no /sys here: a folder even root may not write in")
    out = tmp_path / "notes.txt" / "out" if where == "under-a-file" else Path("/sys/callaudit")
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "a.jsonl"), "--out", str(out),
                                       "--no-ledger"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: cannot write the results to {out} (")
    assert result.output.endswith("): choose a folder this user may write to\n")
    assert "Traceback" not in result.output


def test_a_full_disk_while_writing_the_results_is_a_plain_error(tmp_path, monkeypatch):
    import errno

    (tmp_path / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")

    def full(self, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "replace", full)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "a.jsonl"), "--out", str(out),
                                       "--no-ledger"])
    assert result.exit_code == 2, result.output
    assert result.output == (f"Error: cannot write the results to {out} (No space left on "
                             "device): free some space or choose another folder\n")


def test_a_reject_printed_on_the_terminal_has_its_control_characters_escaped(tmp_path):
    path = tmp_path / "night.csv"
    path.write_text("call_id,speaker,text\nC1,\x1b]0;owned\x07,您好\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(path), "--out", str(tmp_path / "out"),
                                       "--no-ledger", "--strict"])
    assert result.exit_code == 3, result.output
    assert result.output == (f"rejected (--strict): {path}:2 (call C1): line 2: unknown speaker "
                             "'\\x1b]0;owned\\x07' in column 'speaker' — use a known speaker "
                             "label (agent: agent, 坐席, 客服, 座席, 话务员, 营销员, rep, "
                             "representative, caller; customer: customer, 客户, 用户, 顾客, "
                             "client; any letter case)\n")


def test_inputs_the_system_cannot_even_look_at_are_rejects(tmp_path):
    (tmp_path / "a.jsonl").write_text(GOOD_LINE, encoding="utf-8")
    os.symlink(tmp_path / "loop2.jsonl", tmp_path / "loop1.jsonl")
    os.symlink(tmp_path / "loop1.jsonl", tmp_path / "loop2.jsonl")
    long_name = tmp_path / ("x" * 300 + ".jsonl")
    out = tmp_path.parent / f"{tmp_path.name}-out"
    result = CliRunner().invoke(main, ["audit", str(tmp_path / "a.jsonl"), str(long_name),
                                       str(tmp_path / "loop1.jsonl"), "--out", str(out),
                                       "--no-ledger"])
    assert result.exit_code == 0, result.output
    assert audited_of(out) == ["C-1"]
    rejects = rejects_of(out)
    assert rejects[long_name.name]["reason"] == "cannot read the file (File name too long)"
    assert rejects["loop1.jsonl"]["reason"] == \
        "cannot read the file (Too many levels of symbolic links)"


def test_a_sidecar_linked_from_outside_the_folder_is_not_read(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.yaml").write_text("product_name: 别人的产品\n", encoding="utf-8")
    folder = tmp_path / "night"
    folder.mkdir()
    os.symlink(elsewhere / "secret.yaml", folder / "c.meta.yaml")
    (folder / "c.txt").write_text("坐席：您好\n", encoding="utf-8")
    _, (rejected,) = load(folder)
    assert rejected.source == SourceRef(str(folder / "c.meta.yaml"))
    assert rejected.reason == (f"broken metadata sidecar c.meta.yaml: a link to "
                               f"{elsewhere / 'secret.yaml'}, outside the transcript's folder: "
                               "not followed")
    assert "别人的产品" not in str(rejected) + rejected.excerpt
