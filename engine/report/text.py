"""Findings printed for a person: rule, standard, severity, message, the quoted turn, time.

Everything that comes from a transcript or a rule file is printed with its control
characters escaped (engine/outputs.py: escape_controls), so a transcript cannot move the
cursor, clear the screen or reorder a line on the reader's terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from engine.audit import CallAudit
from engine.findings import Evidence, Finding
from engine.model import Call
from engine.outputs import escape_controls as shown
from engine.privacy import mask_numbers_in_text, mask_phone
from engine.rules.context import CallContext
from engine.rules.matchers import Hit
from engine.rules.scope import ClauseNote
from engine.text.acts import Dialogue
from engine.text.normalize import NormalizedTurn

Style = Callable[..., str]

SEVERITY_COLOURS = {"critical": "red", "major": "yellow", "minor": "cyan", "info": "white"}


def _plain(text: str, **_: object) -> str:
    return text


def clock(seconds: float | None) -> str:
    """12.5 -> '00:12'; 3725 -> '1:02:05'."""
    if seconds is None:
        return "--:--"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def quoted_turn(evidence: Evidence, style: Style, mask: bool) -> str:
    """The turn with the evidence highlighted (bold red, or ⟦…⟧ without colour)."""
    text = mask_numbers_in_text(evidence.text) if mask else evidence.text
    # Cut at the evidence's span first (masking keeps lengths), then escape each part.
    before = shown(text[: evidence.char_start])
    quote = shown(text[evidence.char_start : evidence.char_end])
    after = shown(text[evidence.char_end :])
    if style is _plain:
        marked = f"⟦{quote}⟧" if quote else ""
    else:
        marked = style(quote, fg="red", bold=True, underline=True)
    return f"{before}{marked}{after}"


def recording_of(call: Call) -> str | None:
    """The recording a transcribed call came from (`callaudit transcribe` keeps it)."""
    recording = dict(call.extra).get("recording")
    if isinstance(recording, dict) and isinstance(recording.get("file"), str):
        return recording["file"]
    return None


def format_finding(finding: Finding, style: Style = _plain, mask: bool = True,
                   recording: str | None = None) -> list[str]:
    """`recording`: the file the call was transcribed from; each evidence turn then says
    where in it the turn starts ([00:09 in C001.wav]), for a reviewer to jump to."""
    colour = SEVERITY_COLOURS.get(finding.severity, "white")
    lines = [
        f"{style(shown(finding.severity.upper()), fg=colour, bold=True)}  "
        f"{shown(finding.standard)}  {style(shown(finding.rule_id), bold=True)}",
        f"  {shown(finding.message)}",
    ]
    if finding.detail:
        detail = mask_numbers_in_text(finding.detail) if mask else finding.detail
        lines.append(f"  {shown(detail)}")
    if finding.waiver:
        lines.append(style(f"  WAIVED: {shown(finding.waiver)}", fg="cyan"))
    if recording and mask:  # file names often hold the customer's number
        recording = mask_numbers_in_text(recording)
    where = f" in {shown(Path(recording).name)}" if recording else ""
    for item in finding.evidence:
        lines.append(f"  [{clock(item.start)}{where}] {shown(item.speaker)} #{item.turn + 1}: "
                     f"{quoted_turn(item, style, mask)}")
    lines.append(style(f"  rule: {shown(finding.rule_source)}", dim=True))
    return lines


def format_call_audit(result: CallAudit, style: Style = _plain, mask: bool = True) -> str:
    """The whole report on one call."""
    call, verdict = result.call, result.verdict
    phone = mask_phone(call.customer_phone) if mask else call.customer_phone
    facts = [f"call {call.call_id}", call.call_type]
    if call.agent_id:
        facts.append(f"agent {call.agent_id}")
    if phone:
        facts.append(phone)
    if call.started_at:
        facts.append(call.started_at.isoformat(timespec="minutes"))
    facts.append(f"rules {verdict.rule_pack}")
    if verdict.valid is None:
        state = style("NO SALE", bold=True) + " (validity does not apply)"
    elif verdict.valid:
        state = style("VALID", fg="green", bold=True)
    else:
        state = style("INVALID", fg="red", bold=True) + f" ({', '.join(verdict.violations)})"
    lines = [shown(" · ".join(facts))]
    recording = recording_of(call)
    if recording:
        named = mask_numbers_in_text(recording) if mask else recording
        lines.append(f"recording: {shown(named)} (evidence times are from its start)")
    lines.append(f"verdict: {state}")
    if verdict.signals:
        lines.append(f"signals: {shown(', '.join(verdict.signals))}")
    for note in verdict.notes:
        lines.append(f"note: {shown(mask_numbers_in_text(note) if mask else note)}")
    if not result.findings:
        lines.append("no findings")
    for finding in result.findings:
        lines.append("")
        lines.extend(format_finding(finding, style, mask, recording))
    return "\n".join(lines)


def format_matches(
    call: Call,
    hits: dict[str, list[Hit]],
    mask: bool = True,
    notes: dict[int, list[str]] | None = None,
    clauses: Mapping[int, Sequence[ClauseNote]] | None = None,
    dialogue: Dialogue | None = None,
    turns: Sequence[NormalizedTurn] | None = None,
) -> list[str]:
    """Every turn with the matchers that matched in it: how a rule author debugs a rule.
    `notes` adds lines under a turn (what filled a template's slots, why a matcher matched
    by example); `clauses` what each clause holding a match is, and the matches its clause
    set aside ("clause 「打了12315才退」: past, about other · set aside: complaint_threat");
    `dialogue` the turn's act types and the question it answers."""
    by_turn: dict[int, list[str]] = {}
    for name, found in sorted(hits.items()):
        for hit in found:
            by_turn.setdefault(hit.turn, [])
            if name not in by_turn[hit.turn]:
                by_turn[hit.turn].append(name)
    lines = []
    for number, turn in enumerate(call.turns):
        text = mask_numbers_in_text(turn.text) if mask else turn.text
        lines.append(f"#{number + 1:<3} [{clock(turn.start)}] {shown(turn.speaker)}: "
                     f"{shown(text)}")
        if dialogue is not None:
            lines.extend(_dialogue_lines(dialogue, turns, number, mask))
        if number in by_turn:
            lines.append(f"       matches: {', '.join(by_turn[number])}")
        for note in (notes or {}).get(number, ()):
            lines.append(f"       {shown(mask_numbers_in_text(note) if mask else note)}")
        for note in (clauses or {}).get(number, ()):
            lines.append("       " + _clause_line(turn.text, note, mask))
    return lines


def _clause_line(text: str, note: ClauseNote, mask: bool) -> str:
    quote = text[note.start : note.end]
    quote = mask_numbers_in_text(quote) if mask else quote
    line = f"clause 「{shown(quote)}」: {', '.join(note.labels) or 'plain'}"
    if note.set_aside:
        line += " · set aside: " + ", ".join(f"{name} ({why})" for name, why in note.set_aside)
    return line


def example_notes(ctx: CallContext) -> dict[int, list[str]]:
    """For each turn, the `like:` matchers scored on it and why they matched: the clause,
    its score and the nearest example (every such matcher is scored, asked for or not)."""
    notes: dict[int, list[str]] = {}
    if ctx.by_example is None:
        return notes
    for name in sorted(ctx.by_example.names):
        ctx.score_examples(name)
        for hit in ctx.example_hits.get(name, ()):
            original = ctx.call.turns[hit.turn].text
            start, end = ctx.turns[hit.turn].to_original(hit.start, hit.end)
            notes.setdefault(hit.turn, []).append(
                f"by example: {name} {hit.score:.2f} for “{original[start:end]}”, nearest "
                f"example “{hit.example}” (similarity {hit.similarity:.2f})"
            )
    return notes


def _dialogue_lines(
    dialogue: Dialogue, turns: Sequence[NormalizedTurn] | None, number: int, mask: bool
) -> list[str]:
    """A turn's act types ("acts: offer, tag_question") and, for an answer, the turn it
    answers with its class and deciding words ("answers #3: refuse «不需要»")."""
    lines = []
    acts = dialogue.acts_at(number)
    if acts.acts:
        asks = " (asks)" if acts.asks else ""
        lines.append(f"       acts: {', '.join(sorted(acts.acts))}{asks}")
    answer = dialogue.answer_at(number)
    if answer is not None:
        words = ""
        if turns is not None and answer.end > answer.start:
            start, end = turns[number].to_original(answer.start, answer.end)
            quote = turns[number].original[start:end]
            words = f" «{shown(mask_numbers_in_text(quote) if mask else quote)}»"
        lines.append(f"       answers #{answer.question + 1}: {answer.answer_class}{words}")
    return lines
