"""`callaudit serve` and `callaudit users`: the web console and the people who sign in."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli_commands import EXIT_OK, UserError, config_option, open_ledger, read_config
from engine.users import ROLES, add_user, set_disabled, set_password, set_roles, users

workspace = config_option(expose=True)


def _config(config_path: Path):
    config = read_config(config_path)
    return config


def _password(prompt: bool, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UserError("no password on standard input")
        return line
    if not prompt:
        raise UserError("give the password at the prompt, or with --password-stdin")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("serve")
@workspace
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (localhost only by default; behind a reverse "
                   "proxy, keep it so and let the proxy face the network).")
@click.option("--port", type=click.IntRange(1, 65535), default=8400, show_default=True)
@click.option("--root-path", default="",
              help="The path prefix a reverse proxy serves the console under (e.g. /qa).")
@click.option("--proxy", "proxy_ips", default="127.0.0.1", show_default=True,
              help="Addresses of proxies whose X-Forwarded-For/-Proto headers are trusted.")
@click.option("--insecure-cookies", is_flag=True,
              help="Send the sign-in cookie over plain HTTP too (only for a private "
                   "network without TLS; browsers keep Secure cookies on localhost anyway).")
def serve_command(config_path: Path, host: str, port: int, root_path: str, proxy_ips: str,
                  insecure_cookies: bool) -> None:
    """Serve the web console for this workspace: tonight's figures, the blacklist,
    callback and review queues, calls with their evidence, agents, rules and search.
    Users sign in with the accounts `callaudit users add` makes."""
    import uvicorn

    from webconsole.app import create_app

    config = _config(config_path)
    with open_ledger(config.database, must_exist=False) as ledger:
        if not users(ledger):
            click.echo("note: no users yet; add one with `callaudit users add NAME --role "
                       "admin`", err=True)
    app = create_app(config, secure_cookies=not insecure_cookies)
    click.echo(f"callaudit console for {config.path.parent} on http://{host}:{port}"
               f"{root_path}/ (Ctrl+C stops it)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, root_path=root_path, proxy_headers=True,
                    forwarded_allow_ips=proxy_ips, log_level="warning", access_log=False)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose "
                        "another --port") from None
    raise SystemExit(EXIT_OK)


@click.group("users")
def users_group() -> None:
    """The people who sign in to the web console, and their roles."""


ROLE_HELP = "; ".join(f"{name}: {what}" for name, what in ROLES.items())


@users_group.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)),
              help=f"Repeatable. {ROLE_HELP}.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--by", "by_name", default="cli", show_default=True, help="Who adds the user.")
@workspace
def add_command(name: str, roles: tuple[str, ...], password_stdin: bool, by_name: str,
                config_path: Path) -> None:
    """Add a user who may sign in to the console."""
    config = _config(config_path)
    password = _password(True, password_stdin)
    with open_ledger(config.database, must_exist=False) as ledger:
        add_user(ledger, name, password, roles, by_name)
    click.echo(f"added {name} ({', '.join(roles)})")


@users_group.command("list")
@workspace
def list_command(config_path: Path) -> None:
    """The users, their roles, and who added them when."""
    config = _config(config_path)
    with open_ledger(config.database, must_exist=False) as ledger:
        found = users(ledger)
    if not found:
        click.echo("no users (callaudit users add NAME --role ROLE)")
    for user in found:
        state = f"  disabled {user.disabled_at[:10]}" if user.disabled_at else ""
        click.echo(f"{user.name:<20} {','.join(user.roles):<24} added {user.created_at[:10]} "
                   f"by {user.created_by}{state}")


@users_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
@click.option("--by", "by_name", default="cli", show_default=True)
@workspace
def passwd_command(name: str, password_stdin: bool, by_name: str, config_path: Path) -> None:
    """Set a user's password (their open sessions end)."""
    config = _config(config_path)
    password = _password(True, password_stdin)
    with open_ledger(config.database) as ledger:
        set_password(ledger, name, password, by_name)
    click.echo(f"password of {name} changed")


@users_group.command("roles")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)))
@click.option("--by", "by_name", default="cli", show_default=True)
@workspace
def roles_command(name: str, roles: tuple[str, ...], by_name: str, config_path: Path) -> None:
    """Replace a user's roles."""
    config = _config(config_path)
    with open_ledger(config.database) as ledger:
        set_roles(ledger, name, roles, by_name)
    click.echo(f"{name}: {', '.join(roles)}")


@users_group.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Let a disabled user sign in again.")
@click.option("--by", "by_name", default="cli", show_default=True)
@workspace
def disable_command(name: str, enable: bool, by_name: str, config_path: Path) -> None:
    """Stop a user signing in (their open sessions end), or --enable them again."""
    config = _config(config_path)
    with open_ledger(config.database) as ledger:
        set_disabled(ledger, name, not enable, by_name)
    click.echo(f"{name} {'enabled' if enable else 'disabled'}")
