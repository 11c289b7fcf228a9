"""Transcripts named by a storage URL (s3://, gs://... here fsspec's in-memory and local
filesystems) are audited exactly as the same files on disk, with their URL as the source."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from engine.audit import PackChooser
from engine.batch import run_batch
from tests.conftest import REPO
from tests.test_workers import mixed_inputs

CHOOSER = PackChooser(REPO / "rules")


def upload(folder: Path, prefix: str) -> None:
    """Every file under `folder` to `prefix` (a memory:// URL), same relative names."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with fsspec.open(f"{prefix}/{path.relative_to(folder).as_posix()}", "wb") as out:
                out.write(path.read_bytes())


def records(folder: Path, name: str) -> list[dict]:
    """The output lines without the field that names where each call came from."""
    rows = [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row.pop("source", None)
        row.pop("file", None)
    return rows


@pytest.mark.parametrize("workers", [1, 2])
def test_a_storage_prefix_is_audited_as_the_same_folder_on_disk(tmp_path, workers):
    local = Path(mixed_inputs(tmp_path / "night")[0])
    (local / "sub").mkdir()
    (local / "sub" / "late.jsonl").write_bytes((local / "night.jsonl").read_bytes()[:4000])
    prefix = f"memory://bucket-{uuid.uuid4().hex}/2026-11-23"
    upload(local, prefix)
    with fsspec.open(f"{prefix}/.hidden/skipped.jsonl", "wb") as out:
        out.write(b"{}\n")  # hidden folders are passed over, as on disk
    with fsspec.open(f"{prefix}/notes.pdf", "wb") as out:
        out.write(b"%PDF")  # not a transcript format: not read

    on_disk = run_batch([str(local)], tmp_path / "disk", CHOOSER, workers=workers)
    stored = run_batch([prefix + "/"], tmp_path / "stored", CHOOSER, workers=workers)

    assert (stored.calls, stored.rejected) == (on_disk.calls, on_disk.rejected)
    assert stored.calls > 100
    for name in ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl"):
        assert records(tmp_path / "stored", name) == records(tmp_path / "disk", name)
    rejects = (tmp_path / "stored" / "rejects.jsonl").read_text(encoding="utf-8")
    assert "night.jsonl:11" in rejects.replace('","line":', ":")  # URL and line of the break
    assert "memory://" in rejects and "skipped" not in rejects and "notes.pdf" not in rejects


class StorageDown(Exception):
    """A storage library's own error (botocore's, say), not an OSError."""


def test_urls_that_cannot_be_read_are_rejected_with_what_to_do(tmp_path):
    class Unreachable(MemoryFileSystem):
        """A storage whose objects list but fail to download (a dropped connection)."""

        protocol = "unreachable"

        @classmethod
        def _strip_protocol(cls, path):
            return "/" + path.removeprefix("unreachable://").lstrip("/")

        def _open(self, path, mode="rb", **kwargs):
            if "r" in mode:
                raise StorageDown("connection reset by the storage")
            return super()._open(path, mode, **kwargs)

    fsspec.register_implementation("unreachable", Unreachable, clobber=True)
    fs = Unreachable()
    night = f"night-{uuid.uuid4().hex}"
    fs.pipe(f"/{night}/calls.jsonl", (REPO / "transcripts" / "samples" / "calls_zh.jsonl")
            .read_bytes())
    inputs = ["memory://no-such-bucket/calls.jsonl", f"unreachable://{night}/calls.jsonl",
              "nosuchstorage://bucket/calls.jsonl"]
    summary = run_batch(inputs, tmp_path / "out", CHOOSER)
    assert (summary.calls, summary.rejected) == (0, 3)
    rejects = [json.loads(line) for line in
               (tmp_path / "out" / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["file"] for r in rejects] == inputs
    assert "no such file or prefix" in rejects[0]["reason"]
    assert "connection reset by the storage" in rejects[1]["reason"]
    assert "not a storage this machine knows" in rejects[2]["reason"]
    assert all(r["hint"] for r in rejects)


def test_the_command_takes_a_url_without_folding_its_slashes(tmp_path):
    sample = next((REPO / "transcripts" / "samples").glob("*.jsonl"))
    url = sample.resolve().as_uri()  # file:///... read through fsspec
    result = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "--rules-root", str(REPO / "rules"), "audit",
         url, "--out", str(tmp_path / "out"), "--no-ledger"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    verdicts = (tmp_path / "out" / "verdicts.jsonl").read_text(encoding="utf-8").splitlines()
    assert verdicts and json.loads(verdicts[0])["source"].startswith("file:///")


def test_a_nightly_reads_the_days_prefix_of_its_storage(tmp_path):
    from click.testing import CliRunner

    from cli import main
    from tests.test_nightly import MONDAY, night

    storage = f"memory://centre-{uuid.uuid4().hex}/transcripts"
    tuesday = night(date(2026, 11, 24), threats=1)
    # A Monday call uploaded late into Tuesday's prefix: the night reads its own prefix only
    # (reading the whole storage and picking by date would take it).
    tuesday.append({**night(MONDAY, threats=1)[0], "call_id": "late-upload"})
    for day, calls in ((MONDAY, night(MONDAY, threats=1)), (date(2026, 11, 24), tuesday)):
        with fsspec.open(f"{storage}/{day.isoformat()}/calls.jsonl", "wb") as out:
            out.write("\n".join(json.dumps(c, ensure_ascii=False)
                                for c in calls).encode() + b"\n")
    runner = CliRunner()
    config = tmp_path / "callaudit.yaml"
    assert runner.invoke(main, ["init", "--path", str(config)]).exit_code == 0
    text = config.read_text(encoding="utf-8").replace("transcripts: transcripts",
                                                      f"transcripts: {storage}")
    config.write_text(text.replace("rules: rules", f"rules: {REPO / 'rules'}"), encoding="utf-8")

    result = runner.invoke(main, ["nightly", "--date", MONDAY.isoformat(), "--config",
                                  str(config)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "callaudit-ledger.db") as db:
        ids = [r[0] for r in db.execute("SELECT call_id FROM calls")]
    assert len(ids) == len(night(MONDAY, threats=1))
    assert all(i.startswith(f"{MONDAY:%m%d}-") for i in ids)  # that night's prefix only

    refused = runner.invoke(main, ["purge", "--include-transcripts", "--config", str(config)])
    assert refused.exit_code == 2 and "lifecycle" in refused.output
