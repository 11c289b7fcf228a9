"""Search (`/search?q=`): a phone number, a call id or an agent id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.console.search import search
from engine.privacy import mask_numbers_in_text
from webconsole.app import console_of, render, signed_in
from webconsole.pages.calls import call_url


@signed_in()
async def search_page(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:200]
    with console_of(request).ledger() as ledger:
        found = search(ledger, query)
    reveal = request.state.session.user.may("reveal")
    # A number typed in full is shown masked to whoever may not see full numbers.
    shown = query if reveal else mask_numbers_in_text(query)
    return render(request, "search.html", found=found, shown=shown, reveal=reveal,
                  history=found.history, call_url=lambda c: call_url(request, c))


ROUTES = [Route("/search", search_page)]
