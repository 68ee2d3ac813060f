"""Authentication and authorisation for routes: who is calling, and may they?

Two ways in: a browser session cookie (HttpOnly, SameSite=Lax) whose every
state-changing request must carry the session's CSRF token in ``X-CSRF-Token``
(double submit: the header must equal the readable ``registry_csrf`` cookie and
match the hash stored with the session), or ``Authorization: Bearer <token>`` for
scripts and GIS clients, which needs no CSRF token since browsers never attach it
on their own. Routes declare what they need with :func:`require`; what a role may
do is decided in :mod:`registry.permissions` alone.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from registry import permissions
from registry.accounts import (
    AuthenticationRequired,
    CsrfFailed,
    User,
    sha256,
    user_for_session,
    user_for_token,
)
from registry.permissions import Action
from registry.settings import Settings
from web.deps import ConnDep

logger = logging.getLogger(__name__)

SESSION_COOKIE = "registry_session"
CSRF_COOKIE = "registry_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        raise CsrfFailed(f"missing CSRF token: send the {CSRF_COOKIE} cookie's value in {CSRF_HEADER}")
    if not hmac.compare_digest(header, cookie) or not hmac.compare_digest(sha256(header), csrf_hash):
        raise CsrfFailed("CSRF token does not match this session")


def get_principal(request: Request, conn: ConnDep) -> Principal | None:
    """The authenticated caller, None when anonymous; bad credentials are a 401.

    Credentials that are present but invalid are never treated as anonymous, so a
    forged token cannot fall back to public read access silently. FastAPI runs
    this once per request however many dependencies ask for it.
    """
    principal: Principal | None = None
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequired("Authorization must be 'Bearer <API token>'")
        principal = Principal(user_for_token(conn, token.strip()), "token")
    elif SESSION_COOKIE in request.cookies:
        session_id = request.cookies[SESSION_COOKIE]
        user, csrf_hash = user_for_session(conn, session_id)
        if request.method not in SAFE_METHODS:
            _check_csrf(request, csrf_hash)
        principal = Principal(user, "session", session_id)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def current_principal(principal: PrincipalDep) -> Principal:
    """The caller, or 401 when not signed in."""
    if principal is None:
        raise AuthenticationRequired("sign in first (POST /auth/login) or send an API token")
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

    def dependency(request: Request, principal: PrincipalDep) -> User | None:
        target = layer or request.path_params.get("layer") or request.path_params.get("collection_id")
        if principal is None:
            if act is Action.READ and _settings(request).public_read:
                return None
            raise AuthenticationRequired("sign in first (POST /auth/login) or send an API token")
        permissions.check(principal.user.role, act, target)
        return principal.user

    dependency.__name__ = f"require_{act.value}"
    return dependency
