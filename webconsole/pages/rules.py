"""Rules (permission "rules"): the packs in use with each rule's precision from reviews
(`/rules`), a rule file with line anchors (`/rules/file?path=`), and trying the rules on a
call (`POST /rules/try`)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.console.calls import read_transcript
from engine.console.rules import NotARuleFile, packs_in_use, parse_pasted, read_rule_file, try_calls
from engine.report.records import finding_record
from webconsole.app import console_of, form_of, render, signed_in
from webconsole.pages.calls import call_url, transcripts_folder


def _rules_page(request: Request, status: int = 200, **tried: object) -> Response:
    console = console_of(request)
    with console.ledger() as ledger:
        packs = packs_in_use(ledger, console.config.rules)
    return render(request, "rules.html", status=status, packs=packs,
                  call_url=lambda c: call_url(request, c), **tried)


@signed_in("rules")
async def rules(request: Request) -> Response:
    return _rules_page(request)


@signed_in()  # a call page links every finding to its rule: anyone may read a rule file
async def rule_file(request: Request) -> Response:
    relative = request.query_params.get("path", "")
    try:
        lines = read_rule_file(console_of(request).config.rules, relative)
    except NotARuleFile as exc:
        raise HTTPException(404, str(exc)) from None
    return render(request, "rulefile.html", path=relative, lines=lines)


@signed_in("rules")
async def try_rules(request: Request) -> Response:
    """The workspace's packs on a ledger call (read back from its transcript) or on pasted
    JSON Lines records, as `callaudit check` audits a call."""
    form = form_of(request)
    call_id = str(form.get("call_id", "")).strip()
    pasted = str(form.get("records", ""))
    config = console_of(request).config
    problems: list[str] = []
    calls = []
    if call_id:
        with console_of(request).ledger() as ledger:
            row = ledger.db.execute("SELECT * FROM calls WHERE call_id = ?",
                                    (call_id,)).fetchone()
        if row is None:
            problems.append(f"no call {call_id} in the ledger")
        else:
            transcript = read_transcript(row, config.path.parent, transcripts_folder(request))
            if transcript.call is None:
                problems.append(transcript.note or "the call's transcript cannot be read")
            else:
                calls.append(transcript.call)
    elif pasted.strip():
        found, rejected = parse_pasted(pasted)
        calls += found
        problems += [f"{r.source}: {r.reason} — {r.hint}" for r in rejected]
    else:
        problems.append("give a call id from the ledger, or paste JSON Lines records")
    results = try_calls(config.rules, calls)
    shown = [(t, [finding_record(f, mask=True) for f in t.audit.findings] if t.audit else [])
             for t in results]
    return _rules_page(request, status=200 if calls or not problems else 400,
                       tried=shown, problems=problems, call_id=call_id, pasted=pasted)


ROUTES = [
    Route("/rules", rules),
    Route("/rules/file", rule_file),
    Route("/rules/try", try_rules, methods=["POST"]),
]
