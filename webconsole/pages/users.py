"""Users (permission "users", admins): list, add, change roles, disable or enable; every
change goes through engine/users.py and is in the history with the admin's name."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.actions.ledger import LedgerError
from engine.users import ROLES, add_user, set_disabled, set_roles, users
from webconsole.app import console_of, form_of, render, signed_in


def _page(request: Request, flash: str | None = None, error: bool = False) -> Response:
    with console_of(request).ledger() as ledger:
        everyone = users(ledger)
        history = ledger.db.execute(
            "SELECT * FROM history WHERE kind = 'user' AND event NOT IN ('signed in', "
            "'sign-in refused') ORDER BY id DESC LIMIT 50").fetchall()
    return render(request, "users.html", status=400 if error else 200, users=everyone,
                  history=history, flash=flash, flash_kind="error" if error else "ok")


def _roles(request: Request) -> tuple[str, ...]:
    return tuple(r for r in ROLES if r in form_of(request).getlist("roles"))


def _by(request: Request) -> str:
    return request.state.session.user.name


@signed_in("users")
async def users_page(request: Request) -> Response:
    return _page(request)


@signed_in("users")
async def add(request: Request) -> Response:
    form = form_of(request)
    name = str(form.get("name", "")).strip()
    try:
        with console_of(request).ledger() as ledger:
            add_user(ledger, name, str(form.get("password", "")), _roles(request), _by(request))
    except LedgerError as exc:
        return _page(request, str(exc), error=True)
    return _page(request, f"user {name} added · 已添加")


@signed_in("users")
async def roles(request: Request) -> Response:
    name = str(form_of(request).get("name", ""))
    try:
        with console_of(request).ledger() as ledger:
            set_roles(ledger, name, _roles(request), _by(request))
    except LedgerError as exc:
        return _page(request, str(exc), error=True)
    return _page(request, f"roles of {name} changed · 角色已修改")


@signed_in("users")
async def state(request: Request) -> Response:
    form = form_of(request)
    name = str(form.get("name", ""))
    disable = form.get("action") == "disable"
    if disable and name == _by(request):
        return _page(request, "you cannot disable yourself", error=True)
    try:
        with console_of(request).ledger() as ledger:
            set_disabled(ledger, name, disable, _by(request))
    except LedgerError as exc:
        return _page(request, str(exc), error=True)
    return _page(request, f"user {name} {'disabled · 已停用' if disable else 'enabled · 已启用'}")


ROUTES = [
    Route("/users", users_page),
    Route("/users/add", add, methods=["POST"]),
    Route("/users/roles", roles, methods=["POST"]),
    Route("/users/state", state, methods=["POST"]),
]
