"""The embedded cluster: created and started by the registry itself, stoppable,
restartable, harmless to start twice, recovering from a crash's stale pid file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from registry.cluster import FALLBACK_ROOT, Cluster
from registry.errors import ClusterError
from registry.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port


@pytest.fixture
def own_cluster():
    """A throwaway cluster of the test's own (the session cluster is not touched)."""
    settings = Settings(
        _env_file=None,
        database_url=None,
        data_dir=Path(tempfile.mkdtemp(prefix="registry-cl-")),
        pg_port=free_port(),
    )
    c = Cluster(settings)
    yield c
    c.down()


def _select_one(c: Cluster) -> int:
    with psycopg.connect(c.dsn, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def test_cluster_up_down_up_keeps_data(own_cluster: Cluster) -> None:
    assert own_cluster.up() is True
    assert own_cluster.status().running
    with psycopg.connect(own_cluster.dsn) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert own_cluster.down() is True
    assert not own_cluster.status().running
    with pytest.raises(psycopg.OperationalError):
        _select_one(own_cluster)
    assert own_cluster.up() is True
    with psycopg.connect(own_cluster.dsn) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


def test_starting_twice_is_harmless(own_cluster: Cluster) -> None:
    assert own_cluster.up() is True
    assert own_cluster.up() is False
    assert _select_one(own_cluster) == 1


def test_stale_pid_file_after_crash_is_recovered(own_cluster: Cluster) -> None:
    own_cluster.up()
    pid = own_cluster.status().pid
    assert pid
    subprocess.run(["kill", "-9", str(pid)], check=True)
    # wait until the postmaster is gone but its pid file stays behind
    for _ in range(100):
        if not own_cluster.status().running:
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert (own_cluster.pgdata / "postmaster.pid").exists()
    # a pid that is certainly not a postgres process
    (own_cluster.pgdata / "postmaster.pid").write_text(
        "1\n" + "\n".join((own_cluster.pgdata / "postmaster.pid").read_text().splitlines()[1:])
    )
    assert own_cluster.up() is True
    assert _select_one(own_cluster) == 1


def test_port_taken_names_the_port_and_how_to_change_it(own_cluster: Cluster) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", own_cluster.port))
        blocker.listen()
        with pytest.raises(ClusterError) as err:
            own_cluster.up()
    message = err.value.message
    assert str(own_cluster.port) in message
    assert "REGISTRY_PG_PORT" in message


def test_database_url_means_no_local_cluster() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://u@db.example/x")
    with pytest.raises(ClusterError):
        Cluster(settings)


def test_cli_lists_every_command_with_a_description() -> None:
    out = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/registry"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("db", "migrate", "seed-demo", "serve", "up"):
        assert command in out


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback only applies when running as root")
def test_data_folder_unreachable_by_the_server_account_falls_back_under_var_lib(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    settings = Settings(_env_file=None, database_url=None, data_dir=private / "var", pg_port=free_port())
    c = Cluster(settings)
    assert c.base_dir.is_relative_to(FALLBACK_ROOT)
    try:
        assert c.up() is True
        assert _select_one(c) == 1
    finally:
        c.down()
        shutil.rmtree(c.base_dir, ignore_errors=True)
