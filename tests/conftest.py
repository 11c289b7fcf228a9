"""Shared helpers: small rule packs written to a temporary folder, and calls built inline."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.model import Call
from engine.rules.pack import RulePack, load_pack
from engine.transcripts.record import call_from_record

REPO = Path(__file__).resolve().parent.parent


def write_pack(folder: Path, files: dict[str, str], *, language: str = "zh",
               header: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(
        f"name: test-pack\nversion: '1.0'\nlanguage: {language}\n" + textwrap.dedent(header),
        encoding="utf-8",
    )
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def make_call(turns: list[tuple[str, str]], **fields: object) -> Call:
    record: dict[str, object] = {
        "call_id": "T-1",
        "call_type": "sale",
        "language": "zh",
        "started_at": "2026-11-23T10:00:00+08:00",
        "turns": [
            {"speaker": s, "text": t, "start": i * 5.0, "end": i * 5.0 + 4} for i, (s, t) in
            enumerate(turns)
        ],
    }
    record.update(fields)
    return call_from_record(record)


@pytest.fixture
def pack_factory(tmp_path: Path):
    counter = iter(range(1000))

    def build(files: dict[str, str], **kwargs: object) -> RulePack:
        return load_pack(write_pack(tmp_path / f"pack{next(counter)}", files, **kwargs))

    return build


@pytest.fixture(autouse=True)
def private_ledger(tmp_path, monkeypatch):
    """Every test writes its own ledger, never the user's."""
    monkeypatch.setenv("CALLAUDIT_DB", str(tmp_path / "ledger.db"))


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No CALLAUDIT_* variable, and a user data folder (the default ledger's) of our own."""
    for name in ("CALLAUDIT_DB", "CALLAUDIT_RULES", "CALLAUDIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
