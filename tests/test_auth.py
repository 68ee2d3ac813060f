"""Accounts, sessions, API tokens, rate limiting, the permission table and the CLI."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from layers import default_catalog
from registry import accounts
from registry.catalog import LayerCatalog
from registry.permissions import Action, Role, allowed, can_update, permissions_of
from registry.settings import Settings
from tests.authkit import PASSWORDS, Account, make_accounts, make_asset
from web.app import create_app
from web.auth import CSRF_COOKIE, SESSION_COOKIE


@pytest.fixture
def users(conn: psycopg.Connection) -> dict[Role, Account]:
    return make_accounts(conn)


@pytest.fixture
def client(db: Settings, users: dict[Role, Account]) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as c:
        yield c


# ---------------------------------------------------------------- the permission table


def test_permission_table_matches_the_bureau_roles() -> None:
    layer = default_catalog().get
    survey = [layer(n) for n in ("road_voids", "manholes", "poles_wires", "water_supply", "markets")]
    parking = layer("parking")
    for spec in [*survey, parking]:
        for role in Role:
            assert allowed(role, Action.READ, spec)
        assert allowed(Role.ADMIN, Action.RESTORE, spec)
        assert not allowed(Role.VIEWER, Action.UPDATE, spec)
    for spec in survey:
        assert allowed(Role.SURVEYOR, Action.IMPORT, spec) and allowed(Role.SURVEYOR, Action.UPDATE, spec)
        assert not allowed(Role.PLANNER, Action.UPDATE, spec)
        assert not allowed(Role.SURVEYOR, Action.DELETE, spec)
    assert allowed(Role.PLANNER, Action.DELETE, parking) and not allowed(
        Role.SURVEYOR, Action.CREATE, parking
    )
    assert allowed(Role.OFFICER, Action.LIFECYCLE, layer("road_voids")) and allowed(
        Role.OFFICER, Action.INSPECT, layer("water_supply")
    )
    assert not allowed(Role.OFFICER, Action.UPDATE, layer("road_voids"))
    # an officer may close a hazard but not move or rename it
    road_voids = layer("road_voids")
    assert can_update(Role.OFFICER, road_voids, {"status", "closed_on", "closed_by"})
    assert not can_update(Role.OFFICER, road_voids, {"status", "road_name"})
    assert not can_update(Role.OFFICER, road_voids, {"geom"})
    for action in (Action.MANAGE_USERS, Action.UNDO, Action.AUDIT):
        assert [r for r in Role if allowed(r, action)] == [Role.ADMIN]
    assert not allowed("superuser", Action.READ, parking) and not allowed(Role.ADMIN, "fly")
    # a layer that grants nothing is readable by all, writable by admins only
    kiosks = replace(parking, name="kiosks", grants={})
    assert allowed(Role.VIEWER, Action.READ, kiosks) and not allowed(Role.PLANNER, Action.CREATE, kiosks)
    assert permissions_of(Role.PLANNER, [parking])["parking"] == ["read", "create", "update", "delete"]


def test_a_layer_granting_an_unknown_role_or_action_is_refused_at_registration() -> None:
    parking = default_catalog().get("parking")
    for grants in ({"planer": frozenset({"create"})}, {"planner": frozenset({"undo"})}):
        with pytest.raises(ValueError, match="grants"):
            LayerCatalog().register(replace(parking, name="kiosks", grants=grants))


# ---------------------------------------------------------------- passwords and accounts


def test_passwords_are_stored_as_argon2id_hashes(
    conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    stored = conn.execute("SELECT password_hash FROM users WHERE username = 'viewer'").fetchone()
    assert stored is not None and stored[0].startswith("$argon2id$")
    assert PASSWORDS[Role.VIEWER] not in stored[0]
    tokens = conn.execute("SELECT token_hash, prefix FROM api_tokens").fetchall()
    assert all(users[Role.VIEWER].token != h and len(h) == 64 for h, _ in tokens)


def test_short_passwords_and_unknown_roles_are_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(accounts.WeakPassword):
        accounts.create_user(conn, username="x1", password="short", role="viewer")
    with pytest.raises(Exception, match="unknown role 'boss'"):
        accounts.create_user(conn, username="x1", password="long-enough-pw", role="boss")
    accounts.create_user(conn, username="Zhang.San", password="long-enough-pw", role="viewer")
    with pytest.raises(accounts.UserExists):
        accounts.create_user(conn, username="zhang.san", password="long-enough-pw", role="viewer")


# ---------------------------------------------------------------- sessions


def test_login_attempts_older_than_the_audit_period_are_pruned(
    client: TestClient, users: dict[Role, Account], conn: psycopg.Connection
) -> None:
    old = accounts.LOGIN_ATTEMPTS_KEEP_DAYS + 1
    conn.execute(
        "INSERT INTO login_attempts (username, ip, success, at) VALUES "
        "('old', '10.0.0.1', false, now() - make_interval(days => %s)), ('recent', '10.0.0.1', false, now())",
        (old,),
    )
    conn.commit()
    client.post("/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]})
    names = [r[0] for r in conn.execute("SELECT username FROM login_attempts ORDER BY id").fetchall()]
    assert names == ["recent", "viewer"]


def test_login_sets_httponly_samesite_session_and_readable_csrf_cookie(
    client: TestClient, users: dict[Role, Account]
) -> None:
    response = client.post("/auth/login", json={"username": "officer", "password": PASSWORDS[Role.OFFICER]})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    csrf = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    assert "HttpOnly" not in csrf and "SameSite=lax" in csrf
    body = response.json()
    assert body["csrf_token"] == client.cookies[CSRF_COOKIE]
    assert body["user"]["role"] == "officer"
    assert body["user"]["permissions"]["road_voids"] == ["read", "inspect", "lifecycle"]
    me = client.get("/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "officer"


def test_login_accepts_a_html_form_with_the_csrf_token(
    client: TestClient, users: dict[Role, Account]
) -> None:
    form = {"username": "viewer", "password": PASSWORDS[Role.VIEWER]}
    assert client.post("/auth/login", data=form).status_code == 403  # login CSRF: see test_bad_input
    client.cookies.set(CSRF_COOKIE, "token-of-the-page")
    response = client.post("/auth/login", data={**form, "csrf_token": "token-of-the-page"})
    assert response.status_code == 200 and response.json()["user"]["username"] == "viewer"


def test_wrong_password_and_unknown_user_get_the_same_401(
    client: TestClient, users: dict[Role, Account]
) -> None:
    wrong = client.post("/auth/login", json={"username": "viewer", "password": "not-the-password"})
    unknown = client.post("/auth/login", json={"username": "nobody", "password": "not-the-password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert SESSION_COOKIE not in client.cookies


def test_logout_ends_the_session_on_the_server(client: TestClient, users: dict[Role, Account]) -> None:
    csrf = client.post("/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]}).json()[
        "csrf_token"
    ]
    stolen = client.cookies[SESSION_COOKIE]
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.set(SESSION_COOKIE, stolen)
    assert client.get("/auth/me").status_code == 401


def test_too_many_failed_logins_are_refused_with_429(client: TestClient, users: dict[Role, Account]) -> None:
    for _ in range(5):
        assert (
            client.post("/auth/login", json={"username": "admin", "password": "guess-guess"}).status_code
            == 401
        )
    blocked = client.post("/auth/login", json={"username": "admin", "password": PASSWORDS[Role.ADMIN]})
    assert blocked.status_code == 429 and blocked.json()["code"] == "too_many_attempts"
    assert int(blocked.headers["Retry-After"]) > 0
    # other accounts are not locked out by attacks on this one
    other = client.post("/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]})
    assert other.status_code == 200


def test_disabled_account_loses_login_sessions_and_tokens(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    client.post("/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]})
    accounts.set_disabled(conn, "viewer")
    conn.commit()
    assert client.get("/auth/me").status_code == 401
    client.cookies.clear()
    assert client.get("/auth/me", headers=users[Role.VIEWER].bearer).status_code == 401
    response = client.post("/auth/login", json={"username": "viewer", "password": PASSWORDS[Role.VIEWER]})
    assert response.status_code == 401


def test_role_change_takes_effect_on_the_next_request(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    assert client.get("/api/history", headers=users[Role.VIEWER].bearer).status_code == 403
    accounts.set_role(conn, "viewer", Role.ADMIN)
    conn.commit()
    assert client.get("/api/history", headers=users[Role.VIEWER].bearer).status_code == 200


# ---------------------------------------------------------------- API tokens


def test_api_token_is_shown_once_and_works_without_csrf(
    client: TestClient, users: dict[Role, Account]
) -> None:
    created = client.post("/auth/tokens", json={"name": "QGIS"}, headers=users[Role.SURVEYOR].bearer)
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("jzr_")
    listed = client.get("/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert token not in listed.text and {t["name"] for t in listed.json()} == {"tests", "QGIS"}
    token_id = created.json()["id"]
    assert client.delete(f"/auth/tokens/{token_id}", headers=users[Role.SURVEYOR].bearer).status_code == 200
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_use_is_recorded_at_most_once_a_minute(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    user = accounts.get_user(conn, "admin")
    new = accounts.create_token(conn, user, name="paging")
    conn.commit()
    bearer = {"Authorization": f"Bearer {new.token}"}

    def last_used() -> dt.datetime | None:
        return conn.execute("SELECT last_used_at FROM api_tokens WHERE id = %s", (new.id,)).fetchone()[0]

    assert last_used() is None
    assert client.get("/auth/me", headers=bearer).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/auth/me", headers=bearer).status_code == 200
    assert last_used() == first  # a second request within the minute does not write
    conn.execute("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE id = %s", (new.id,))
    conn.commit()
    assert client.get("/auth/me", headers=bearer).status_code == 200
    assert last_used() > first - dt.timedelta(minutes=1)


def test_expired_token_is_refused(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    user = accounts.get_user(conn, "admin")
    expired = accounts.create_token(conn, user, ttl=dt.timedelta(seconds=-1))
    conn.commit()
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {expired.token}"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


# ---------------------------------------------------------------- read access


def test_reading_requires_login_unless_public_read_is_on(
    db: Settings, conn: psycopg.Connection, catalog: LayerCatalog, users: dict[Role, Account]
) -> None:
    asset = make_asset(conn, catalog, "manholes")
    url = f"/api/assets/manholes/{asset['id']}/history"
    with TestClient(create_app(db)) as closed:
        assert closed.get(url).status_code == 401
        assert closed.get(url, headers=users[Role.VIEWER].bearer).status_code == 200
    open_settings = db.model_copy(update={"public_read": True})
    with TestClient(create_app(open_settings)) as public:
        assert public.get(url).status_code == 200
        assert (
            public.get("/api/layers/manholes/asof", params={"t": "2100-01-01T00:00:00Z"}).status_code == 200
        )
        # a forged token is still refused, never downgraded to anonymous
        assert public.get(url, headers={"Authorization": "Bearer jzr_forged"}).status_code == 401
        assert public.delete(f"/api/assets/manholes/{asset['id']}").status_code == 401
        assert public.get("/api/history").status_code == 401


# ---------------------------------------------------------------- secrets stay secret


def test_passwords_never_appear_in_responses_or_logs(
    client: TestClient, users: dict[Role, Account], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    new_password = "Brand-New-Password-42"
    texts = []
    texts.append(client.post("/auth/login", json={"username": "admin", "password": "Wrong-Password-99"}).text)
    login = client.post("/auth/login", json={"username": "admin", "password": PASSWORDS[Role.ADMIN]})
    texts.append(login.text)
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    texts.append(
        client.post(
            "/auth/users",
            json={"username": "li.si", "password": new_password, "role": "planner"},
            headers=csrf,
        ).text
    )
    texts.append(client.patch("/auth/users/li.si", json={"password": new_password + "x"}, headers=csrf).text)
    texts.append(client.get("/auth/users", headers=csrf).text)
    bad = client.post(
        "/auth/users", json={"username": "x2", "password": new_password, "role": "boss"}, headers=csrf
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"
    texts.append(bad.text)
    texts.append(client.post("/auth/login", json={"password": new_password}).text)
    texts.append(client.get("/auth/me").text)
    texts.append(client.post("/auth/login", json={"username": "li.si", "password": new_password + "x"}).text)
    everything = "\n".join([*texts, caplog.text])
    for secret in (PASSWORDS[Role.ADMIN], "Wrong-Password-99", new_password, "$argon2"):
        assert secret not in everything
    assert "li.si" in caplog.text  # the log does record who did what


# ---------------------------------------------------------------- CLI


def test_cli_manages_users(db: Settings, monkeypatch: pytest.MonkeyPatch, conn: psycopg.Connection) -> None:
    from web.cli import app

    assert db.database_url
    monkeypatch.setenv("DATABASE_URL", db.database_url)
    monkeypatch.setenv("REGISTRY_PASSWORD", "cli-password-123")
    runner = CliRunner()
    result = runner.invoke(app, ["user", "add", "wang.wu", "--role", "surveyor", "--name", "王五"])
    assert result.exit_code == 0, result.output
    assert "cli-password-123" not in result.output
    assert (
        accounts.authenticate(conn, username="wang.wu", password="cli-password-123", ip="cli").role
        is Role.SURVEYOR
    )
    conn.commit()
    assert runner.invoke(app, ["user", "set-role", "wang.wu", "officer"]).exit_code == 0
    assert runner.invoke(app, ["user", "disable", "wang.wu"]).exit_code == 0
    listing = runner.invoke(app, ["user", "list"])
    assert "wang.wu" in listing.output and "officer" in listing.output and "已停用" in listing.output
    bad = runner.invoke(app, ["user", "set-role", "wang.wu", "boss"])
    assert bad.exit_code != 0
    monkeypatch.delenv("REGISTRY_PASSWORD")
    generated = runner.invoke(app, ["user", "add", "zhao.liu", "--role", "viewer"])
    assert generated.exit_code == 0
    password = re.split("[:：]", generated.output)[-1].strip()  # (密码…：<password>)
    assert (
        accounts.authenticate(conn, username="zhao.liu", password=password, ip="cli").username == "zhao.liu"
    )


def test_first_admin_is_created_once(conn: psycopg.Connection) -> None:
    created, password = accounts.ensure_first_admin(conn)
    conn.commit()
    assert created and password
    assert accounts.authenticate(conn, username="admin", password=password, ip="x").role is Role.ADMIN
    assert accounts.ensure_first_admin(conn) == (False, None)
    assert accounts.count_users(conn) == 1


def test_one_address_spraying_many_usernames_is_rate_limited(
    conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    for i in range(accounts.IP_FACTOR):
        with pytest.raises(accounts.AuthenticationRequired):
            accounts.authenticate(
                conn, username=f"guess{i}", password="x" * 12, ip="10.0.0.9", max_failures=1
            )
    with pytest.raises(accounts.TooManyAttempts):
        accounts.authenticate(
            conn, username="viewer", password=PASSWORDS[Role.VIEWER], ip="10.0.0.9", max_failures=1
        )
    # another address is not affected
    assert (
        accounts.authenticate(
            conn, username="viewer", password=PASSWORDS[Role.VIEWER], ip="10.0.0.10", max_failures=1
        ).username
        == "viewer"
    )
