"""Users, passwords, API tokens, browser sessions and login rate limiting.

Passwords are hashed with argon2id (argon2-cffi, RFC 9106 parameters); API tokens
and session ids are 256-bit random strings of which only a SHA-256 is stored.
Nothing here logs or returns a password, a token or a hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg import sql
from psycopg.rows import dict_row

from registry.errors import RegistryError
from registry.permissions import Role, parse_role

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as much
# time as a wrong password and usernames cannot be probed by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TOKEN_PREFIX = "jzr_"
MIN_PASSWORD_LENGTH = 10
# one address may fail this many times the per-username limit, over all usernames
IP_FACTOR = 10


class AuthenticationRequired(RegistryError):
    """No valid credentials: not signed in, a wrong password, a forged/expired token."""

    status = 401
    code = "authentication_required"
    # Also challenge for HTTP Basic (an API token as the password): set by the web layer
    # on the routes desktop GIS clients read, which prompt for it (QGIS, curl/GDAL).
    offer_basic = False

    def headers(self) -> dict[str, str]:
        """Tell clients how to authenticate (RFC 9110; Basic per RFC 7617)."""
        challenge = 'Bearer realm="registry"'
        if self.offer_basic:
            challenge += ', Basic realm="registry", charset="UTF-8"'
        return {"WWW-Authenticate": challenge}


class CsrfFailed(RegistryError):
    """A cookie-authenticated write without the matching ``X-CSRF-Token`` header."""

    status = 403
    code = "csrf_failed"


class TooManyAttempts(RegistryError):
    """Too many failed logins for this username from this address."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """When the client may try again."""
        return {"Retry-After": str(self.retry_after)}


class UserNotFound(RegistryError):
    """No account of that name."""

    status = 404
    code = "user_not_found"


class UserExists(RegistryError):
    """An account of that name exists already."""

    status = 409
    code = "user_exists"


class InvalidUsername(RegistryError):
    """A username with characters or a length the registry does not accept."""

    status = 422
    code = "invalid_username"


class WeakPassword(RegistryError):
    """A password too short to be set."""

    status = 422
    code = "weak_password"


@dataclass(frozen=True)
class User:
    """A signed-in account as routes see it (never carries the password hash)."""

    id: int
    username: str
    display_name: str | None
    role: Role
    disabled: bool
    created_at: dt.datetime | None = None
    last_login_at: dt.datetime | None = None

    def public(self) -> dict[str, Any]:
        """What ``/auth/me`` and ``registry user list`` show."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


_USER_COLUMN_NAMES = ("id", "username", "display_name", "role", "disabled", "created_at", "last_login_at")
_USER_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _USER_COLUMN_NAMES))
_U_USER_COLUMNS = sql.SQL(", ").join(sql.Identifier("u", c) for c in _USER_COLUMN_NAMES)


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        disabled=row["disabled"],
        created_at=row.get("created_at"),
        last_login_at=row.get("last_login_at"),
    )


def sha256(secret: str) -> str:
    """The stored form of a high-entropy secret (token, session id, CSRF token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_password() -> str:
    """A random password for a first admin or a reset (about 120 bits)."""
    return secrets.token_urlsafe(15)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword("").with_message("password_too_short", min=MIN_PASSWORD_LENGTH)


# ---------------------------------------------------------------- users


def create_user(
    conn: psycopg.Connection,
    *,
    username: str,
    password: str,
    role: str | Role,
    display_name: str | None = None,
) -> User:
    """Add an account; the password is hashed before it reaches the database."""
    parsed = parse_role(str(role))
    _check_password(password)
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL(
                    "INSERT INTO users (username, display_name, password_hash, role) VALUES (%s, %s, %s, %s) "
                    "RETURNING {}"
                ).format(_USER_COLUMNS),
                (username, display_name, _hasher.hash(password), parsed.value),
            )
            row = cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise UserExists("").with_message("user_exists", username=username) from None
    except psycopg.errors.CheckViolation:
        raise InvalidUsername("").with_message("username_invalid", username=username) from None
    assert row is not None
    logger.info("user %s created with role %s", username, parsed.value)
    return _user(row)


def get_user(conn: psycopg.Connection, username: str) -> User:
    """The account of that name (case-insensitive) or UserNotFound."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT {} FROM users WHERE lower(username) = lower(%s)").format(_USER_COLUMNS),
            (username,),
        )
        row = cur.fetchone()
    if row is None:
        raise UserNotFound("").with_message("user_not_found", username=username)
    return _user(row)


def list_users(conn: psycopg.Connection) -> list[User]:
    """Every account, by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SELECT {} FROM users ORDER BY lower(username)").format(_USER_COLUMNS))
        return [_user(r) for r in cur.fetchall()]


def count_users(conn: psycopg.Connection) -> int:
    """How many accounts exist (0 on a fresh install)."""
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def _update_user(conn: psycopg.Connection, username: str, column: str, value: Any) -> User:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "UPDATE users SET {} = %s, updated_at = now() WHERE lower(username) = lower(%s) RETURNING {}"
            ).format(sql.Identifier(column), _USER_COLUMNS),
            (value, username),
        )
        row = cur.fetchone()
    if row is None:
        raise UserNotFound("").with_message("user_not_found", username=username)
    return _user(row)


def set_role(conn: psycopg.Connection, username: str, role: str | Role) -> User:
    """Change an account's role; takes effect on its next request."""
    parsed = parse_role(str(role))
    user = _update_user(conn, username, "role", parsed.value)
    logger.info("user %s now has role %s", user.username, parsed.value)
    return user


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool = True) -> User:
    """Disable (or re-enable) an account; a disabled account's sessions and tokens stop working."""
    user = _update_user(conn, username, "disabled", disabled)
    if disabled:
        conn.execute("DELETE FROM sessions WHERE user_id = %s", (user.id,))
    logger.info("user %s %s", user.username, "disabled" if disabled else "enabled")
    return user


def set_password(conn: psycopg.Connection, username: str, password: str) -> User:
    """Replace the password; every open session of the account ends."""
    _check_password(password)
    user = _update_user(conn, username, "password_hash", _hasher.hash(password))
    conn.execute("DELETE FROM sessions WHERE user_id = %s", (user.id,))
    return user


# ---------------------------------------------------------------- login


def _failures(conn: psycopg.Connection, username: str, ip: str, window: int) -> tuple[int, int]:
    """Failed attempts in the window and seconds until the oldest of them expires."""
    row = conn.execute(
        "SELECT count(*), COALESCE(ceil(extract(epoch FROM min(at) + make_interval(secs => %s) "
        "- clock_timestamp())), 0) FROM login_attempts "
        "WHERE lower(username) = lower(%s) AND ip = %s AND NOT success "
        "AND at > clock_timestamp() - make_interval(secs => %s)",
        (window, username, ip, window),
    ).fetchone()
    assert row is not None
    return int(row[0]), max(1, int(row[1]))


def _failures_from(conn: psycopg.Connection, ip: str, window: int) -> tuple[int, int]:
    """Failed attempts from one address for any username in the window."""
    row = conn.execute(
        "SELECT count(*), COALESCE(ceil(extract(epoch FROM min(at) + make_interval(secs => %s) "
        "- clock_timestamp())), 0) FROM login_attempts "
        "WHERE ip = %s AND NOT success AND at > clock_timestamp() - make_interval(secs => %s)",
        (window, ip, window),
    ).fetchone()
    assert row is not None
    return int(row[0]), max(1, int(row[1]))


# How long each login attempt is kept (who tried which account from where).
LOGIN_ATTEMPTS_KEEP_DAYS = 180


def authenticate(
    conn: psycopg.Connection,
    *,
    username: str,
    password: str,
    ip: str,
    max_failures: int = 5,
    window_seconds: int = 300,
) -> User:
    """Check a username and password, counting failures per username and address.

    After ``max_failures`` failures within ``window_seconds`` further attempts are
    refused with TooManyAttempts (429) before the password is even checked; an
    address with ``IP_FACTOR`` times as many failures over all usernames too. Every
    attempt is recorded (committed even when the login fails).
    """
    failures, retry_after = _failures(conn, username, ip, window_seconds)
    from_ip, ip_retry = _failures_from(conn, ip, window_seconds)
    if from_ip >= max_failures * IP_FACTOR:
        # one address trying many usernames (password spraying)
        failures, retry_after = from_ip, ip_retry
    if failures >= max_failures or from_ip >= max_failures * IP_FACTOR:
        logger.warning("login rate limit hit for user %r from %s", username, ip)
        raise TooManyAttempts("", retry_after=retry_after).with_message("login_too_many", seconds=retry_after)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT {}, password_hash FROM users WHERE lower(username) = lower(%s)").format(
                _USER_COLUMNS
            ),
            (username,),
        )
        row = cur.fetchone()
    ok = False
    try:
        ok = _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    ok = ok and row is not None and not row["disabled"]
    conn.execute("INSERT INTO login_attempts (username, ip, success) VALUES (%s, %s, %s)", (username, ip, ok))
    # The table would grow with every login forever; attempts older than the audit
    # period are of no use to the rate limit (minutes) nor to an investigation.
    conn.execute(
        "DELETE FROM login_attempts WHERE at < now() - make_interval(days => %s)", (LOGIN_ATTEMPTS_KEEP_DAYS,)
    )
    if not ok:
        conn.commit()  # the failure must count even though the caller rolls back
        logger.info("failed login for user %r from %s", username, ip)
        raise AuthenticationRequired("").with_message("login_wrong")
    assert row is not None
    if _hasher.check_needs_rehash(row["password_hash"]):
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (_hasher.hash(password), row["id"]))
    conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (row["id"],))
    logger.info("user %s signed in from %s", row["username"], ip)
    return _user(row)


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class NewSession:
    """The secrets handed to the browser once, as cookies."""

    session_id: str
    csrf_token: str
    expires_at: dt.datetime


def create_session(
    conn: psycopg.Connection,
    user: User,
    *,
    ttl: dt.timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
) -> NewSession:
    """Open a browser session with its CSRF token; only their hashes are stored."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_hash, expires_at, ip, user_agent) "
        "VALUES (%s, %s, %s, now() + %s, %s, %s) RETURNING expires_at",
        (sha256(session_id), user.id, sha256(csrf), ttl, ip, (user_agent or "")[:300]),
    ).fetchone()
    assert row is not None
    # expired sessions of anyone are swept on each login rather than by a cron job
    conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    return NewSession(session_id, csrf, row[0])


def user_for_session(conn: psycopg.Connection, session_id: str) -> tuple[User, str]:
    """The live session's user and its CSRF hash, or AuthenticationRequired."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT {}, s.csrf_hash FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.id_hash = %s AND s.expires_at > now() AND NOT u.disabled"
            ).format(_U_USER_COLUMNS),
            (sha256(session_id),),
        )
        row = cur.fetchone()
    if row is None:
        raise AuthenticationRequired("").with_message("session_expired")
    return _user(row), row["csrf_hash"]


def end_session(conn: psycopg.Connection, session_id: str) -> None:
    """Sign out: the session id stops working at once."""
    conn.execute("DELETE FROM sessions WHERE id_hash = %s", (sha256(session_id),))


# ---------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class NewToken:
    """A freshly issued API token: ``token`` is shown once and never stored."""

    id: int
    token: str
    name: str
    expires_at: dt.datetime | None


def create_token(
    conn: psycopg.Connection, user: User, *, name: str = "", ttl: dt.timedelta | None = None
) -> NewToken:
    """Issue an API token for scripts and GIS clients (Bearer, or the password of HTTP Basic)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at) "
        "VALUES (%s, %s, %s, %s, now() + %s) RETURNING id, expires_at",
        (user.id, name, sha256(token), token[:10], ttl),
    ).fetchone()
    assert row is not None
    logger.info("API token %s issued to %s", row[0], user.username)
    return NewToken(row[0], token, name, row[1])


# Rendered once: it runs on every request that carries a token.
_TOKEN_OWNER = sql.SQL(
    sql.SQL(
        "SELECT t.id AS token_id, (t.last_used_at < now() - interval '1 minute') IS NOT FALSE"
        " AS stale, {cols} FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = %s AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled"
    )
    .format(cols=_U_USER_COLUMNS)
    .as_string(None)
)


def user_for_token(conn: psycopg.Connection, token: str) -> User:
    """The owner of a live (unexpired, unrevoked) token, or AuthenticationRequired.

    ``last_used_at`` is refreshed at most once a minute: a GIS client paging through a
    layer sends one request after another with the same token, and writing the token's
    row on each would serialise them on its row lock.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_TOKEN_OWNER, (sha256(token),))
        row = cur.fetchone()
    if row is None:
        raise AuthenticationRequired("").with_message("token_invalid")
    if row["stale"]:
        # a plain read otherwise: a write in the same statement made every request a
        # writing one (about 30 us more, issue 13) although it writes once a minute
        conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (row["token_id"],))
    return _user(row)


def user_for_basic(conn: psycopg.Connection, username: str, password: str) -> User:
    """The account behind HTTP Basic credentials whose password is one of its API tokens.

    For GIS clients that cannot send a bearer header (QGIS 3.22's OGC API Features and
    vector tile layers, GDAL before 3.6 with ``GDAL_HTTP_USERPWD``). The user name must be
    the token's owner. The account's own password is never accepted: anything that is not
    an API token is refused *without being checked*, so Basic cannot be used to guess
    passwords around the login rate limit, and no request pays for an argon2 hash.
    """
    if not password.startswith(TOKEN_PREFIX):
        logger.info("HTTP Basic without an API token refused for user %r", username)
        raise AuthenticationRequired("").with_message("basic_needs_token")
    user = user_for_token(conn, password)
    if user.username.lower() != username.lower():
        raise AuthenticationRequired("").with_message("basic_user_mismatch")
    return user


def revoke_token(conn: psycopg.Connection, user: User, token_id: int) -> bool:
    """Revoke one of the user's tokens; False when it isn't theirs or is revoked already."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
        (token_id, user.id),
    )
    return cur.rowcount == 1


def list_tokens(conn: psycopg.Connection, user: User) -> list[dict[str, Any]]:
    """The user's tokens without the secrets: id, name, prefix, dates."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, name, prefix, created_at, expires_at, revoked_at, last_used_at "
            "FROM api_tokens WHERE user_id = %s ORDER BY id",
            (user.id,),
        )
        return cur.fetchall()


def ensure_first_admin(conn: psycopg.Connection, *, password: str | None = None) -> tuple[bool, str | None]:
    """Create ``admin`` when no account exists yet: (created, generated password or None).

    Run at set-up (``registry up``): the password comes from the caller (the
    ``REGISTRY_ADMIN_PASSWORD`` variable) or is generated and returned to be shown
    once; it is never stored in clear.
    """
    if count_users(conn) > 0:
        return False, None
    secret = password if password is not None else generate_password()
    create_user(conn, username="admin", password=secret, role=Role.ADMIN, display_name="管理员")
    return True, (secret if password is None else None)
