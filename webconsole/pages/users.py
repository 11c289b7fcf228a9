"""placeholder"""

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
