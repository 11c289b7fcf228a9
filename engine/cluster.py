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

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from engine.audit import PackChooser
from engine.model import Rejected
from engine.transcripts.shards import Shard

if TYPE_CHECKING:
    from engine.batch import Outcome, WorkerSetup

IN_FLIGHT_PER_WORKER = 4

_choosers: dict[tuple[str, str | None], PackChooser] = {}


def audit_on_worker(setup: WorkerSetup, shard: Shard | Rejected) -> list[Outcome]:
    """Runs on a worker: the packs are compiled on first use and kept for the process."""
    from engine.batch import audit_shard

    if isinstance(shard, Rejected):
        return [shard]
    key = (setup.rules_root, setup.fixed)
    chooser = _choosers.get(key)
    if chooser is None:
        fixed = Path(setup.fixed) if setup.fixed else None
        chooser = _choosers[key] = PackChooser(Path(setup.rules_root), fixed)
    return audit_shard(setup, chooser, shard)


def audit_on_cluster(
    shards: Iterable[Shard | Rejected], setup: WorkerSetup, address: str
) -> Iterator[list[Outcome]]:
    """Each shard's outcomes, in input order, computed on the cluster at `address`."""
    from distributed import Client

    source = iter(shards)
    with Client(address) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        pending: deque = deque()
        while True:
            while len(pending) < workers * IN_FLIGHT_PER_WORKER:
                shard = next(source, None)
                if shard is None:
                    break
                pending.append(client.submit(audit_on_worker, setup, shard, pure=False))
            if not pending:
                return
            yield pending.popleft().result()
