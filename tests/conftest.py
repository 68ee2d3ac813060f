"""Test fixtures: a real PostgreSQL + PostGIS cluster started by the tests themselves.

One cluster per test session (on a free port, in a temporary folder); one migrated
template database with the districts; each test that writes gets its own copy of
the template (CREATE DATABASE ... TEMPLATE), so tests never share state.
No database mocks, and no skipping when PostGIS is missing: that is a failure.
"""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from layers import default_catalog
from registry.catalog import LayerCatalog
from registry.cluster import Cluster
from registry.districts import load_districts
from registry.migrate import migrate
from registry.settings import PROJECT_ROOT, Settings

TEMPLATE = "registry_template"
_counter = itertools.count()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def cluster_settings() -> Settings:
    """Settings for the session's embedded cluster (never the developer's own)."""
    data_dir = Path(tempfile.mkdtemp(prefix="registry-test-"))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=None,
        data_dir=data_dir,
        pg_port=free_port(),
    )


@pytest.fixture(scope="session")
def cluster(cluster_settings: Settings) -> Iterator[Cluster]:
    """The running cluster; stopped at the end of the session."""
    os.environ.pop("DATABASE_URL", None)
    c = Cluster(cluster_settings)
    c.up()
    yield c
    c.down()


def _dsn(c: Cluster, dbname: str) -> str:
    return f"postgresql://{c.settings.pg_user}@127.0.0.1:{c.port}/{dbname}"


@pytest.fixture(scope="session")
def template_db(cluster: Cluster) -> str:
    """A migrated database with the district boundaries, cloned by ``db``."""
    with psycopg.connect(_dsn(cluster, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    with psycopg.connect(_dsn(cluster, TEMPLATE)) as conn:
        migrate(conn, PROJECT_ROOT / "sql")
    with psycopg.connect(_dsn(cluster, TEMPLATE)) as conn:
        load_districts(conn)
    return TEMPLATE


@contextmanager
def template_copy(cluster: Cluster, template_db: str, prefix: str = "test") -> Iterator[str]:
    """The URL of a fresh copy of the migrated template (one per call: a pid and a serial
    in its name), dropped afterwards even if the test set-up failed half-way."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(_dsn(cluster, "postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    try:
        yield _dsn(cluster, name)
    finally:
        with psycopg.connect(_dsn(cluster, "postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db(cluster: Cluster, template_db: str) -> Iterator[Settings]:
    """Settings pointing at a fresh copy of the migrated template, dropped afterwards."""
    with template_copy(cluster, template_db) as url:
        yield Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


@pytest.fixture
def conn(db: Settings) -> Iterator[psycopg.Connection]:
    """A connection to the test's own database (autocommit off: tests commit explicitly)."""
    assert db.database_url
    with psycopg.connect(db.database_url) as c:
        yield c


@pytest.fixture(scope="session")
def catalog() -> LayerCatalog:
    """Every layer, as the app assembles them."""
    return default_catalog()
