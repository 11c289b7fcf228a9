"""One night: audit the day's calls into the ledger, draw the samples, raise the early
warnings, and write the day's report. Safe to re-run; refuses to run twice at once."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from engine.actions.ledger import Ledger
from engine.actions.policy import load_policy
from engine.actions.runner import FollowUp
from engine.audit import PackChooser
from engine.batch import BatchSummary, Progress, run_batch
from engine.model import Call, Rejected, SourceRef
from engine.nightly.analysis import (
    Alert,
    Sample,
    draw_sample,
    evaluate_warnings,
    iso_week,
    keep_alerts,
    mark_alerts,
)
from engine.nightly.config import LEVELS, NightlyConfig
from engine.nightly.versions import (
    NightReaudit,
    history_mark,
    night_reaudit,
    record_night_reaudit,
    uses_of,
)
from engine.outputs import write_text
from engine.report.nightly import write_day_report
from engine.transcripts.remote import is_prefix


class NightlyBusy(RuntimeError):
    """Another nightly run holds the lock."""


class EmptyNight(Exception):
    """No transcript of the night was found: nothing audited, no report written, and the
    night's earlier files (if any) left as they were."""


@dataclass
class NightResult:
    day: date
    folder: Path
    summary: BatchSummary
    sample: Sample
    weekly_sample: Sample | None
    alerts: list[Alert]
    change: NightReaudit  # what the run changed of calls the ledger held before
    transcribed: str | None = None  # the night's recordings: what transcribing them did

    @property
    def worst_alert(self) -> str | None:
        """The highest level among the alerts raised for the first time by this run."""
        return max((a.level for a in self.alerts if a.new), key=LEVELS.index, default=None)


@contextmanager
def night_lock(folder: Path) -> Iterator[None]:
    """One nightly run at a time: a second one says so and exits, corrupting nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".nightly.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise NightlyBusy(
                f"another nightly run is going ({holder}); this one did nothing"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class StartedOn:
    """Picks the calls started on a date (in the call's own time zone). A dataclass, not a
    closure, so worker processes can be sent it and pick calls where they parse them."""

    day: str  # YYYY-MM-DD

    def __call__(self, call: Call) -> bool:
        return call.started_at is not None and call.started_at.date().isoformat() == self.day


def night_inputs(config: NightlyConfig, day: date) -> tuple[list[str], StartedOn | None]:
    """The day's folder when the platform writes one (all its calls: no choice to make),
    else every transcript, of which the calls started that day."""
    if isinstance(config.transcripts, str):  # a storage URL
        prefix = f"{config.transcripts.rstrip('/')}/{day.isoformat()}"
        if is_prefix(prefix):
            return [prefix + "/"], None
    elif (config.transcripts / day.isoformat()).is_dir():
        return [str(config.transcripts / day.isoformat())], None
    return [str(config.transcripts)], StartedOn(day.isoformat())


RECORDINGS_OUT = "recordings.jsonl"  # in the night's transcripts folder


def night_recordings(config: NightlyConfig, day: date) -> tuple[list[Path], Path] | None:
    """The night's recordings and where their transcripts go: the day's folder of
    `recordings:` when configured, and any recordings in the day's transcripts folder; all
    transcribed into <transcripts>/<date>/recordings.jsonl. None when there are none."""
    from engine.transcripts import AUDIO_SUFFIXES, expand_inputs

    folders = [config.recordings / day.isoformat()] if config.recordings else []
    if isinstance(config.transcripts, Path):
        folders.append(config.transcripts / day.isoformat())
    found = [item for folder in folders if folder.is_dir()
             for item in expand_inputs([folder])
             if isinstance(item, Path) and item.suffix.lower() in AUDIO_SUFFIXES]
    if not found:
        return None
    if not isinstance(config.transcripts, Path):
        from engine.audio.wav import AudioError

        raise AudioError("recordings are transcribed into a local transcripts folder",
                         "point `transcripts:` at a local folder, or transcribe the "
                         "recordings first (callaudit transcribe)")
    return sorted(found), config.transcripts / day.isoformat() / RECORDINGS_OUT


def transcribe_night(config: NightlyConfig, day: date, workers: int = 1
                     ) -> tuple[list[str], list[Rejected], str] | None:
    """The night's recordings transcribed (resumed: a re-run transcribes only what is new
    or changed). The audit's inputs then (the night's transcripts, without the audio), the
    recordings that failed as rejects of the night, and the summary line; None when the
    night has no recordings."""
    from engine.audio.batch import transcribe_batch
    from engine.audio.transcribe import TranscribeOptions
    from engine.outputs import OutputGuard, first_line_has
    from engine.transcripts import AUDIO_SUFFIXES, expand_inputs

    found = night_recordings(config, day)
    if found is None:
        return None
    files, out = found
    out.parent.mkdir(parents=True, exist_ok=True)
    failed: list[Rejected] = []

    def failures(outcome: tuple[Path, dict | None, str | None], _: object) -> None:
        path, record, problem = outcome
        if record is None:
            reason, _, hint = (problem or "could not be transcribed").partition(" — ")
            failed.append(Rejected(SourceRef(str(path)), reason, hint or
                                   "check the recording plays", path.stem))

    speed = transcribe_batch(files, out, TranscribeOptions(), workers=workers,
                             guard=OutputGuard(first_line_has('"recording":{"file":')),
                             on_item=failures)
    inputs = sorted(str(item) for item in expand_inputs([out.parent])
                    if isinstance(item, Path) and item.suffix.lower() not in AUDIO_SUFFIXES)
    return inputs, failed, speed.summary()


def run_night(
    config: NightlyConfig,
    day: date,
    inputs: list[str] | None = None,
    on_record: Callable[[Progress], None] | None = None,
    workers: int = 1,
    cluster: str | None = None,
    *,
    reaudit: bool = False,
) -> NightResult:
    """The whole nightly job for one date (audited on `workers` local processes, or on the
    Dask cluster at `cluster`; the ledger and the report are written here either way).

    A run that audits calls again under changed rules (or changed transcripts or policy)
    records it: each call's history says what changed (`Ledger.record`), and the night's
    history a summary (kind "night", event "re-audited") that the report tells. With
    `reaudit` (`nightly --reaudit`) the night's row is written, by "nightly --reaudit",
    even when nothing changed: the re-audit was asked for and done."""
    folder = config.reports / day.isoformat()
    with night_lock(config.reports):
        rejected: list[Rejected] = []
        transcribed = None
        night = None if inputs else transcribe_night(config, day, workers)
        if inputs:
            paths, select = inputs, None
        elif night is not None:
            paths, rejected, transcribed = night[0], night[1], night[2]
            select = None
        else:
            paths, select = night_inputs(config, day)
        chooser = PackChooser(config.rules)
        with Ledger(config.database) as ledger:
            follow_up = FollowUp(load_policy(config.rules / "actions.yaml"), ledger)
            mark, before = history_mark(ledger), uses_of(ledger, day)
            # Every call is audited again (run_batch's default), so the night's verdicts and
            # findings files hold them all after a re-run or a resumed run; the ledger still
            # records only what is new or changed. A night that finds no transcripts (the
            # export not there yet) keeps its earlier files.
            summary = run_batch(
                paths,
                folder,
                chooser,
                mask=config.mask,
                on_record=on_record,
                follow_up=follow_up,
                select=select,
                publish_empty=False,
                rejected=rejected,
                workers=workers,
                cluster=cluster,
            )
            if summary.calls == 0 and summary.rejected == 0:
                where = paths if inputs else [str(config.transcripts)]
                raise EmptyNight(
                    f"no transcripts for {day.isoformat()} in {', '.join(where)}: "
                    "nothing audited, no report written (is the day's export there yet?)"
                )
            change = night_reaudit(ledger, day, mark, before, summary.ledger,
                                   "nightly --reaudit" if reaudit else "nightly")
            if reaudit or change.reaudited:
                record_night_reaudit(ledger, change)
            sample = draw_sample(ledger, config, "daily", day.isoformat())
            weekly = (
                draw_sample(ledger, config, "weekly", iso_week(day))
                if day.isoweekday() == 7
                else None
            )
            alerts = mark_alerts(ledger, day, evaluate_warnings(ledger, config, day))
            write_text(
                folder / "alerts.json",
                json.dumps(
                    {
                        "schema": "callaudit.alerts/1",
                        "date": day.isoformat(),
                        "alerts": [asdict(a) for a in alerts],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
                + "\n",
            )
            write_day_report(ledger, config, day, folder, sample, weekly, alerts)
            keep_alerts(ledger, day, alerts)
    return NightResult(day, folder, summary, sample, weekly, alerts, change, transcribed)
