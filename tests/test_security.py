"""Every write endpoint against every kind of unauthorised caller: no login, forged,
expired or revoked tokens, a forged session, missing or wrong CSRF tokens, and
every role that may not do it — all refused with 401/403 and nothing changed."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry import accounts, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import Account, fingerprint, login, make_accounts, make_asset
from web.app import create_app
from web.auth import CSRF_COOKIE, SESSION_COOKIE

ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Case:
    """One write endpoint: how to call it and which roles may."""

    name: str
    method: str
    path: Callable[[dict[str, Any]], str]
    body: dict[str, Any] | None
    allowed: frozenset[Role]


CASES = [
    Case(
        "update road void attributes",
        "PATCH",
        lambda c: f"/api/assets/road_voids/{c['void']}",
        {"properties": {"road_name": "解放路"}},
        frozenset({Role.ADMIN, Role.SURVEYOR}),
    ),
    Case(
        "move a road void",
        "PATCH",
        lambda c: f"/api/assets/road_voids/{c['void']}",
        {"geometry": {"type": "Point", "coordinates": [113.2420, 35.2156]}},
        frozenset({Role.ADMIN, Role.SURVEYOR}),
    ),
    Case(
        "road void lifecycle field",
        "PATCH",
        lambda c: f"/api/assets/road_voids/{c['void']}",
        {"properties": {"remediation_deadline": "2025-12-31"}},
        frozenset({Role.ADMIN, Role.SURVEYOR, Role.OFFICER}),
    ),
    Case(
        "update parking (planner's layer)",
        "PATCH",
        lambda c: f"/api/assets/parking/{c['parking']}",
        {"properties": {"notes": "新增泊位"}},
        frozenset({Role.ADMIN, Role.PLANNER}),
    ),
    Case(
        "split a parking zone",
        "POST",
        lambda c: f"/api/assets/parking/{c['parking']}/split",
        {"line": {"type": "LineString", "coordinates": [[113.24185, 35.21549], [113.24185, 35.21556]]}},
        frozenset({Role.ADMIN, Role.PLANNER}),
    ),
    Case(
        "delete road void",
        "DELETE",
        lambda c: f"/api/assets/road_voids/{c['void']}",
        None,
        frozenset({Role.ADMIN}),
    ),
    Case(
        "delete parking",
        "DELETE",
        lambda c: f"/api/assets/parking/{c['parking']}",
        None,
        frozenset({Role.ADMIN, Role.PLANNER}),
    ),
    Case(
        "restore",
        "POST",
        lambda c: f"/api/assets/manholes/{c['deleted']}/restore",
        None,
        frozenset({Role.ADMIN}),
    ),
    Case("undo an import", "POST", lambda c: "/api/undo/import:99", None, frozenset({Role.ADMIN})),
    Case(
        "create user",
        "POST",
        lambda c: "/auth/users",
        {"username": "intruder", "password": "intruder-password-1", "role": "admin"},
        frozenset({Role.ADMIN}),
    ),
    Case(
        "change a role",
        "PATCH",
        lambda c: "/auth/users/target",
        {"role": "admin"},
        frozenset({Role.ADMIN}),
    ),
    Case("create API token", "POST", lambda c: "/auth/tokens", {"name": "x"}, ALL_ROLES),
]


@pytest.fixture
def world(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[str, Any]:
    """Accounts of every role plus the assets and batches the endpoints act on."""
    users = make_accounts(conn)
    target = accounts.create_user(conn, username="target", password="target-password-1", role="viewer")
    assert target
    void = make_asset(conn, catalog, "road_voids")
    parking = make_asset(conn, catalog, "parking")
    deleted = make_asset(conn, catalog, "manholes")
    store.delete_asset(conn, catalog.get("manholes"), deleted["id"], expected_version=None, actor="admin")
    make_asset(conn, catalog, "markets", via="import:99")
    admin = accounts.get_user(conn, "admin")
    expired = accounts.create_token(conn, admin, ttl=dt.timedelta(seconds=-1))
    revoked = accounts.create_token(conn, admin, ttl=dt.timedelta(days=1))
    accounts.revoke_token(conn, admin, revoked.id)
    conn.commit()
    return {
        "users": users,
        "void": void["id"],
        "parking": parking["id"],
        "deleted": deleted["id"],
        "expired": expired.token,
        "revoked": revoked.token,
    }


def _send(
    client: TestClient, case: Case, world: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    return client.request(case.method, case.path(world), json=case.body, headers=headers or {})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_write_endpoint_refuses_every_unauthorised_caller(
    case: Case, db: Settings, conn: psycopg.Connection, world: dict[str, Any]
) -> None:
    users: dict[Role, Account] = world["users"]
    before = fingerprint(conn)
    with TestClient(create_app(db)) as client:
        # no credentials at all
        assert _send(client, case, world).status_code == 401
        # credentials that prove nothing
        for bad in (
            {"Authorization": f"Bearer jzr_{secrets.token_urlsafe(32)}"},  # forged
            {"Authorization": f"Bearer {world['expired']}"},
            {"Authorization": f"Bearer {world['revoked']}"},
            {"Authorization": f"Basic {users[Role.ADMIN].token}"},  # wrong scheme
            {"Authorization": "Bearer "},
        ):
            response = _send(client, case, world, bad)
            assert response.status_code == 401, (bad, response.text)
            assert response.json()["code"] == "authentication_required"
        client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(32))  # forged session
        client.cookies.set(CSRF_COOKIE, "x")
        assert _send(client, case, world, {"X-CSRF-Token": "x"}).status_code == 401
        client.cookies.clear()
        # every role that may not do it
        for role in Role:
            if role not in case.allowed:
                response = _send(client, case, world, users[role].bearer)
                assert response.status_code == 403, (role, response.text)
                assert response.json()["code"] == "permission_denied"
        # a signed-in browser of an allowed role without a valid CSRF token
        role = sorted(case.allowed)[0]
        first_csrf = login(client, users[role])
        csrf = login(client, users[role])  # a second session: the first one's token is not valid for it
        assert _send(client, case, world).status_code == 403
        assert _send(client, case, world, {"X-CSRF-Token": "wrong"}).status_code == 403
        client.cookies.set(CSRF_COOKIE, first_csrf)
        response = _send(client, case, world, {"X-CSRF-Token": first_csrf})
        assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
        assert fingerprint(conn) == before, "a refused request changed the database"

        # and the allowed do get through (first by cookie + CSRF, the others by token)
        client.cookies.set(CSRF_COOKIE, csrf)
        response = _send(client, case, world, {"X-CSRF-Token": csrf})
        assert response.status_code in (200, 201), response.text
        assert fingerprint(conn) != before
        client.cookies.clear()
        for other in sorted(case.allowed - {role}):
            assert _send(client, case, world, users[other].bearer).status_code not in (401, 403)


def test_logout_and_token_revocation_need_csrf_with_a_cookie(db: Settings, world: dict[str, Any]) -> None:
    users: dict[Role, Account] = world["users"]
    with TestClient(create_app(db)) as client:
        csrf = login(client, users[Role.VIEWER])
        assert client.post("/auth/logout").status_code == 403
        assert client.delete("/auth/tokens/1").status_code == 403
        assert client.get("/auth/me").status_code == 200  # still signed in: nothing happened
        assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_a_token_cannot_revoke_someone_elses_token(
    db: Settings, conn: psycopg.Connection, world: dict[str, Any]
) -> None:
    users: dict[Role, Account] = world["users"]
    admin_token_id = conn.execute(
        "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE u.username = 'admin' AND t.revoked_at IS NULL AND t.expires_at > now()"
    ).fetchone()
    assert admin_token_id is not None
    conn.rollback()
    with TestClient(create_app(db)) as client:
        response = client.delete(f"/auth/tokens/{admin_token_id[0]}", headers=users[Role.VIEWER].bearer)
        assert response.status_code == 404
        assert client.get("/auth/me", headers=users[Role.ADMIN].bearer).status_code == 200


def test_audit_trail_is_for_admins_but_everyone_sees_their_own(db: Settings, world: dict[str, Any]) -> None:
    users: dict[Role, Account] = world["users"]
    with TestClient(create_app(db)) as client:
        assert client.get("/api/history", headers=users[Role.OFFICER].bearer).status_code == 403
        assert client.get("/api/history?actor=admin", headers=users[Role.OFFICER].bearer).status_code == 403
        assert client.get("/api/history?actor=officer", headers=users[Role.OFFICER].bearer).status_code == 200
        everything = client.get("/api/history?via=import:99", headers=users[Role.ADMIN].bearer)
        assert everything.status_code == 200 and everything.json()["numberReturned"] == 1
