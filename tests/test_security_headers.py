"""Security headers on every kind of response, pages without inline script, the nonce of
the library-generated pages, and Secure cookies over HTTPS directly or through a
trusted proxy only (issue 9, part 7)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from layers import default_catalog
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Basemap, Settings
from tests.authkit import Account, make_accounts
from web.app import create_app
from web.routes.printmap import render_result_map
from web.security import basemap_sources

PROXY = ("10.20.0.7", 40000)  # the address a reverse proxy connects from


def _accounts(db: Settings) -> dict[Role, Account]:
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        return make_accounts(conn)


@pytest.fixture
def client(db: Settings) -> Iterator[TestClient]:
    """The app with default settings; accounts exist (``client.accounts``)."""
    accounts = _accounts(db)
    app = create_app(db)

    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    app.add_api_route("/test-boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.accounts = accounts  # type: ignore[attr-defined]
        yield c


def _policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: [sources]}."""
    header = response.headers.get("content-security-policy")
    assert header, f"no CSP on {response.request.method} {response.request.url}"
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def _assert_headers(response: Any) -> dict[str, list[str]]:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    policy = _policy(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert "strict-transport-security" not in response.headers  # plain http, HSTS off
    return policy


def test_headers_on_pages_api_static_and_problem_responses(client: TestClient) -> None:
    admin = client.accounts[Role.ADMIN]  # type: ignore[attr-defined]
    # anonymous first: signing in puts a session cookie in the client
    responses = {
        "map page": client.get("/"),
        "upload page": client.get("/upload"),
        "API JSON": client.get("/api/layers"),
        "static file": client.get("/static/app/app.js"),
        "vendored static file": client.get("/static/vendor/leaflet/leaflet.css"),
        "401 problem": client.get("/api/districts"),
        "unexpected 500": client.get("/test-boom"),
        "failed sign-in (problem)": client.post("/auth/login", json={"username": "nobody", "password": "x"}),
        "sign-in": client.post("/auth/login", json={"username": admin.username, "password": admin.password}),
        "API JSON with token": client.get("/api/districts", headers=admin.bearer),
        "404 problem": client.get("/ogc/collections/no_such_layer"),
        "OGC HTML page": client.get("/ogc", params={"f": "html"}),
    }
    expected = {
        "sign-in": 200,
        "failed sign-in (problem)": 401,
        "401 problem": 401,
        "404 problem": 404,
        "unexpected 500": 500,
    }
    for name, response in responses.items():
        assert response.status_code == expected.get(name, 200), (name, response.text[:300])
        policy = _assert_headers(response)
        assert policy["script-src"] == ["'self'"], name
        assert policy["style-src"] == ["'self'"], name
        assert policy["connect-src"] == ["'self'"], name
    for name in ("failed sign-in (problem)", "401 problem", "404 problem", "unexpected 500"):
        assert responses[name].headers["content-type"].startswith("application/problem+json"), name
    # scripts and styles keep a MIME type the browser accepts under nosniff
    assert responses["static file"].headers["content-type"].startswith("text/javascript")
    assert responses["vendored static file"].headers["content-type"].startswith("text/css")


class _Markup(HTMLParser):
    """What the CSP would refuse in a page: inline scripts, style attributes and
    elements, event-handler attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []
        self.data_blocks: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.refused.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.refused.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.refused.append("<style> element")
        if tag == "script":
            if a.get("type") == "application/json":
                self._in = a.get("id") or ""
            elif not a.get("src"):
                self.refused.append("inline <script>")

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.data_blocks[self._in] = self.data_blocks.get(self._in, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None


def _markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    return parser


def test_the_registry_pages_need_no_inline_script_or_style(client: TestClient) -> None:
    admin = client.accounts[Role.ADMIN]  # type: ignore[attr-defined]
    for path in ("/", "/upload", "/ogc?f=html", "/ogc/collections?f=html"):
        res = client.get(path, headers=admin.bearer)
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/html"), path
        assert _markup(res.text).refused == [], path
    for path in sorted((PROJECT_ROOT / "web" / "static" / "app").glob("*.js")):
        name = path.name
        js = client.get(f"/static/app/{name}").text
        # markup built as strings must not carry what the CSP refuses either
        assert not re.search(r"""\son[a-z]+=["'`$]|style=["'`$]|javascript:""", js), name


def test_page_config_is_a_data_block_that_cannot_end_its_element(db: Settings) -> None:
    hostile = "</script><script>alert(1)</script><!-- & 焦作"
    settings = db.model_copy(update={"basemaps": [Basemap(name=hostile, url="/tiles/{z}/{x}/{y}.png")]})
    with TestClient(create_app(settings)) as client:
        page = client.get("/").text
    parsed = _markup(page)
    assert parsed.refused == []
    assert "alert(1)</script>" not in page
    config = json.loads(parsed.data_blocks["registry-config"])
    assert config["basemaps"][0]["name"] == hostile
    assert config["public_read"] is False


def test_frame_ancestors_and_hsts_are_settings(db: Settings) -> None:
    settings = db.model_copy(
        update={"frame_ancestors": "'self' https://portal.jiaozuo.example", "hsts_seconds": 31536000}
    )
    with TestClient(create_app(settings), base_url="https://registry.example") as client:
        res = client.get("/")
    assert _policy(res)["frame-ancestors"] == ["'self'", "https://portal.jiaozuo.example"]
    assert "x-frame-options" not in res.headers  # it cannot name another origin
    assert res.headers["strict-transport-security"] == "max-age=31536000"
    with TestClient(create_app(db.model_copy(update={"frame_ancestors": "'self'"}))) as client:
        assert client.get("/api/layers").headers["x-frame-options"] == "SAMEORIGIN"
    with pytest.raises(ValidationError):
        Settings(_env_file=None, frame_ancestors="'self'; script-src *")  # type: ignore[call-arg]


def test_basemap_tile_hosts_are_allowed_as_images() -> None:
    basemaps = [
        Basemap(
            name="高德", url="https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}", subdomains="12"
        ),
        Basemap(name="osm", url="https://{s}.tile.example.org/{z}/{x}/{y}.png"),
        Basemap(name="own", url="/tiles/{z}/{x}/{y}.png"),
        Basemap(name="odd", url="https://t{z}.tiles.example.net/{x}/{y}.png"),
    ]
    assert basemap_sources(basemaps) == [
        "https://webrd01.is.autonavi.com",
        "https://webrd02.is.autonavi.com",
        "https://a.tile.example.org",
        "https://b.tile.example.org",
        "https://c.tile.example.org",
        "https://*.tiles.example.net",
    ]


def test_print_map_inline_elements_carry_the_response_nonce(client: TestClient) -> None:
    viewer = client.accounts[Role.VIEWER]  # type: ignore[attr-defined]
    params = {"lon": 113.2418, "lat": 35.2155, "radius": 500}
    res = client.get("/api/search/map.html", params=params, headers=viewer.bearer)
    assert res.status_code == 200, res.text
    policy = _assert_headers(res)
    nonces = [s for s in policy["script-src"] if s.startswith("'nonce-")]
    assert len(nonces) == 1 and nonces == [s for s in policy["style-src"] if s.startswith("'nonce-")]
    nonce = nonces[0][len("'nonce-") : -1]
    tags = re.findall(r"<(?:script|style)\b[^>]*>", res.text, flags=re.IGNORECASE)
    assert tags and all(f'nonce="{nonce}"' in t for t in tags)
    assert int(res.headers["content-length"]) == len(res.content)
    again = client.get("/api/search/map.html", params=params, headers=viewer.bearer)
    assert nonce not in again.headers["content-security-policy"]  # one per response
    # other pages never get a nonce
    assert "nonce" not in client.get("/").headers["content-security-policy"]


def test_print_map_tooltips_cannot_break_out_of_folium_script() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.24, 35.21]},
                "properties": {"layer": "road_voids", "code": "KD-`${alert(1)}`\\u", "status": "found"},
            }
        ],
    }
    page = render_result_map(fc, default_catalog(), static_base="")
    scripts = "".join(re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.DOTALL))
    assert "${" not in scripts and "KD-`" not in scripts and "\\u" not in scripts
    assert "KD-&#96;&#36;{alert(1)}&#96;&#92;u" in scripts  # shown as typed, as text
    assert "<td>KD-`${alert(1)}`\\u</td>" in page  # the table is HTML, escaped as HTML


def test_api_docs_load_nothing_from_another_host_and_inline_scripts_carry_the_nonce(
    client: TestClient,
) -> None:
    res = client.get("/docs")
    assert res.status_code == 200
    policy = _assert_headers(res)
    assert not any(src.startswith("http") for sources in policy.values() for src in sources)
    assert not re.findall(r"""(?:src|href)=["']https?://""", res.text)
    for url in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", res.text):
        assert client.get(url).status_code == 200, url
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN-loaded ReDoc is off
    nonce = next(s for s in policy["script-src"] if s.startswith("'nonce-"))[len("'nonce-") : -1]
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", res.text)
    assert inline and all(f'nonce="{nonce}"' in t for t in inline)


def _login(client: TestClient, **kwargs: Any) -> list[str]:
    admin = client.accounts[Role.ADMIN]  # type: ignore[attr-defined]
    res = client.post("/auth/login", json={"username": admin.username, "password": admin.password}, **kwargs)
    assert res.status_code == 200, res.text
    cookies = res.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"registry_session", "registry_csrf"}
    return cookies


def _secure(cookie: str) -> bool:
    return "secure" in [p.strip().lower() for p in cookie.split(";")]


@pytest.fixture
def behind_proxy(db: Settings) -> Iterator[TestClient]:
    """The app as a TLS-terminating proxy at PROXY reaches it, that proxy being trusted."""
    accounts = _accounts(db)
    settings = db.model_copy(update={"forwarded_allow_ips": f"127.0.0.1, {PROXY[0]}/32"})
    with TestClient(create_app(settings), client=PROXY) as c:
        c.accounts = accounts  # type: ignore[attr-defined]
        yield c


def test_cookies_are_secure_behind_a_trusted_proxy_saying_https(behind_proxy: TestClient) -> None:
    cookies = _login(behind_proxy, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert all(_secure(c) for c in cookies), cookies
    assert all("httponly" in c.lower() for c in cookies if c.startswith("registry_session"))
    # the proxy's plain-http request keeps plain cookies (nothing forces https there)
    assert not any(_secure(c) for c in _login(behind_proxy, headers={"X-Forwarded-Proto": "http"}))
    # signing out over https clears the cookies with the same attributes
    csrf = behind_proxy.cookies.get("registry_csrf")
    out = behind_proxy.post(
        "/auth/logout", headers={"X-Forwarded-Proto": "https", "X-CSRF-Token": csrf or ""}
    )
    assert out.status_code == 200, out.text
    assert all(_secure(c) for c in out.headers.get_list("set-cookie"))


def test_forwarded_proto_from_an_untrusted_address_is_ignored(db: Settings) -> None:
    accounts = _accounts(db)
    # default trust is 127.0.0.1 only; this client is elsewhere
    with TestClient(create_app(db), client=PROXY) as client:
        client.accounts = accounts  # type: ignore[attr-defined]
        cookies = _login(client, headers={"X-Forwarded-Proto": "https"})
    assert not any(_secure(c) for c in cookies), cookies
    # nor when no proxy at all is trusted, even from 127.0.0.1
    settings = db.model_copy(update={"forwarded_allow_ips": ""})
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        client.accounts = accounts  # type: ignore[attr-defined]
        assert not any(_secure(c) for c in _login(client, headers={"X-Forwarded-Proto": "https"}))


def test_cookies_are_secure_over_direct_https_or_when_forced(db: Settings) -> None:
    accounts = _accounts(db)
    with TestClient(create_app(db), base_url="https://registry.example") as client:
        client.accounts = accounts  # type: ignore[attr-defined]
        assert all(_secure(c) for c in _login(client))
    with TestClient(create_app(db.model_copy(update={"cookie_secure": True}))) as client:
        client.accounts = accounts  # type: ignore[attr-defined]
        assert all(_secure(c) for c in _login(client))  # REGISTRY_COOKIE_SECURE=true over http
