"""The queues: blacklist proposals (managers decide), callbacks (managers record results),
the review sample (QA reviews findings). Every decision is the ledger method the CLI calls,
under the signed-in user's name; a form posted after someone else decided is told so (409)
and changes nothing."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.actions.ledger import LedgerError
from engine.actions.policy import load_policy
from engine.console.home import last_night
from engine.console.queues import (
    BLACKLIST_STATUSES,
    CALLBACK_OUTCOMES,
    CALLBACK_STATUSES,
    Filters,
    blacklist_queue,
    callback_queue,
    review_sample,
)
from engine.rules.base import SEVERITIES, STANDARDS, VALIDITY_STANDARDS
from engine.rules.problems import RulePackError
from webconsole.app import console_of, form_of, render, signed_in, url


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def filters_of(request: Request) -> Filters:
    q = request.query_params
    try:
        page = max(1, int(q.get("page", "1")))
    except ValueError:
        page = 1
    return Filters(night=_day(q.get("night")), agent=q.get("agent", "").strip(),
                   rule=q.get("rule", "").strip(), standard=q.get("standard", ""),
                   severity=q.get("severity", ""), status=q.get("status", ""), page=page)


def back(request: Request, path: str, message: str, kind: str = "ok") -> Response:
    """To the queue the form was on (its filters kept), with what happened."""
    form = form_of(request)
    query = {k: form.get(k) for k in ("night", "agent", "rule", "standard", "severity",
                                      "status", "page", "due", "kind", "sampled", "unreviewed")}
    return RedirectResponse(url(request, path, flash=message, flash_kind=kind,
                                flash_sig=_signature(request, message, kind), **query), 303)


def _signature(request: Request, message: str, kind: str) -> str:
    """What makes a message in the address the console's own: a link someone sends cannot
    put words in the confirmation box (keyed by the session's secret CSRF token)."""
    key = request.state.session.csrf.encode()
    return hmac.new(key, f"{kind}\0{message}".encode(), hashlib.sha256).hexdigest()[:32]


def _flash(request: Request) -> dict[str, str]:
    q = request.query_params
    message, kind = q.get("flash", ""), q.get("flash_kind", "ok")
    if not message or not hmac.compare_digest(q.get("flash_sig", ""),
                                              _signature(request, message, kind)):
        return {}
    return {"flash": message, "flash_kind": kind if kind in ("ok", "error") else "ok"}


COMMON = {"standards": STANDARDS, "severities": SEVERITIES}


# -- blacklist -----------------------------------------------------------------------------------


@signed_in()
async def blacklist_page(request: Request) -> Response:
    filters = filters_of(request)
    with console_of(request).ledger() as ledger:
        page = blacklist_queue(ledger, filters)
    return render(request, "queue_blacklist.html", page=page, filters=filters,
                  statuses=BLACKLIST_STATUSES, **COMMON, **_flash(request))


def _decided(request: Request, entry_id: int, approve: bool, reason: str) -> str:
    session = request.state.session
    with console_of(request).ledger() as ledger:
        ledger.decide_blacklist(entry_id, approve, session.user.name, reason)
    return f"proposal {entry_id} {'approved' if approve else 'rejected'}"


@signed_in("decide")
async def blacklist_decide(request: Request) -> Response:
    form = form_of(request)
    entry_id = int(request.path_params["entry_id"])
    decision = str(form.get("decision", ""))
    if decision not in ("approve", "reject"):
        return back(request, "/queues/blacklist", "choose Approve or Reject", "error")
    try:
        done = _decided(request, entry_id, decision == "approve", str(form.get("reason", "")))
    except LedgerError as exc:
        if "only pending" in str(exc):  # someone decided it first: theirs stands
            return render(request, "error.html", status=409, status_code=409,
                          message=f"{exc}. Nothing was changed; the queue shows the "
                                  "decision that stands.")
        return back(request, "/queues/blacklist", str(exc), "error")
    return back(request, "/queues/blacklist", done)


@signed_in("decide")
async def blacklist_bulk(request: Request) -> Response:
    form = form_of(request)
    ids = [int(i) for i in form.getlist("ids") if str(i).isdigit()]
    decision = str(form.get("decision", ""))
    if not ids or decision not in ("approve", "reject"):
        return back(request, "/queues/blacklist", "tick the proposals, then Approve or "
                    "Reject them", "error")
    done, refused = [], []
    for entry_id in ids:  # each its own transaction, as on the CLI: one refusal stops none
        try:
            _decided(request, entry_id, decision == "approve", str(form.get("reason", "")))
            done.append(entry_id)
        except LedgerError as exc:
            refused.append(f"{entry_id}: {exc}")
    message = f"{len(done)} proposal(s) {decision}d"
    if refused:
        message += "; not changed: " + "; ".join(refused)
    return back(request, "/queues/blacklist", message, "error" if refused else "ok")


@signed_in("decide")
async def blacklist_reverse(request: Request) -> Response:
    form = form_of(request)
    entry_id = int(request.path_params["entry_id"])
    to = str(form.get("to", "")) or None
    try:
        with console_of(request).ledger() as ledger:
            before, after = ledger.reverse_blacklist(entry_id, request.state.session.user.name,
                                                     str(form.get("reason", "")), to)
    except LedgerError as exc:
        return back(request, "/queues/blacklist", str(exc), "error")
    return back(request, "/queues/blacklist", f"proposal {entry_id}: {before} → {after}")


# -- callbacks -----------------------------------------------------------------------------------


@signed_in()
async def callbacks_page(request: Request) -> Response:
    filters = filters_of(request)
    due = _day(request.query_params.get("due"))
    with console_of(request).ledger() as ledger:
        page = callback_queue(ledger, filters, due)
    return render(request, "queue_callbacks.html", page=page, filters=filters, due=due,
                  statuses=CALLBACK_STATUSES, outcomes=CALLBACK_OUTCOMES, **COMMON,
                  **_flash(request))


@signed_in("decide")
async def callback_result(request: Request) -> Response:
    form = form_of(request)
    callback_id = int(request.path_params["callback_id"])
    outcome = str(form.get("outcome", ""))
    if outcome not in CALLBACK_OUTCOMES:
        return back(request, "/queues/callbacks",
                    f"choose an outcome ({', '.join(CALLBACK_OUTCOMES)})", "error")
    try:
        with console_of(request).ledger() as ledger:
            said = ledger.callback_result(callback_id, outcome,
                                          request.state.session.user.name,
                                          str(form.get("note", "")))
    except LedgerError as exc:
        return back(request, "/queues/callbacks", str(exc), "error")
    return back(request, "/queues/callbacks", f"callback {callback_id}: {said}",
                "error" if "already" in said else "ok")


# -- the review sample ---------------------------------------------------------------------------


@signed_in()
async def review_page(request: Request) -> Response:
    filters = filters_of(request)
    kind = request.query_params.get("kind", "daily")
    kind = kind if kind in ("daily", "weekly") else "daily"
    with console_of(request).ledger() as ledger:
        night = filters.night or last_night(ledger)
        sampled = request.query_params.get("sampled") == "1"
        unreviewed = request.query_params.get("unreviewed") == "1"
        sample = (review_sample(ledger, night, filters, kind, sampled, unreviewed)
                  if night else None)
    return render(request, "queue_review.html", sample=sample, night=night, kind=kind,
                  sampled=sampled, unreviewed=unreviewed,
                  filters=filters, validity=VALIDITY_STANDARDS, **COMMON, **_flash(request))


@signed_in("review")
async def review_finding(request: Request) -> Response:
    form = form_of(request)
    fingerprint = request.path_params["fingerprint"]
    verdict = str(form.get("verdict", ""))
    if verdict not in ("upheld", "overturned"):
        return back(request, "/queues/review", "choose Uphold or Overturn", "error")
    try:
        with console_of(request).ledger() as ledger:
            row, changes = ledger.review_finding(
                fingerprint, verdict, request.state.session.user.name,
                str(form.get("note", "")), dispute=bool(form.get("dispute")))
    except LedgerError as exc:
        return back(request, "/queues/review", str(exc), "error")
    message = f"{row['rule_id']} on {row['call_id']}: {verdict}"
    if changes:
        message += " — " + "; ".join(changes)
    return back(request, "/queues/review", message)


@signed_in("review")
async def review_missed(request: Request) -> Response:
    form = form_of(request)
    call_id = str(form.get("call_id", "")).strip()
    standard = str(form.get("standard", ""))
    note = str(form.get("note", "")).strip()
    severity = str(form.get("severity", "")) or "major"
    if standard not in VALIDITY_STANDARDS or severity not in SEVERITIES:
        return back(request, "/queues/review", "choose the standard the call broke", "error")
    config = console_of(request).config
    try:
        policy_path = config.rules / "actions.yaml"
        policy = load_policy(policy_path) if policy_path.is_file() else None
        with console_of(request).ledger() as ledger:
            changes = ledger.record_missed(call_id, standard, severity, note, None,
                                           request.state.session.user.name, note, policy)
    except (LedgerError, RulePackError) as exc:
        message = exc.render() if isinstance(exc, RulePackError) else str(exc)
        return back(request, "/queues/review", message, "error")
    return back(request, "/queues/review",
                f"{call_id}: missed {standard} violation recorded — " + "; ".join(changes))


ROUTES = [
    Route("/queues/blacklist", blacklist_page),
    Route("/queues/blacklist/bulk", blacklist_bulk, methods=["POST"]),
    Route("/queues/blacklist/{entry_id:int}/decide", blacklist_decide, methods=["POST"]),
    Route("/queues/blacklist/{entry_id:int}/reverse", blacklist_reverse, methods=["POST"]),
    Route("/queues/callbacks", callbacks_page),
    Route("/queues/callbacks/{callback_id:int}/result", callback_result, methods=["POST"]),
    Route("/queues/review", review_page),
    Route("/queues/review/missed", review_missed, methods=["POST"]),
    Route("/queues/review/{fingerprint}", review_finding, methods=["POST"]),
]
