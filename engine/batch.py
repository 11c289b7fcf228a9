"""A batch audit: stream calls from files, audit each, write verdicts, findings and rejects."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson

from engine import __version__
from engine.actions.runner import FollowUp
from engine.audit import CallAudit, NoPackForLanguage, PackChooser, audit_call
from engine.model import Call, Rejected, SourceRef
from engine.report.records import finding_record, reject_record, verdict_record
from engine.transcripts import load_calls

SUMMARY_SCHEMA = "callaudit.summary/1"
OUTPUT_FILES = ("verdicts.jsonl", "findings.jsonl", "rejects.jsonl", "summary.json")


class StrictInputError(Exception):
    """Under --strict, the first rejected record stops the run."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(str(rejected))
        self.rejected = rejected


@dataclass
class BatchSummary:
    """Counts for the one-line summary and summary.json."""

    calls: int = 0
    valid: int = 0
    invalid: int = 0
    no_sale: int = 0
    findings: int = 0
    rejected: int = 0
    duplicates: int = 0
    by_severity: Counter[str] = field(default_factory=Counter)
    by_standard: Counter[str] = field(default_factory=Counter)
    packs: dict[str, str] = field(default_factory=dict)  # name@version -> content hash
    waived: int = 0  # findings set aside by a waiver
    actions: Counter[str] = field(default_factory=Counter)  # follow-up actions taken
    ledger: Counter[str] = field(default_factory=Counter)  # new / unchanged / re-audited calls
    superseded: int = 0  # findings of earlier audits replaced by this run's
    waivers_used: set[str] = field(default_factory=set)
    waivers_known: dict[str, str] = field(default_factory=dict)  # label -> rule id

    @property
    def unused_waivers(self) -> list[str]:
        """Waivers that covered no finding in this run: candidates for removal."""
        return sorted(f"{rule}: {label}" for label, rule in self.waivers_known.items()
                      if label not in self.waivers_used)

    def line(self) -> str:
        parts = [
            f"audited {self.calls} call{'s' if self.calls != 1 else ''}: "
            f"{self.invalid} invalid, {self.valid} valid, {self.no_sale} without a sale",
            f"{self.findings} finding{'s' if self.findings != 1 else ''}",
        ]
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        if self.actions:
            taken = ", ".join(f"{n} {k}" for k, n in sorted(self.actions.items()))
            parts.append(f"actions: {taken}")
        if self.ledger.get("unchanged"):
            parts.append(f"{self.ledger['unchanged']} already in the ledger unchanged")
        if self.ledger.get("re-audited"):
            parts.append(f"{self.ledger['re-audited']} re-audited with changed rules or "
                         f"transcripts ({self.superseded} earlier findings superseded)")
        return "; ".join(parts)

    def worst_severity_rank(self, order: tuple[str, ...]) -> int:
        ranks = [order.index(s) for s in self.by_severity if s in order]
        return max(ranks) if ranks else -1


def run_batch(
    inputs: Iterable[str],
    out_dir: Path,
    chooser: PackChooser,
    *,
    strict: bool = False,
    mask: bool = True,
    on_record: Callable[[Call | Rejected], None] | None = None,
    follow_up: FollowUp | None = None,
    workers: int = 1,
    cluster: str | None = None,
    select: Callable[[Call], bool] | None = None,
    skip_audited: bool = False,
) -> BatchSummary:
    """Audit every call in the inputs and write DIR/verdicts.jsonl, findings.jsonl,
    rejects.jsonl and summary.json; with `follow_up`, run the action policy on each call
    and record it in the ledger (each call in its own transaction).

    Every file is written under a temporary name and renamed only when the whole batch is
    done, so a reader never sees a half-written night; a run that stops early leaves the
    previous results as they were and no partial files behind.
    """
    inputs = list(inputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    started = datetime.now(timezone.utc)
    temp = {name: out_dir / f".{name}.partial" for name in OUTPUT_FILES}
    try:
        with (
            temp["verdicts.jsonl"].open("wb") as verdicts,
            temp["findings.jsonl"].open("wb") as findings,
            temp["rejects.jsonl"].open("wb") as rejects,
        ):
            loaded = load_calls(inputs, skip=[out_dir])
            if select is not None:
                loaded = (i for i in loaded if isinstance(i, Rejected) or select(i))
            if skip_audited and follow_up is not None:
                loaded = _not_yet_audited(loaded, chooser, follow_up, summary)
            for item, result in _audited(loaded, chooser, summary, workers, cluster):
                if on_record:
                    on_record(item)
                if isinstance(item, Rejected):
                    summary.rejected += 1
                    rejects.write(orjson.dumps(reject_record(item, mask=mask)) + b"\n")
                    if strict:
                        raise StrictInputError(item)
                    continue
                assert result is not None
                actions: list[str] = []
                if follow_up is not None:
                    change = follow_up.apply(result)
                    actions = change.actions
                    summary.ledger[change.status] += 1
                    summary.actions.update(actions)
                    summary.superseded += change.findings_superseded
                record = verdict_record(result.verdict, item, mask=mask)
                record["actions"] = actions
                verdicts.write(orjson.dumps(record) + b"\n")
                for finding in result.findings:
                    findings.write(orjson.dumps(finding_record(finding, mask=mask)) + b"\n")
                    if finding.waiver is not None:
                        summary.waived += 1
                        summary.waivers_used.add(finding.waiver)
                        continue
                    summary.by_severity[finding.severity] += 1
                    summary.by_standard[finding.standard] += 1
                _count(summary, result.verdict.valid, result.verdict.findings)
        _write_summary(temp["summary.json"], summary, started, inputs)
    except BaseException:
        for path in temp.values():
            path.unlink(missing_ok=True)
        raise
    for name in OUTPUT_FILES:
        temp[name].replace(out_dir / name)
    return summary


def _not_yet_audited(
    items: Iterable[Call | Rejected], chooser: PackChooser, follow_up: FollowUp,
    summary: BatchSummary,
) -> Iterator[Call | Rejected]:
    """Calls the ledger already holds with the same transcript, rules and policy are skipped:
    re-running a night, or resuming one that was stopped, redoes only what is missing."""
    for item in items:
        if isinstance(item, Call):
            try:
                pack_hash = chooser.for_call(item).content_hash
            except NoPackForLanguage:
                yield item
                continue
            if follow_up.ledger.already_audited(item, pack_hash, follow_up.policy.content_hash):
                summary.ledger["unchanged"] += 1
                continue
        yield item


def _screened(
    items: Iterable[Call | Rejected], chooser: PackChooser, summary: BatchSummary
) -> Iterator[Call | Rejected]:
    """Duplicates and calls without a pack become rejects; every pack used is noted."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        if item.call_id in seen:
            summary.duplicates += 1
            yield Rejected(
                item.source or SourceRef("?"),
                f"call_id '{item.call_id}' was already audited in this run",
                "give every call a unique call_id; the first one was kept",
                item.call_id,
            )
            continue
        try:
            pack = chooser.for_call(item)
        except NoPackForLanguage as exc:
            yield Rejected(
                item.source or SourceRef("?"),
                str(exc),
                "add a rule pack for this language, or name one with --rules",
                item.call_id,
            )
            continue
        seen.add(item.call_id)
        if pack.label not in summary.packs:
            summary.packs[pack.label] = pack.content_hash
            summary.waivers_known.update({w.label: w.rule_id for w in pack.waivers})
        yield item


# Each worker process compiles the packs once, then audits the calls it is sent.
_worker_chooser: PackChooser | None = None


def _start_worker(rules_root: Path, fixed: Path | None) -> None:
    global _worker_chooser
    _worker_chooser = PackChooser(rules_root, fixed)


def _audit_in_worker(item: Call | Rejected) -> tuple[Call | Rejected, CallAudit | None]:
    if isinstance(item, Rejected):
        return item, None
    assert _worker_chooser is not None
    return item, audit_call(_worker_chooser.for_call(item), item)


def _audited(
    items: Iterable[Call | Rejected], chooser: PackChooser, summary: BatchSummary,
    workers: int = 1, cluster: str | None = None,
) -> Iterator[tuple[Call | Rejected, CallAudit | None]]:
    """Each loaded item with its audit, in input order: here, on N processes, or on Dask."""
    screened = _screened(items, chooser, summary)
    if cluster is not None:
        from engine.cluster import audit_on_cluster

        yield from audit_on_cluster(screened, chooser, cluster)
        return
    if workers <= 1:
        for item in screened:
            yield item, (None if isinstance(item, Rejected)
                         else audit_call(chooser.for_call(item), item))
        return
    global _worker_chooser
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        # Forked workers inherit the packs already compiled here: no start-up cost. Only
        # when this process runs no other thread (forking threads is unsafe).
        chooser.preload()
        _worker_chooser = chooser
        context = multiprocessing.get_context("fork")
        pool = context.Pool(workers)
    else:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(workers, _start_worker, (chooser.rules_root, chooser.fixed_path))
    with pool:
        yield from pool.imap(_audit_in_worker, screened, chunksize=64)


def _count(summary: BatchSummary, valid: bool | None, findings: int) -> None:
    summary.calls += 1
    summary.findings += findings
    if valid is None:
        summary.no_sale += 1
    elif valid:
        summary.valid += 1
    else:
        summary.invalid += 1


def _write_summary(
    path: Path, summary: BatchSummary, started: datetime, inputs: list[str]
) -> None:
    document = {
        "schema": SUMMARY_SCHEMA,
        "callaudit_version": __version__,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs,
        "calls": summary.calls,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "no_sale": summary.no_sale,
        "findings": summary.findings,
        "rejected": summary.rejected,
        "duplicates": summary.duplicates,
        "waived": summary.waived,
        "actions": dict(sorted(summary.actions.items())),
        "ledger": dict(sorted(summary.ledger.items())),
        "findings_superseded": summary.superseded,
        "unused_waivers": summary.unused_waivers,
        "findings_by_severity": dict(sorted(summary.by_severity.items())),
        "findings_by_standard": dict(sorted(summary.by_standard.items())),
        "rule_packs": [{"pack": k, "hash": v} for k, v in sorted(summary.packs.items())],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
