"""The console's pages, one module per area; each module's ROUTES are served."""

from __future__ import annotations

from starlette.routing import BaseRoute

from webconsole.pages import home, queues

ROUTES: list[BaseRoute] = [*home.ROUTES, *queues.ROUTES]
