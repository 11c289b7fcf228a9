"""Calls: the filtered list (`/calls`), one call with its transcript, findings, verdict,
actions and history (`/calls/{id}`), its recording, and revealing its number (`/reveal`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from engine.actions.ledger import LedgerError
from engine.console.calls import (
    AUDIO_TYPES,
    CallFilter,
    call_detail,
    clock,
    find_recording,
    list_calls,
    read_transcript,
    reveal_phone,
    shown_turns,
    source_path,
)
from engine.console.rules import rationale_of, source_place
from engine.rules.base import SEVERITIES
from webconsole.app import SECURITY_HEADERS, console_of, form_of, render, signed_in, url
from webconsole.pages.home import night_param


def page_param(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def date_param(request: Request, name: str) -> date | None:
    try:
        text = request.query_params.get(name, "")
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def call_url(request: Request, call_id: str) -> str:
    return url(request, "/calls/" + quote(call_id, safe=""))


def transcripts_folder(request: Request) -> Path | None:
    folder = console_of(request).config.transcripts
    return folder if isinstance(folder, Path) else None


@signed_in()
async def calls_list(request: Request) -> Response:
    q = request.query_params
    wanted = CallFilter(night=night_param(request), valid=q.get("valid", ""),
                        sale=q.get("sale") == "yes", standard=q.get("standard", "").strip(),
                        agent=q.get("agent", "").strip(), rule=q.get("rule", "").strip(),
                        severity=q.get("severity", "") if q.get("severity") in SEVERITIES
                        else "")
    page = page_param(request)
    with console_of(request).ledger() as ledger:
        result = list_calls(ledger, wanted, page)
    query = {"night": wanted.night.isoformat() if wanted.night else "",
             "valid": wanted.valid, "sale": "yes" if wanted.sale else "",
             "standard": wanted.standard, "agent": wanted.agent, "rule": wanted.rule,
             "severity": wanted.severity}
    return render(request, "calls.html", wanted=wanted, result=result, query=query,
                  severities=SEVERITIES, call_url=lambda c: call_url(request, c))


def _call_page(request: Request, call_id: str, revealed: str | None = None) -> Response:
    console = console_of(request)
    config = console.config
    with console.ledger() as ledger:
        detail = call_detail(ledger, call_id)
    if detail is None:
        raise HTTPException(404, f"no call {call_id} in the ledger")
    transcript = read_transcript(detail.call, config.path.parent, transcripts_folder(request))
    turns = shown_turns(transcript.call, detail.findings) if transcript.call else None
    places, rationales = {}, {}
    for finding in detail.findings:
        places[finding.fingerprint] = source_place(config.rules, finding.rule_source)
        rationales[finding.fingerprint] = rationale_of(config.rules, finding.rule_source,
                                                       finding.rule_id)
    audio = (url(request, "/recordings/" + quote(call_id, safe=""))
             if transcript.recording else None)
    return render(request, "call.html", detail=detail, transcript=transcript, turns=turns,
                  places=places, rationales=rationales, audio=audio, revealed=revealed,
                  clock=clock, call_url=lambda c: call_url(request, c))


@signed_in()
async def call_page(request: Request) -> Response:
    return _call_page(request, request.path_params["call_id"])


@signed_in("reveal")
async def reveal(request: Request) -> Response:
    call_id = str(form_of(request).get("call_id", ""))
    with console_of(request).ledger() as ledger:
        try:
            phone = reveal_phone(ledger, call_id, request.state.session.user.name)
        except LedgerError as exc:
            raise HTTPException(404, str(exc)) from None
    return _call_page(request, call_id, revealed=phone or "(no number)")


@signed_in()
async def recording(request: Request) -> Response:
    """A call's recording, only from beside its transcript inside the transcripts folder."""
    call_id = request.path_params["call_id"]
    with console_of(request).ledger() as ledger:
        row = ledger.db.execute("SELECT call_id, source FROM calls WHERE call_id = ?",
                                (call_id,)).fetchone()
    where = source_path(row["source"]) if row is not None else None
    found = (find_recording(Path(where[0]), call_id, transcripts_folder(request))
             if where else None)
    if found is None:
        raise HTTPException(404, f"no recording of call {call_id}")
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"}
    return FileResponse(found, media_type=AUDIO_TYPES.get(found.suffix.lower()),
                        headers=headers)


ROUTES = [
    Route("/calls", calls_list),
    Route("/calls/{call_id:path}", call_page),
    Route("/recordings/{call_id:path}", recording),
    Route("/reveal", reveal, methods=["POST"]),
]
