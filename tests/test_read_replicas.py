"""Read replicas (issue 13): a real streaming standby of a small dedicated primary
(pg_basebackup -R), read-only GETs served by it, writes and a writer's own reads on the
primary, and a write on the primary reaching the replica once it is replayed.

The session's test cluster is not used: its many test databases would make the base
backup slow, and pausing its replay would touch nothing else's tests, but a standby of
our own keeps the test self-contained. Everything started here is stopped here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from registry.catalog import LayerCatalog
from registry.cluster import Cluster, find_bin_dir
from registry.districts import load_districts
from registry.migrate import migrate
from registry.permissions import Role
from registry.settings import PROJECT_ROOT, Settings
from tests.authkit import Account, make_accounts
from tests.conftest import free_port
from tests.ogc_support import seed_all
from web.app import create_app


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Pair:
    """The primary, its standby and accounts in the registry database of both."""

    primary: str
    replica: str
    accounts: dict[Role, Account]

    def settings(self) -> Settings:
        return Settings(_env_file=None, database_url=self.primary, database_read_url=self.replica)  # type: ignore[call-arg]


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as c:
            c.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="module")
def pair(catalog: LayerCatalog) -> Iterator[Pair]:
    base = Path(tempfile.mkdtemp(prefix="registry-replica-"))
    base.chmod(0o755)  # mkdtemp's 0700 would keep the server's account out
    primary = Cluster(
        Settings(_env_file=None, database_url=None, data_dir=base / "primary", pg_port=free_port())  # type: ignore[call-arg]
    )
    bin_dir = find_bin_dir()
    assert bin_dir is not None, "PostgreSQL server binaries not found"
    standby = base / "standby"
    standby_port = free_port()
    started = False

    def as_server(tool: str, *args: str) -> None:
        # the standby runs as the same OS account as the primary (postgres when root)
        cmd = primary._as_server_user([str(bin_dir / tool), *args])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        log = standby / "log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        assert proc.returncode == 0, f"{tool} failed: {proc.stderr or proc.stdout}\n{tail}"

    try:
        primary.up()
        with psycopg.connect(primary.dsn) as conn:
            migrate(conn, PROJECT_ROOT / "sql")
        with psycopg.connect(primary.dsn) as conn:
            load_districts(conn)
            conn.commit()
            seed_all(conn, catalog, 3)
            accounts = make_accounts(conn)
        # initdb's defaults allow it: wal_level=replica, max_wal_senders=10, and
        # "host replication all 127.0.0.1/32 trust" in pg_hba.conf
        with psycopg.connect(primary.dsn) as conn:
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_wal_senders')"
                ).fetchall()
            )
        assert settings["wal_level"] in {"replica", "logical"} and int(settings["max_wal_senders"]) > 0
        for folder in (standby, standby / "run"):
            folder.mkdir(parents=True, exist_ok=True)
            if primary.os_user:
                shutil.chown(folder, user=primary.os_user)
        as_server(
            "pg_basebackup", "-D", str(standby / "pg"), "-R", "-X", "stream", "-c", "fast",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.settings.pg_user,
        )  # fmt: skip
        as_server(
            "pg_ctl", "start", "-w", "-t", "120", "-D", str(standby / "pg"), "-l", str(standby / "log"),
            # a hot standby needs max_connections at least the primary's (cluster.py: 200)
            "-o", f"-p {standby_port} -h 127.0.0.1 -k {standby / 'run'} -c max_connections=200",
        )  # fmt: skip
        started = True
        replica = primary.dsn.replace(f":{primary.port}/", f":{standby_port}/")
        wait_for(lambda: _reachable(replica), "the standby to accept connections")
        yield Pair(primary.dsn, replica, accounts)
    finally:
        if started:
            as_server("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(standby / "pg"))
        primary.down()
        shutil.rmtree(primary.base_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def _set_replay(pair: Pair, paused: bool) -> None:
    """Pause or resume WAL replay on the standby, waiting until it has taken effect."""
    with psycopg.connect(pair.replica, autocommit=True) as c:
        c.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        wanted = "paused" if paused else "not paused"
        wait_for(
            lambda: c.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() == (wanted,),
            f"replay to be {wanted}",
        )


@pytest.fixture
def replay(pair: Pair) -> Iterator[Callable[[bool], None]]:
    yield lambda paused: _set_replay(pair, paused)
    _set_replay(pair, False)


def _an_asset(pair: Pair) -> str:
    with psycopg.connect(pair.primary) as c:
        row = c.execute("SELECT id::text FROM road_voids ORDER BY code LIMIT 1").fetchone()
    assert row is not None
    return row[0]


def _road_name(client: TestClient, asset_id: str) -> str | None:
    r = client.get(f"/ogc/collections/road_voids/items/{asset_id}")
    return r.json()["properties"]["road_name"] if r.status_code == 200 else None


def test_gets_are_served_by_the_replica_and_primary_writes_reach_it(
    pair: Pair, catalog: LayerCatalog, replay: Callable[[bool], None]
) -> None:
    with TestClient(
        create_app(pair.settings(), catalog), headers=pair.accounts[Role.VIEWER].bearer
    ) as client:
        health = client.get("/health").json()
        assert health["read_replicas"] == [
            {
                "reachable": True,
                "in_recovery": True,
                "replay_lag_s": health["read_replicas"][0]["replay_lag_s"],
            }
        ]
        asset_id = _an_asset(pair)
        wait_for(lambda: _road_name(client, asset_id) is not None, "the seeded assets on the replica")
        before = _road_name(client, asset_id)

        replay(True)
        with psycopg.connect(pair.primary) as c:
            c.execute("UPDATE road_voids SET road_name = '主库新名' WHERE id = %s", (asset_id,))
            c.commit()
            assert c.execute("SELECT road_name FROM road_voids WHERE id = %s", (asset_id,)).fetchone() == (
                "主库新名",
            )
        # the primary has it, the GET does not: the GET was answered by the replica
        assert _road_name(client, asset_id) == before != "主库新名"
        search = client.get("/api/search", params={"layers": "road_voids", "q": "主库新名"})
        assert search.status_code == 200 and search.json()["features"] == []

        replay(False)
        wait_for(
            lambda: _road_name(client, asset_id) == "主库新名", "the write to be replayed on the replica"
        )


def test_a_writer_reads_its_own_write_from_the_primary(
    pair: Pair, catalog: LayerCatalog, replay: Callable[[bool], None]
) -> None:
    app = create_app(pair.settings(), catalog)
    with (
        TestClient(app, headers=pair.accounts[Role.SURVEYOR].bearer) as writer,
        TestClient(app, headers=pair.accounts[Role.VIEWER].bearer) as other,
    ):
        asset_id = _an_asset(pair)
        wait_for(lambda: _road_name(other, asset_id) is not None, "the seeded assets on the replica")
        before = _road_name(other, asset_id)
        replay(True)
        edited = writer.patch(
            f"/api/assets/road_voids/{asset_id}", json={"properties": {"road_name": "自己改的"}}
        )
        assert edited.status_code == 200, edited.text
        assert "registry_wrote=1" in edited.headers["set-cookie"]
        # the writer reads the primary while its cookie lives; everyone else the replica
        assert _road_name(writer, asset_id) == "自己改的"
        assert _road_name(other, asset_id) == before
        replay(False)
        wait_for(lambda: _road_name(other, asset_id) == "自己改的", "the edit to reach the replica")
