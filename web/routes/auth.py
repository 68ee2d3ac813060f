"""``/auth``: sign in and out, who am I, API tokens, and (admins) user management."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError

from registry import accounts
from registry.accounts import CsrfFailed, User
from registry.errors import InvalidFeature, UnsupportedMediaType
from registry.permissions import ROLE_LABELS, Action, PermissionDenied, Role, permissions_of
from web.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    Principal,
    client_ip,
    current_principal,
    require,
)
from web.deps import CatalogDep, ConnDep
from web.errors import pydantic_message

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginBody(BaseModel):
    """Credentials; the password is never echoed, logged or stored in clear."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _check_form_csrf(request: Request, token: str) -> None:
    """A form post must carry the ``registry_csrf`` cookie's value (double submit)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not token or not cookie or not hmac.compare_digest(token.encode(), cookie.encode()):
        raise CsrfFailed("").with_message("csrf_form", cookie=CSRF_COOKIE)


def _secret_body(model: type[BaseModel]) -> Any:
    """A body dependency for models that carry a password.

    FastAPI's own 422 response echoes the submitted input, which would put the
    password in the response; this one names the fields and never the values.
    Accepted: JSON (``application/json``, which a cross-site HTML form cannot send), or
    an HTML form post (urlencoded) that carries ``csrf_token`` equal to the
    ``registry_csrf`` cookie, which another site can neither read nor set. Anything
    else is a 415: a cross-site ``text/plain`` form could otherwise smuggle a JSON body
    and sign the victim's browser into the attacker's account (login CSRF).
    """

    async def parse(request: Request) -> BaseModel:
        raw = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/x-www-form-urlencoded"):
            raise UnsupportedMediaType("").with_message("json_or_form")
        try:
            if content_type == "application/x-www-form-urlencoded":
                data: Any = {
                    k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()
                }
                _check_form_csrf(request, data.pop("csrf_token", ""))
            else:
                data = json.loads(raw or b"{}")
            return model.model_validate(data)
        except (ValidationError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            fields = exc.errors(include_input=False) if isinstance(exc, ValidationError) else []
            named = ", ".join(str(e["loc"][-1]) for e in fields)
            raise InvalidFeature(
                "",
                errors=[
                    {
                        "field": ".".join(map(str, e["loc"])),
                        "code": pydantic_message(e)[0],
                        "params": pydantic_message(e)[1],
                        "value": None,
                    }
                    for e in fields
                ],
            ).with_message("body_invalid_fields" if named else "body_not_json", fields=named) from None

    return parse


def _cookie_secure(request: Request) -> bool:
    """Secure cookies over HTTPS: REGISTRY_COOKIE_SECURE, or an https request (directly
    or through a proxy in REGISTRY_FORWARDED_ALLOW_IPS, see web/security.py)."""
    return bool(request.app.state.settings.cookie_secure) or request.url.scheme == "https"


def _set_session_cookies(
    response: Response, request: Request, session: accounts.NewSession, max_age: int
) -> None:
    secure = _cookie_secure(request)
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    # readable by the page's JS, which echoes it in X-CSRF-Token
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )


def _me(user: User, catalog: Any) -> dict[str, Any]:
    zh, en = ROLE_LABELS[user.role]
    return {
        **user.public(),
        "role_label": {"zh": zh, "en": en},
        "permissions": permissions_of(user.role, catalog),
    }


@router.post("/login", summary="Sign in; sets the session and CSRF cookies")
def login(
    request: Request,
    response: Response,
    conn: ConnDep,
    catalog: CatalogDep,
    body: Annotated[LoginBody, Depends(_secret_body(LoginBody))],
) -> dict[str, Any]:
    """Check the password (rate-limited per username and address) and open a session."""
    settings = request.app.state.settings
    user = accounts.authenticate(
        conn,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )
    ttl = dt.timedelta(hours=settings.session_ttl_hours)
    session = accounts.create_session(
        conn, user, ttl=ttl, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    _set_session_cookies(response, request, session, int(ttl.total_seconds()))
    return {"user": _me(user, catalog), "csrf_token": session.csrf_token, "expires_at": session.expires_at}


@router.post("/logout", summary="Sign out: the session stops working at once")
def logout(
    request: Request,
    response: Response,
    conn: ConnDep,
    principal: Annotated[Principal, Depends(current_principal)],
) -> dict[str, str]:
    """End the cookie session (a token-authenticated call has nothing to end)."""
    if principal.session_id:
        accounts.end_session(conn, principal.session_id)
    secure = _cookie_secure(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")
    return {"status": "signed_out"}


@router.get("/me", summary="The signed-in account, its role and what it may do")
def me(user: CurrentUser, catalog: CatalogDep) -> dict[str, Any]:
    """For the map page: which buttons to show."""
    return _me(user, catalog)


class TokenBody(BaseModel):
    """A new API token's label and lifetime."""

    name: str = Field(default="", max_length=100)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(request: Request, conn: ConnDep, user: CurrentUser, body: TokenBody) -> dict[str, Any]:
    """Issue a token for scripts and GIS clients; only its hash is kept."""
    days = body.expires_in_days or request.app.state.settings.token_ttl_days
    token = accounts.create_token(conn, user, name=body.name, ttl=dt.timedelta(days=days))
    return {"id": token.id, "name": token.name, "token": token.token, "expires_at": token.expires_at}


@router.get("/tokens", summary="Your API tokens (without the secrets)")
def list_tokens(conn: ConnDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Id, label, prefix and dates of each of the caller's tokens."""
    return accounts.list_tokens(conn, user)


@router.delete("/tokens/{token_id}", summary="Revoke one of your API tokens")
def revoke_token(conn: ConnDep, user: CurrentUser, token_id: int) -> dict[str, Any]:
    """The token stops working at once."""
    if not accounts.revoke_token(conn, user, token_id):
        raise accounts.UserNotFound("").with_message("token_not_yours", id=token_id)
    return {"id": token_id, "revoked": True}


# ---------------------------------------------------------------- users (admin)

ManageUsers = Annotated[User, Depends(require(Action.MANAGE_USERS))]


class NewUserBody(BaseModel):
    """An account to create; the password is hashed before it is stored."""

    username: str
    password: str
    role: Role
    display_name: str | None = None


class UserPatch(BaseModel):
    """Changes to an account: role, disabled flag, new password."""

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = None


@router.get("/users", summary="Every account (admin)")
def list_users(conn: ConnDep, _: ManageUsers) -> list[dict[str, Any]]:
    """Accounts with role and state; never a password hash."""
    return [u.public() for u in accounts.list_users(conn)]


@router.post("/users", status_code=201, summary="Create an account (admin)")
def add_user(
    conn: ConnDep, _: ManageUsers, body: Annotated[NewUserBody, Depends(_secret_body(NewUserBody))]
) -> dict[str, Any]:
    """Create an account with a role."""
    user = accounts.create_user(
        conn, username=body.username, password=body.password, role=body.role, display_name=body.display_name
    )
    return user.public()


@router.patch("/users/{username}", summary="Change role, disable or reset the password (admin)")
def change_user(
    conn: ConnDep,
    admin: ManageUsers,
    username: str,
    body: Annotated[UserPatch, Depends(_secret_body(UserPatch))],
) -> dict[str, Any]:
    """Role and disabled flag take effect on the account's next request."""
    if body.disabled and username.lower() == admin.username.lower():
        raise PermissionDenied("").with_message("cannot_disable_self")
    user = accounts.get_user(conn, username)
    if body.role is not None:
        user = accounts.set_role(conn, username, body.role)
    if body.disabled is not None:
        user = accounts.set_disabled(conn, username, body.disabled)
    if body.password is not None:
        user = accounts.set_password(conn, username, body.password)
    return user.public()
