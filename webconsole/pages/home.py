"""Home: tonight at a glance (`/`, `/?night=YYYY-MM-DD`)."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.console.home import last_night, night_figures, violations_of, weekly_validity
from webconsole.app import console_of, render, signed_in
from webconsole.charts import trend_svg


def night_param(request: Request) -> date | None:
    text = request.query_params.get("night", "")
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@signed_in()
async def home(request: Request) -> Response:
    with console_of(request).ledger() as ledger:
        night = night_param(request) or last_night(ledger)
        if night is None:
            return render(request, "home.html", night=None)
        figures = night_figures(ledger, night)
        trend = weekly_validity(ledger, night)
        standards = violations_of(ledger, night)
    # Each warning's calls: its category on the calls list (a rule, or a standard/signal).
    categories = {w.id: ({"rule": w.value} if w.kind == "rule" else {"standard": w.value})
                  for w in console_of(request).config.warnings}
    return render(request, "home.html", night=night, figures=figures, trend=trend,
                  categories=categories,
                  chart=trend_svg([(p.first.isoformat(), p.validity) for p in trend]),
                  standards=standards)


ROUTES = [Route("/", home)]
