"""Agents: rates per agent over a range of nights (`/agents`), one agent's weekly trend
and calls (`/agents/{id}`)."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.console.agents import agent_calls, agent_last_night, agent_weeks
from engine.console.home import last_night
from engine.nightly.analysis import agent_metrics
from webconsole.app import console_of, render, signed_in
from webconsole.charts import trend_svg
from webconsole.pages.calls import call_url, date_param, page_param


@signed_in()
async def agents(request: Request) -> Response:
    with console_of(request).ledger() as ledger:
        last = date_param(request, "to") or last_night(ledger)
        if last is None:
            return render(request, "agents.html", rows=[], first=None, last=None)
        first = date_param(request, "from") or last - timedelta(days=6)
        if first > last:
            first, last = last, first
        rows = agent_metrics(ledger, first, last)
    return render(request, "agents.html", rows=rows, first=first, last=last)


@signed_in()
async def agent(request: Request) -> Response:
    agent_id = request.path_params["agent_id"]
    with console_of(request).ledger() as ledger:
        last = agent_last_night(ledger, agent_id)
        weeks = agent_weeks(ledger, agent_id, last) if last else []
        calls = agent_calls(ledger, agent_id, page_param(request))
    chart = trend_svg([(w.first.isoformat(), w.validity) for w in weeks]) if weeks else None
    return render(request, "agent.html", agent_id=agent_id, weeks=weeks, chart=chart,
                  result=calls, call_url=lambda c: call_url(request, c))


ROUTES = [Route("/agents", agents), Route("/agents/{agent_id:path}", agent)]
