"""Helpers shared by the auth, security and history-API tests: accounts per role,
assets to act on, and a fingerprint of everything a refused request must not change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg

from registry import accounts, store
from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.factories import make_properties, sample_geometry_for

PASSWORDS = {role: f"pw-{role.value}-Secret-123" for role in Role}


@dataclass(frozen=True)
class Account:
    """A test account: name, password and a live API token."""

    username: str
    password: str
    token: str
    role: Role

    @property
    def bearer(self) -> dict[str, str]:
        """Headers authenticating with the account's API token."""
        return {"Authorization": f"Bearer {self.token}"}


@cache
def _password_hash(role: Role) -> str:
    # argon2 is deliberately slow (~0.3 s here): hash each test password once per
    # session with the registry's own hasher and reuse it in every test database
    return accounts._hasher.hash(PASSWORDS[role])


def make_accounts(conn: psycopg.Connection) -> dict[Role, Account]:
    """One account per role (named after it), each with an API token; committed."""
    result = {}
    for role in Role:
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)",
            (role.value, _password_hash(role), role.value),
        )
        user = accounts.get_user(conn, role.value)
        token = accounts.create_token(conn, user, name="tests", ttl=dt.timedelta(days=1))
        result[role] = Account(role.value, PASSWORDS[role], token.token, role)
    conn.commit()
    return result


def reader_headers(db: Settings, role: Role = Role.VIEWER) -> dict[str, str]:
    """Accounts in the test database; the API-token header of ``role``."""
    assert db.database_url
    with psycopg.connect(db.database_url) as conn:
        return make_accounts(conn)[role].bearer


def make_asset(
    conn: psycopg.Connection,
    catalog: LayerCatalog,
    layer: str,
    n: int = 1,
    *,
    via: str = "api",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid asset of ``layer`` written through the store; committed."""
    spec = catalog.get(layer)
    props = make_properties(spec, n, **overrides)
    record = store.create_asset(
        conn, spec, props=props, geom=sample_geometry_for(spec, props), actor="fixture", via=via
    )
    conn.commit()
    return record


def fingerprint(conn: psycopg.Connection) -> tuple[Any, ...]:
    """Everything a refused write must leave alone: assets, history, accounts, tokens."""
    conn.rollback()
    row = conn.execute(
        """
        SELECT
          (SELECT md5(COALESCE(string_agg(to_jsonb(a)::text, '|' ORDER BY id), '')) FROM assets a),
          (SELECT count(*) FROM asset_history),
          (SELECT md5(COALESCE(string_agg(concat_ws(',', id, role, disabled, password_hash), '|'
                                          ORDER BY id), '')) FROM users),
          (SELECT md5(COALESCE(string_agg(concat_ws(',', id, revoked_at), '|' ORDER BY id), ''))
             FROM api_tokens)
        """
    ).fetchone()
    conn.rollback()
    assert row is not None
    return tuple(row)


def login(client: Any, account: Account) -> str:
    """Sign in with the cookie session; returns the CSRF token."""
    response = client.post("/auth/login", json={"username": account.username, "password": account.password})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]
