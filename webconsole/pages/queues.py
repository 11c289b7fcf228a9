"""The queues: blacklist proposals, callbacks due, the review sample."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
