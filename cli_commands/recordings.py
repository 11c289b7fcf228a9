"""`callaudit transcribe`: call recordings into the interchange format."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli_commands import EXIT_OK, App, UserError, output_errors, workspace_option
from engine.audio.batch import Outcome, Speed, label, start, transcribe_batch
from engine.audio.engines import ENGINES
from engine.audio.transcribe import (
    DEFAULT_PAIR,
    TranscribeOptions,
    pack_hints,
    pair_recordings,
    parse_pair,
    read_call_records,
    read_metadata_csv,
)
from engine.audio.wav import AudioError
from engine.outputs import OutputGuard, first_line_has
from engine.transcripts import AUDIO_SUFFIXES, expand_inputs

# How the first line of a file transcribe wrote looks: each call records its recording.
TRANSCRIBED_MARKER = '"recording":{"file":'


def recordings_in(inputs: tuple[Path, ...]) -> tuple[list[Path], list[str]]:
    """Recordings named, or found in named folders the way `audit` finds transcripts
    (hidden files skipped, broken links listed); and what could not be used."""
    found: list[Path] = []
    problems: list[str] = []
    for path in inputs:
        if not path.is_dir():
            found.append(path)
            continue
        for item in expand_inputs([path]):
            if isinstance(item, Path):
                if item.suffix.lower() in AUDIO_SUFFIXES:
                    found.append(item)
            else:
                problems.append(str(item))
    return found, problems


@click.command("transcribe")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON Lines file to write the calls to.")
@click.option("--engine", "engine_name", type=click.Choice(sorted(ENGINES)), default="sphinx",
              show_default=True, help="Speech engine (google sends audio off this machine).")
@click.option("--model", type=click.Path(file_okay=False, path_type=Path),
              help="Model directory (whisper and vosk need one; any language).")
@click.option("--language", type=click.Choice(["zh", "en"]), default="en", show_default=True,
              help="Language spoken (the bundled Sphinx model is English).")
@click.option("--agent-channel", type=click.Choice(["left", "right"]), default="left",
              show_default=True, help="Which stereo channel holds the agent.")
@click.option("--name-pattern", default="{call_id}", show_default=True,
              help='Metadata from file names, e.g. "{call_id}_{agent_id}_{customer_phone}".')
@click.option("--metadata", "metadata_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with a 'file' column and call_id, agent_id, customer_phone, ...")
@click.option("--pair", "pair_text",
              help='Two mono files per call: "{call_id}_A.wav,{call_id}_C.wav" (agent, '
                   'customer); default "{call_id}-agent,{call_id}-customer", or the '
                   "workspace's recordings.pair.")
@click.option("--call-records", type=click.Path(dir_okay=False, path_type=Path),
              help="The platform's call-record CSV (agent, number, start time, product); "
                   "default the workspace's recordings.call_records.")
@click.option("--hints-from-rules", is_flag=True,
              help="Pass the rule pack's phrases to engines that take hints (whisper).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes transcribing in parallel (each loads the model once).")
@click.option("--no-resume", is_flag=True,
              help="Transcribe every recording again, even those unchanged since the last "
                   "run into the same --out.")
@workspace_option
@click.pass_obj
def transcribe_command(app: App, recordings: tuple[Path, ...], out_file: Path, engine_name: str,
                       model: Path | None, language: str, agent_channel: str,
                       name_pattern: str, metadata_csv: Path | None, pair_text: str | None,
                       call_records: Path | None, hints_from_rules: bool, workers: int,
                       no_resume: bool) -> None:
    """Transcribe RECORDINGS (files or folders) into calls for `callaudit audit`.

    Stereo recordings are split into agent and customer by channel; a mono recording is
    transcribed with speaker 'unknown', and the audit says which rules it could not apply.
    A recording's metadata comes from <name>.json beside it, --metadata, or --name-pattern.
    Two mono files of one call (--pair names them) become one call, agent and customer;
    --call-records adds the platform's agent, number and start time to each call.

    Long batches resume: a recording transcribed into the same --out before, unchanged
    (size, content hash, engine, model and options), is copied from it, not transcribed
    again; the state is kept in a hidden file beside --out. At a terminal, progress shows
    audio minutes transcribed per minute of wall time.
    """
    # Refused before a model is loaded: the output must not replace a recording, the
    # metadata, or a transcript file transcribe did not write.
    config = app.config  # callaudit.yaml's recordings: settings, inside a workspace
    try:
        pair = parse_pair(pair_text) if pair_text else (config.pair if config else None)
    except ValueError as exc:
        raise UserError(f"--pair: {exc}") from None
    records_file = call_records or (config.call_records if config else None)
    inputs = {path: "one of the recordings" for path in recordings}
    if metadata_csv:
        inputs[metadata_csv] = "the metadata file"
    if records_file:
        inputs[records_file] = "the call records"
    guard = OutputGuard(first_line_has(TRANSCRIBED_MARKER), inputs)
    with output_errors(out_file):
        guard.check(out_file)
    metadata = read_metadata_csv(metadata_csv) if metadata_csv else {}
    columns = dict(config.call_record_columns) if config else {}  # the platform's headers
    try:
        records = read_call_records(records_file, columns) if records_file else {}
    except AudioError as exc:
        raise UserError(f"{exc.reason} — {exc.hint}") from None
    hints = pack_hints(app.rules_root, language) if hints_from_rules else ()
    options = TranscribeOptions(engine_name, model, language, agent_channel, name_pattern,
                                metadata, hints, records)
    try:
        start(options)  # a model that cannot load is told before any file is read
    except AudioError as exc:
        raise UserError(f"{exc.reason} — {exc.hint}") from None
    files, problems = recordings_in(recordings)
    for problem in problems:
        click.echo(f"rejected: {problem}", err=True)
    # Two mono files of a call become one item; a lone half is refused, the batch goes on.
    calls, lone = pair_recordings(files, pair or DEFAULT_PAIR)
    for path, error in lone:
        click.echo(f"rejected: {path}: {error.reason} — {error.hint}", err=True)
    if not calls:
        raise UserError("no recordings found (.wav, or other audio with sox/ffmpeg installed)")
    showing = sys.stderr.isatty()

    def shown(outcome: Outcome, speed: Speed) -> None:
        path, record, problem = outcome
        if record is None:
            click.echo(("\r\033[K" if showing else "")
                       + f"rejected: {label(path)}: {problem}", err=True)
        if showing:  # a person watching at a terminal: never in a log or a pipe
            click.echo(f"\r\033[Ktranscribing: {speed.done + speed.skipped + speed.failed}"
                       f"/{len(calls)}, {speed.progress()}", err=True, nl=False)

    with output_errors(out_file):
        speed = transcribe_batch(calls, out_file, options, guard=guard, workers=workers,
                                 resume=not no_resume, on_item=shown)
    if showing:
        click.echo("\r\033[K", err=True, nl=False)
    click.echo(f"{speed.summary()} → {out_file}")
    raise SystemExit(EXIT_OK)
