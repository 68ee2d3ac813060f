"""HTTP Basic with an API token as the password, for GIS clients that cannot send a
bearer header (QGIS 3.22, GDAL before 3.9); the account's own password is refused."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from registry import accounts
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import Account, fingerprint, make_accounts
from tests.ogc_support import seed_layer
from web.app import create_app

ITEMS = "/ogc/collections/manholes/items"
TILE = "/ogc/collections/manholes/tiles/WebMercatorQuad/0/0/0"
CJK = re.compile(r"[\u4e00-\u9fff]")


def basic(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header a client builds from a user name and password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture
def users(conn: psycopg.Connection, catalog: LayerCatalog) -> dict[Role, Account]:
    seed_layer(conn, catalog.get("manholes"), 3)
    conn.commit()
    return make_accounts(conn)


@pytest.fixture
def client(db: Settings, users: dict[Role, Account]) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as c:
        yield c


def _assert_refused(response: httpx.Response, *, basic_offered: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "authentication_required"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="registry"')
    assert ('Basic realm="registry"' in challenge) is basic_offered


def test_basic_with_user_and_api_token_reads_features_and_tiles(
    client: TestClient, users: dict[Role, Account]
) -> None:
    viewer = users[Role.VIEWER]
    headers = basic(viewer.username, viewer.token)
    items = client.get(ITEMS, headers=headers)
    assert items.status_code == 200, items.text
    assert len(items.json()["features"]) == 3
    tile = client.get(TILE, headers=headers)
    assert tile.status_code == 200 and tile.content
    me = client.get("/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == viewer.username
    # user names are case-insensitive, as at login
    assert client.get(ITEMS, headers=basic(viewer.username.upper(), viewer.token)).status_code == 200


def test_basic_needs_no_csrf_token_for_writes(client: TestClient, users: dict[Role, Account]) -> None:
    admin = users[Role.ADMIN]
    created = client.post("/auth/tokens", json={"name": "qgis"}, headers=basic(admin.username, admin.token))
    assert created.status_code == 201, created.text
    assert client.get(ITEMS, headers=basic(admin.username, created.json()["token"])).status_code == 200


def test_basic_with_the_account_password_is_refused_and_says_to_use_a_token(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    viewer = users[Role.VIEWER]
    before = fingerprint(conn)
    attempts = conn.execute("SELECT count(*) FROM login_attempts").fetchone()
    right = client.get(ITEMS, headers=basic(viewer.username, viewer.password))
    _assert_refused(right)
    detail = right.json()["detail"]
    assert "API 令牌" in detail and "account password" not in detail, detail  # Chinese by default
    english = client.get(ITEMS, headers={**basic(viewer.username, viewer.password), "Accept-Language": "en"})
    assert "not the account password" in english.json()["detail"] and not CJK.search(english.json()["detail"])
    # the password is not even checked: a wrong one gets the very same answer, so Basic
    # is no way to guess passwords around the login rate limit
    wrong = client.get(ITEMS, headers=basic(viewer.username, "not-the-password-123"))
    assert wrong.status_code == 401 and wrong.json()["detail"] == detail
    assert client.get("/auth/me", headers=basic(viewer.username, viewer.password)).status_code == 401
    assert conn.execute("SELECT count(*) FROM login_attempts").fetchone() == attempts
    assert fingerprint(conn) == before


def test_basic_with_another_users_token_is_refused(client: TestClient, users: dict[Role, Account]) -> None:
    viewer, admin = users[Role.VIEWER], users[Role.ADMIN]
    response = client.get("/auth/me", headers=basic(viewer.username, admin.token))
    _assert_refused(response, basic_offered=False)
    assert "所有者" in response.json()["detail"]
    english = client.get("/auth/me", headers={**basic(viewer.username, admin.token), "Accept-Language": "en"})
    assert "owner" in english.json()["detail"]
    _assert_refused(client.get(ITEMS, headers=basic("nobody", viewer.token)))


def test_basic_with_a_revoked_or_unknown_token_is_refused(
    client: TestClient, conn: psycopg.Connection, users: dict[Role, Account]
) -> None:
    viewer = users[Role.VIEWER]
    token_id = conn.execute(
        "SELECT id FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE username = 'viewer')"
    ).fetchone()[0]
    assert accounts.revoke_token(conn, accounts.get_user(conn, "viewer"), token_id)
    conn.commit()
    _assert_refused(client.get(ITEMS, headers=basic(viewer.username, viewer.token)))
    _assert_refused(client.get(ITEMS, headers=basic(viewer.username, accounts.TOKEN_PREFIX + "forged")))


@pytest.mark.parametrize(
    "value",
    [
        "Basic !!!not-base64!!!",
        "Basic dmlld2Vy",  # "viewer": no colon
        "Basic " + base64.b64encode(b":jzr_x").decode(),  # empty user name
        "Basic " + base64.b64encode(b"viewer:").decode(),  # empty password
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),  # not UTF-8
        "Basic dmlld2VyOmp6cl94",  # padding missing ("viewer:jzr_x" is 16 chars)
        "Basic",
        "Basic    ",
        "Digest username=viewer",
    ],
)
def test_malformed_basic_is_401_never_500(client: TestClient, value: str) -> None:
    _assert_refused(client.get(ITEMS, headers={"Authorization": value}))


def test_the_401_challenge_offers_basic_to_gis_clients_only(client: TestClient) -> None:
    # OGC API Features and tiles: desktop GIS clients prompt for Basic
    for url in ("/ogc", ITEMS, TILE, "/ogc/tiles/WebMercatorQuad"):
        _assert_refused(client.get(url))
        # browsers (the map page's fetches, a typed URL) never get a Basic login box
        for mode in ("cors", "no-cors", "navigate"):
            _assert_refused(client.get(url, headers={"Sec-Fetch-Mode": mode}), basic_offered=False)
    # the rest of the API keeps the bearer challenge
    _assert_refused(client.get("/auth/me"), basic_offered=False)
    _assert_refused(client.get("/api/search", params={"layers": "manholes"}), basic_offered=False)
