"""Auditing on a Dask distributed cluster.

The calls are read where the command runs and sent to the workers in chunks; each worker
compiles the rule packs once (from the same path, on shared storage) and sends back the
audits; results are taken in input order, so the outputs and the ledger are exactly what
a local run writes. At most a few chunks are in flight at once: memory stays flat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from engine.audit import CallAudit, PackChooser, audit_call
from engine.model import Call, Rejected

CHUNK = 256  # calls per task: enough to pay for the round trip
IN_FLIGHT_PER_WORKER = 4

_choosers: dict[tuple[str, str | None], PackChooser] = {}


def audit_chunk(rules_root: str, fixed: str | None,
                items: list[Call | Rejected]) -> list[CallAudit | None]:
    """Runs on a worker: the packs are compiled on first use and kept for the process."""
    key = (rules_root, fixed)
    chooser = _choosers.get(key)
    if chooser is None:
        chooser = _choosers[key] = PackChooser(Path(rules_root), Path(fixed) if fixed else None)
    return [None if isinstance(item, Rejected) else audit_call(chooser.for_call(item), item)
            for item in items]


def audit_on_cluster(
    items: Iterable[Call | Rejected], chooser: PackChooser, address: str
) -> Iterator[tuple[Call | Rejected, CallAudit | None]]:
    """Each item with its audit, in input order, computed on the cluster at `address`."""
    from distributed import Client

    root = str(Path(chooser.rules_root).resolve())
    fixed = str(Path(chooser.fixed_path).resolve()) if chooser.fixed_path else None
    source = iter(items)
    with Client(address) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        pending: deque = deque()
        while True:
            while len(pending) < workers * IN_FLIGHT_PER_WORKER:
                chunk = list(islice(source, CHUNK))
                if not chunk:
                    break
                pending.append((chunk, client.submit(audit_chunk, root, fixed, chunk,
                                                     pure=False)))
            if not pending:
                return
            chunk, future = pending.popleft()
            yield from zip(chunk, future.result(), strict=True)
