"""Auditing on a Dask distributed cluster.

The input is cut into shards where the command runs (`engine/transcripts/shards.py`: whole
lines of JSON Lines files, with their bytes, so workers need no shared storage for them)
and each Dask worker loads and audits the shards it is given. Each worker compiles the
rule packs once, from the same path (rules on shared storage), and sends back each call's
output lines, or the call and its audit when a ledger is kept. Results are taken in input
order, so the outputs and the ledger are exactly what a local run writes. At most a few
shards are in flight per worker: memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from engine.audit import PackChooser
from engine.model import Rejected
from engine.transcripts.shards import Shard

if TYPE_CHECKING:
    from engine.batch import Outcome, WorkerSetup

IN_FLIGHT_PER_WORKER = 4  # one more than local workers: a round trip takes longer

_choosers: dict[tuple[str, str | None], PackChooser] = {}  # by (rules_root, fixed)


def audit_on_worker(setup: WorkerSetup, shard: Shard | Rejected) -> list[Outcome]:
    """Runs on a worker: the packs are compiled on first use and kept for the process."""
    from engine.batch import audit_shard

    if isinstance(shard, Rejected):
        return [shard]
    key = (setup.rules_root, setup.fixed)
    chooser = _choosers.get(key)
    if chooser is None:
        chooser = _choosers[key] = setup.chooser()
    return audit_shard(setup, chooser, shard)


class _Submitted:
    """A Dask future as `engine.batch.in_order` waits on it."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def ready(self) -> bool:
        return bool(self.future.done())

    def get(self) -> list[Outcome]:
        return self.future.result()


def audit_on_cluster(
    shards: Iterable[Shard | Rejected], setup: WorkerSetup, address: str,
    idle: Callable[[], None] | None = None,
) -> Iterator[list[Outcome]]:
    """Each shard's outcomes, in input order, computed on the cluster at `address`."""
    from distributed import Client

    from engine.batch import in_order

    with Client(address) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        yield from in_order(
            lambda shard: _Submitted(client.submit(audit_on_worker, setup, shard, pure=False)),
            shards, workers * IN_FLIGHT_PER_WORKER, idle)
