"""N worker processes give the same verdicts and findings, call for call, as one."""

from __future__ import annotations

from engine.audit import PackChooser
from engine.batch import run_batch
from tests.conftest import REPO


def test_two_workers_write_exactly_what_one_writes(tmp_path):
    chooser = PackChooser(REPO / "rules")
    inputs = [str(REPO / "transcripts" / "labelled"), str(REPO / "transcripts" / "samples")]
    one = run_batch(inputs, tmp_path / "one", chooser, workers=1)
    two = run_batch(inputs, tmp_path / "two", chooser, workers=2)
    assert one.calls == two.calls > 100
    for name in ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
