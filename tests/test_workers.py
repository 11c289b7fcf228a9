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


def test_a_local_dask_cluster_writes_exactly_what_a_local_run_writes(tmp_path):
    from distributed import Client, LocalCluster

    chooser = PackChooser(REPO / "rules")
    inputs = [str(REPO / "transcripts" / "labelled")]
    local = run_batch(inputs, tmp_path / "local", chooser)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        remote = run_batch(inputs, tmp_path / "dask", chooser, cluster=cluster.scheduler_address)
    assert local.calls == remote.calls
    for name in ("verdicts.jsonl", "findings.jsonl"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
