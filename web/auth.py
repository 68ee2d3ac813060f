"""Authentication and authorisation for routes: who is calling, and may they?

Two ways in: a browser session cookie (HttpOnly, SameSite=Lax) whose every
state-changing request must carry the session's CSRF token in ``X-CSRF-Token``
(double submit: the header must equal the readable ``registry_csrf`` cookie and
match the hash stored with the session), or an API token for scripts and GIS
clients: ``Authorization: Bearer <token>``, or ``Authorization: Basic
base64(user:token)`` for clients that can only send Basic (QGIS 3.22, older GDAL).
Neither needs a CSRF token, since browsers never attach them on their own: a browser
only resends Basic credentials typed into its own login prompt, and browsers are never
challenged for Basic (see :func:`_offers_basic`). Routes declare what they need with
:func:`require`; what a role may do is decided in :mod:`registry.permissions` alone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Annotated, TypeVar

import psycopg
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from registry import permissions
from registry.accounts import (
    AuthenticationRequired,
    CsrfFailed,
    User,
    sha256,
    user_for_basic,
    user_for_session,
    user_for_token,
)
from registry.permissions import Action
from registry.settings import Settings
from web.deps import ConnDep, replica_connection
from web.ogc.common import OGC_PREFIX

logger = logging.getLogger(__name__)

SESSION_COOKIE = "registry_session"
CSRF_COOKIE = "registry_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_IN_FIRST = "sign in first (POST /auth/login) or send an API token"
T = TypeVar("T")


@dataclass(frozen=True)
class Principal:
    """The caller: the account and how it proved who it is (``session`` or ``token``)."""

    user: User
    method: str
    session_id: str | None = None


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def client_ip(request: Request) -> str:
    """The peer address (a reverse proxy deployment sets uvicorn's --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def _check_csrf(request: Request, csrf_hash: str) -> None:
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not header or not cookie:
        raise CsrfFailed("").with_message("csrf_missing", cookie=CSRF_COOKIE, header=CSRF_HEADER)
    if not hmac.compare_digest(header, cookie) or not hmac.compare_digest(sha256(header), csrf_hash):
        raise CsrfFailed("").with_message("csrf_mismatch")


def _offers_basic(request: Request) -> bool:
    """Whether a 401 here also challenges for HTTP Basic (an API token as the password).

    Only on the OGC API Features and vector tile routes, which desktop GIS clients read,
    and never to a browser (it sends ``Sec-Fetch-Mode``, GIS clients do not): a browser
    would pop its own login box over the map page, whose sign-in form handles an expired
    session, and would then attach the typed credentials to every request to the site,
    cross-site form posts included, which is what would make Basic need a CSRF token.
    """
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return path.startswith(OGC_PREFIX) and "Sec-Fetch-Mode" not in request.headers


def _unauthenticated(request: Request, message: str = SIGN_IN_FIRST) -> AuthenticationRequired:
    """The 401 for this request, with the challenge its route calls for."""
    error = AuthenticationRequired(message)
    error.offer_basic = _offers_basic(request)
    return error


def _basic_credentials(encoded: str) -> tuple[str, str]:
    """User name and password of a Basic ``Authorization`` value (RFC 7617)."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, colon, password = decoded.partition(":")
    if not colon or not username or not password:
        raise AuthenticationRequired("").with_message("basic_malformed")
    return username, password


def _user_for_authorization(conn: psycopg.Connection, authorization: str) -> User:
    """The account an ``Authorization`` header's API token belongs to (Bearer or Basic)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return user_for_token(conn, credentials)
    if scheme.lower() == "basic" and credentials:
        return user_for_basic(conn, *_basic_credentials(credentials))
    raise AuthenticationRequired("").with_message("authorization_form")


def get_principal(request: Request, conn: ConnDep) -> Principal | None:
    """The authenticated caller, None when anonymous; bad credentials are a 401.

    Credentials that are present but invalid are never treated as anonymous, so a
    forged token cannot fall back to public read access silently. FastAPI runs
    this once per request however many dependencies ask for it.
    """
    principal: Principal | None = None
    authorization = request.headers.get("Authorization")
    try:
        if authorization is not None:
            principal = Principal(_user_for_authorization(conn, authorization), "token")
        elif SESSION_COOKIE in request.cookies:
            session_id = request.cookies[SESSION_COOKIE]
            user, csrf_hash = user_for_session(conn, session_id)
            if request.method not in SAFE_METHODS:
                _check_csrf(request, csrf_hash)
            principal = Principal(user, "session", session_id)
    except AuthenticationRequired as error:
        error.offer_basic = _offers_basic(request)
        raise
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def current_principal(request: Request, principal: PrincipalDep) -> Principal:
    """The caller, or 401 when not signed in."""
    if principal is None:
        raise _unauthenticated(request)
    return principal


def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> User:
    """The signed-in account, or 401."""
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]


def require(action: Action | str, layer: str | None = None) -> Callable[..., User | None]:
    """A dependency allowing the request only if the caller's role may do ``action``.

    The layer is ``layer`` or else the route's ``{layer}`` path parameter. Reading
    is open to anonymous callers when ``REGISTRY_PUBLIC_READ`` is true (the
    dependency then returns None); everything else needs an account (401) whose
    role allows it (403).
    """
    act = Action(action)

    # async: it does no I/O, so it runs on the event loop instead of costing a
    # thread-pool hop on every request (a warm tile is otherwise mostly such overhead)
    async def dependency(request: Request, principal: PrincipalDep) -> User | None:
        return allow(request, act, principal, layer)

    dependency.__name__ = f"require_{act.value}"
    return dependency


def allow(
    request: Request, act: Action, principal: Principal | None, layer: str | None = None
) -> User | None:
    """What :func:`require` decides: the caller's account when its role may do ``act``
    (None for an anonymous read on a public deployment), else 401 or 403."""
    target = layer or request.path_params.get("layer") or request.path_params.get("collection_id")
    if principal is None:
        if act is Action.READ and _settings(request).public_read:
            return None
        raise _unauthenticated(request)
    spec = request.app.state.catalog.get(target) if target else None
    permissions.check(principal.user.role, act, spec)
    return principal.user


async def refuse_anonymous(request: Request) -> None:
    """401 at once for a caller with no credentials at all on a deployment that does not
    open reading: for the routes that authenticate inside :func:`authorized_read`, so
    an anonymous caller is refused before its parameters are validated, as routes with
    :func:`require` refuse it (no database is needed to know there is no one to check)."""
    if (
        request.headers.get("Authorization") is None
        and SESSION_COOKIE not in request.cookies
        and not _settings(request).public_read
    ):
        raise _unauthenticated(request)


@contextmanager
def _autocommit(conn: psycopg.Connection) -> Iterator[None]:
    """Each statement its own transaction while reading: no BEGIN and COMMIT round trips
    around a request's two or three queries. The pool's connections are transactional
    again before they go back (a write route relies on that)."""
    conn.autocommit = True
    try:
        yield
    finally:
        # on a broken connection this fails too; the pool then discards the connection
        with suppress(psycopg.Error):
            conn.autocommit = False


async def authorized_read(
    request: Request, work: Callable[[psycopg.Connection], T], *, replica: bool = False
) -> T:
    """``work`` run on a connection after the caller was authenticated and allowed to read,
    all in one thread-pool hop.

    The same steps as a sync route with ``require(Action.READ)`` and ``ConnDep`` (or
    ``ReadConnDep`` when ``replica``): one pooled primary connection whose transaction
    commits before the response (in autocommit: reads, and a tile cache write, are each
    one statement), :func:`get_principal` on it, :func:`allow`. FastAPI
    runs each sync dependency and the route in a thread of its own (four or five hops
    per request, each a wake-up of the event loop and a thread); the hot read paths
    (items, tiles) spent more time in those hand-overs than in their queries. Such
    routes also declare :func:`refuse_anonymous`.
    """

    def run() -> T:
        settings = _settings(request)
        with request.app.state.pool.connection(timeout=settings.pool_timeout) as conn, _autocommit(conn):
            allow(request, Action.READ, get_principal(request, conn))
            if not replica:
                return work(conn)
            with replica_connection(request) as read_conn:
                if read_conn is None:
                    return work(conn)
                with _autocommit(read_conn):
                    return work(read_conn)

    return await run_in_threadpool(run)
