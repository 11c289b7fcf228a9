"""What clause scope decided on one call, for `check --show-matches`: each clause that holds
a match (counted or set aside), what the clause is, and why a match in it did not count."""

from __future__ import annotations

from dataclasses import dataclass

from engine.rules.context import CallContext
from engine.rules.pack import RulePack


@dataclass(frozen=True)
class ClauseNote:
    """One clause of a turn that holds a match."""

    turn: int
    start: int  # span in the turn's original text
    end: int
    labels: tuple[str, ...]  # what the clause is: "question", "past", "about other"...
    matched: tuple[str, ...]  # matchers counted in it
    set_aside: tuple[tuple[str, str], ...]  # (matcher, why) not counted because of its clause


def clause_notes(pack: RulePack, ctx: CallContext) -> dict[int, list[ClauseNote]]:
    """The clauses of the call that hold a match and either say something about themselves
    or set a match aside, by turn. Reads the call's clauses and searches it again: for
    explaining one call, never run by an audit."""
    reader = pack.index.clauses
    turns = ctx.turns
    matched: dict[tuple[int, int], list[str]] = {}
    aside: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for name, hits in ctx.hits.items():
        for hit in hits:
            clause = reader.clause_at(turns[hit.turn], hit.start)
            names = matched.setdefault((hit.turn, clause.start), [])
            if name not in names:
                names.append(name)
    speakers = [t.speaker for t in ctx.call.turns]
    for name, found in pack.index.set_aside(turns, speakers).items():
        for hit, why in found:
            clause = reader.clause_at(turns[hit.turn], hit.start)
            reasons = aside.setdefault((hit.turn, clause.start), [])
            if (name, why) not in reasons:
                reasons.append((name, why))
    notes: dict[int, list[ClauseNote]] = {}
    for number, start in sorted(set(matched) | set(aside)):
        turn = turns[number]
        clause = reader.clause_at(turn, start)
        reasons = tuple(aside.get((number, start), ()))
        if not clause.labels() and not reasons:
            continue
        end = len(turn.text[: clause.end].rstrip())
        first, last = turn.to_original(clause.start, max(end, clause.start))
        notes.setdefault(number, []).append(ClauseNote(
            number, first, last, clause.labels(),
            tuple(sorted(matched.get((number, start), ()))), reasons,
        ))
    return notes
