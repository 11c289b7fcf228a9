"""The console's pages, one module per area; each module's ROUTES are served."""

from __future__ import annotations

from starlette.routing import BaseRoute

from webconsole.pages import agents, calls, home, queues, rules, search, users

ROUTES: list[BaseRoute] = [*home.ROUTES, *queues.ROUTES, *calls.ROUTES, *agents.ROUTES,
                           *rules.ROUTES, *search.ROUTES, *users.ROUTES]
