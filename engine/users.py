"""The web console's users, roles and sign-in sessions, kept in the ledger.

Passwords are stored as scrypt hashes (Python's hashlib; RFC 7914), each with its own
random salt; sessions as the SHA-256 of a random token that only the browser's cookie
holds, so a copy of the ledger signs nobody in. Users are made from the CLI
(`callaudit users add`) or by an admin in the console; every change is in the history.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from engine.actions.ledger import Ledger, LedgerError, now

# What each role may do in the console (docs/console.md). A person may hold several.
ROLES = {
    "qa": "review findings: uphold, overturn, record a missed violation or a dispute",
    "manager": "decide blacklist proposals and work callbacks; see full phone numbers",
    "compliance": "read the rule packs and their precision; try a rule on a call",
    "admin": "manage users",
}
PERMISSIONS = {
    "review": ("qa",),
    "decide": ("manager",),
    "reveal": ("manager",),
    "rules": ("compliance", "qa", "admin"),
    "users": ("admin",),
}
NAME = re.compile(r"[\w.@-]{1,64}")
MIN_PASSWORD = 10
SESSION_HOURS = 12
# scrypt's cost: 16 MiB of memory and ~50 ms a sign-in on this project's 2-core VM.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    encode = base64.b64encode
    return (f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}$"
            f"{encode(salt).decode()}${encode(key).decode()}")


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                               n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, base64.b64decode(key))


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    created_at: str
    created_by: str
    disabled_at: str | None = None

    def may(self, permission: str) -> bool:
        return any(role in self.roles for role in PERMISSIONS[permission])


def _user(row: object) -> User:
    return User(row["name"], tuple(json.loads(row["roles"])), row["created_at"],  # type: ignore[index]
                row["created_by"], row["disabled_at"])  # type: ignore[index]


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise LedgerError(f"'{name}' cannot be a user name: use 1–64 letters, digits, "
                          "'.', '_', '-' or '@' (e.g. wang.li)")


def check_roles(roles: tuple[str, ...]) -> None:
    if not roles:
        raise LedgerError(f"give at least one role ({', '.join(ROLES)})")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise LedgerError(f"unknown role '{unknown[0]}': the roles are {', '.join(ROLES)}")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise LedgerError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(ledger: Ledger, name: str, password: str, roles: tuple[str, ...], by: str) -> User:
    check_name(name)
    check_roles(roles)
    check_password(password)
    stamp = now()
    with ledger.transaction() as db:
        if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise LedgerError(f"user '{name}' exists already (`callaudit users passwd` or "
                              "`users roles` changes it)")
        db.execute("INSERT INTO users(name, password_hash, roles, created_at, created_by) "
                   "VALUES (?, ?, ?, ?, ?)",
                   (name, hash_password(password), json.dumps(list(roles)), stamp, by))
        ledger._history("user", name, by, "created", {"roles": list(roles)})
    return User(name, roles, stamp, by)


def users(ledger: Ledger) -> list[User]:
    return [_user(r) for r in ledger.db.execute("SELECT * FROM users ORDER BY name")]


def user(ledger: Ledger, name: str) -> User | None:
    row = ledger.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row) if row is not None else None


def _existing(ledger: Ledger, name: str) -> User:
    found = user(ledger, name)
    if found is None:
        raise LedgerError(f"no user '{name}' (`callaudit users list` shows them)")
    return found


def set_password(ledger: Ledger, name: str, password: str, by: str) -> None:
    check_password(password)
    _existing(ledger, name)
    with ledger.transaction() as db:
        db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                   (hash_password(password), name))
        db.execute("DELETE FROM web_sessions WHERE user_name = ?", (name,))
        ledger._history("user", name, by, "password changed")


def set_roles(ledger: Ledger, name: str, roles: tuple[str, ...], by: str) -> None:
    check_roles(roles)
    before = _existing(ledger, name)
    with ledger.transaction() as db:
        db.execute("UPDATE users SET roles = ? WHERE name = ?", (json.dumps(list(roles)), name))
        ledger._history("user", name, by, "roles changed",
                        {"before": list(before.roles), "after": list(roles)})


def set_disabled(ledger: Ledger, name: str, disabled: bool, by: str) -> None:
    _existing(ledger, name)
    with ledger.transaction() as db:
        db.execute("UPDATE users SET disabled_at = ? WHERE name = ?",
                   (now() if disabled else None, name))
        if disabled:
            db.execute("DELETE FROM web_sessions WHERE user_name = ?", (name,))
        ledger._history("user", name, by, "disabled" if disabled else "enabled")


# -- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str  # the token every form must send back while this sign-in lasts


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(ledger: Ledger, name: str, password: str) -> str | None:
    """A new session's token (for the cookie), or None: unknown user, wrong password or a
    disabled account, told apart to nobody. Each attempt is in the history."""
    row = ledger.db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    # A user that does not exist costs the same scrypt as one that does.
    stored = row["password_hash"] if row is not None else hash_password("x" * MIN_PASSWORD)
    ok = password_matches(password, stored) and row is not None and not row["disabled_at"]
    with ledger.transaction() as db:
        ledger._history("user", name if row is not None else "?", name,
                        "signed in" if ok else "sign-in refused")
        if not ok:
            return None
        token = secrets.token_urlsafe(32)
        stamp = datetime.now(timezone.utc)
        db.execute("DELETE FROM web_sessions WHERE expires_at < ?",
                   (stamp.isoformat(timespec="seconds"),))
        db.execute("INSERT INTO web_sessions(token_hash, user_name, csrf, created_at, "
                   "expires_at) VALUES (?, ?, ?, ?, ?)",
                   (_token_hash(token), name, secrets.token_urlsafe(32),
                    stamp.isoformat(timespec="seconds"),
                    (stamp + timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")))
    return token


def session_of(ledger: Ledger, token: str | None) -> Session | None:
    """The signed-in session the cookie's token names, if it is live and its user enabled."""
    if not token:
        return None
    row = ledger.db.execute(
        "SELECT s.csrf, s.expires_at, u.* FROM web_sessions s JOIN users u "
        "ON u.name = s.user_name WHERE s.token_hash = ?", (_token_hash(token),)).fetchone()
    if row is None or row["disabled_at"] or row["expires_at"] < now():
        return None
    return Session(_user(row), row["csrf"])


def sign_out(ledger: Ledger, token: str | None) -> None:
    if not token:
        return
    with ledger.transaction() as db:
        db.execute("DELETE FROM web_sessions WHERE token_hash = ?", (_token_hash(token),))
