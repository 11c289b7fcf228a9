"""The web console (`callaudit serve`): server-rendered pages over the same engine functions
and ledger as the CLI. This module holds what every page shares: the workspace, sign-in,
roles, CSRF, and rendering. The pages themselves are in webconsole/pages/*.py, one module
per area, each a list of routes.

Every request opens the ledger, does its work and closes it: SQLite in WAL mode serves
readers while a writer works, and a decision is one transaction, as on the CLI.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from engine.actions.ledger import Ledger
from engine.nightly.config import NightlyConfig
from engine.privacy import mask_numbers_in_text, mask_phone
from engine.users import ROLES, Session, session_of, sign_in, sign_out

COOKIE = "callaudit_session"
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Console:
    """What the console serves: one workspace's configuration (its ledger and rules)."""

    config: NightlyConfig
    secure_cookies: bool = True

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        ledger = Ledger(self.config.database)
        try:
            yield ledger
        finally:
            ledger.close()


def console_of(request: Request) -> Console:
    return request.app.state.console


TEMPLATES = Environment(loader=PackageLoader("webconsole", "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True,
                        lstrip_blocks=True)
TEMPLATES.filters["masked"] = lambda text: mask_numbers_in_text(text or "")
TEMPLATES.filters["phone"] = lambda number: mask_phone(number) or ""
TEMPLATES.globals["ROLES"] = ROLES


def _when(stamp: str | None) -> str:
    """A ledger time (ISO, UTC) as people read it: '2026-12-08 01:03 UTC'."""
    if not stamp:
        return ""
    text = str(stamp).replace("T", " ")
    if text.endswith("+00:00"):
        return text[:16] + " UTC"
    return text[:16] + (f" ({text[19:]})" if len(text) > 19 else "")


def _detail(text: str | None) -> str:
    """A history row's or an order's JSON as words: 'reason: 客户已撤回投诉; to: approved'."""
    if not text:
        return ""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return str(text)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_detail(json.dumps(v, ensure_ascii=False))}"
                         for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_detail(json.dumps(v, ensure_ascii=False)) for v in value)
    return "" if value is None else str(value)


TEMPLATES.filters["when"] = _when
TEMPLATES.filters["detail"] = _detail


def url(request: Request, path: str, **query: Any) -> str:
    """An app path (behind a proxy's prefix too) with a query string of the given values."""
    base = request.scope.get("root_path", "") + path
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return base + ("?" + urlencode(kept, doseq=True) if kept else "")


TEMPLATES.globals["quote"] = quote


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = request.state.session if hasattr(request.state, "session") \
        else None
    page = TEMPLATES.get_template(template).render(
        request=request, session=session, user=session.user if session else None,
        csrf=session.csrf if session else "", url=lambda p, **q: url(request, p, **q),
        **context)
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


# No framing, no sniffing, no referrer leaking a call id, and nothing loaded from elsewhere.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; media-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class Forbidden(HTTPException):
    def __init__(self, why: str) -> None:
        super().__init__(403, why)


Handler = Callable[[Request], Awaitable[Response]]


def signed_in(permission: str | None = None) -> Callable[[Handler], Handler]:
    """A page for signed-in users (with `permission`, only the roles that hold it: a
    403 for others, for the page and for its form posts alike). Every POST must carry the
    session's CSRF token."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def page(request: Request) -> Response:
            console = console_of(request)
            token = request.cookies.get(COOKIE)
            with console.ledger() as ledger:
                session = session_of(ledger, token)
            if session is None:
                if request.method == "GET":
                    return RedirectResponse(url(request, "/login", next=request.url.path +
                                                ("?" + request.url.query
                                                 if request.url.query else "")), 303)
                raise HTTPException(401, "sign in first")
            request.state.session = session
            if permission is not None and not session.user.may(permission):
                raise Forbidden(f"{session.user.name} ({', '.join(session.user.roles)}) may "
                                f"not do this: it needs the role "
                                f"{' or '.join(_roles_for(permission))}")
            if request.method == "POST":
                form = await request.form()
                request.state.form = form
                sent = str(form.get("csrf", ""))
                if not sent or not hmac.compare_digest(sent, session.csrf):
                    raise Forbidden("the form's security token is missing or stale: reload "
                                    "the page and try again")
            return await handler(request)

        return page

    return wrap


def _roles_for(permission: str) -> tuple[str, ...]:
    from engine.users import PERMISSIONS

    return PERMISSIONS[permission]


def form_of(request: Request) -> FormData:
    return request.state.form


# -- sign-in -------------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return render(request, "login.html", next=request.query_params.get("next", "/"),
                  failed=False)


async def login(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = str(form.get("next", "/"))
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # never send a signed-in user to another site
    console = console_of(request)
    with console.ledger() as ledger:
        token = sign_in(ledger, name, password)
    if token is None:
        time.sleep(0.2)  # a guesser's rate, not a person's
        return render(request, "login.html", status=401, next=target, failed=True)
    response = RedirectResponse(url(request, target), 303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=console.secure_cookies,
                        path=request.scope.get("root_path", "") or "/")
    return response


@signed_in()
async def logout(request: Request) -> Response:
    with console_of(request).ledger() as ledger:
        sign_out(ledger, request.cookies.get(COOKIE))
    response = RedirectResponse(url(request, "/login"), 303)
    response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")
    return response


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "error.html", status=exc.status_code, status_code=exc.status_code,
                  message=exc.detail)


def create_app(config: NightlyConfig, *, secure_cookies: bool = True) -> Starlette:
    """The console for one workspace."""
    from webconsole.pages import ROUTES

    routes: list[BaseRoute] = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error})
    app.state.console = Console(config, secure_cookies)
    return app
