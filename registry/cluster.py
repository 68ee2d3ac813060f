"""The embedded PostgreSQL + PostGIS cluster the registry runs when no DATABASE_URL is set.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as an
unprivileged OS account (Debian's ``postgres``), and its folders are owned by it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from registry.errors import ClusterError
from registry.settings import Settings

logger = logging.getLogger(__name__)

MIN_PG_MAJOR = 15
FALLBACK_ROOT = Path("/var/lib/jiaozuo-registry")


@dataclass(frozen=True)
class ClusterStatus:
    """What ``registry db status`` reports."""

    running: bool
    pid: int | None
    port: int
    data_dir: Path
    bin_dir: Path | None


def _is_root() -> bool:
    return os.geteuid() == 0


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL (>= 15) server binaries, or None."""
    explicit = os.environ.get("REGISTRY_PG_BIN")
    if explicit:
        return Path(explicit)
    candidates = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            major = int(path.parent.name)
        except ValueError:
            continue
        if major >= MIN_PG_MAJOR and (path / "initdb").exists():
            candidates.append((major, path))
    if candidates:
        return max(candidates)[1]
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _pg_major(bin_dir: Path) -> int:
    out = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    return int(out.split(")")[1].strip().split(".")[0])


def _postgis_installed(bin_dir: Path) -> bool:
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        share = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return any(Path(share, "extension").glob("postgis.control"))
    major = _pg_major(bin_dir)
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()


def _apt_install(packages: list[str]) -> None:
    logger.warning("installing %s with apt-get", " ".join(packages))
    # Debian's postgresql package would create and start a "main" cluster we never
    # use; tell postgresql-common not to.
    conf = Path("/etc/postgresql-common/createcluster.d/registry.conf")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def ensure_server_software() -> Path:
    """Return the PostgreSQL bin folder, installing PostgreSQL/PostGIS on Debian as root.

    Elsewhere, stop with the exact packages to install rather than guessing.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if _is_root() and _is_debian():
            _apt_install(["postgresql-15", "postgresql-15-postgis-3"])
            bin_dir = find_bin_dir()
        if bin_dir is None:
            raise ClusterError("").with_message("pg_server_missing")
    if not _postgis_installed(bin_dir):
        major = _pg_major(bin_dir)
        package = f"postgresql-{major}-postgis-3"
        if _is_root() and _is_debian():
            _apt_install([package])
        if not _postgis_installed(bin_dir):
            raise ClusterError("").with_message("postgis_missing", major=major, package=package)
    return bin_dir


def embedded_dsn(settings: Settings) -> str:
    """Where the embedded cluster listens (loopback TCP, trust auth on loopback only)."""
    return f"postgresql://{settings.pg_user}@127.0.0.1:{settings.pg_port}/{settings.pg_database}"


class Cluster:
    """One embedded cluster: its folders, its port and the OS account it runs as."""

    def __init__(self, settings: Settings) -> None:
        if not settings.embedded:
            raise ClusterError("").with_message("cluster_external")
        self.settings = settings
        self.port = settings.pg_port
        self.base_dir = self._resolve_base_dir(settings.data_dir.resolve())
        self.pgdata = self.base_dir / "pg"
        self.socket_dir = self.base_dir / "run"
        self.log_file = self.base_dir / "postgres.log"

    # -- who runs it -----------------------------------------------------------------

    @property
    def os_user(self) -> str | None:
        """The account the server runs as: ourselves, or an unprivileged one when root."""
        return self.settings.pg_os_user if _is_root() else None

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        if self.os_user is None:
            return cmd
        return ["runuser", "-u", self.os_user, "--", *cmd]

    def _server_user_can_write(self, path: Path) -> bool:
        if self.os_user is None:
            return True
        probe = subprocess.run(self._as_server_user(["test", "-w", str(path)]), check=False)
        return probe.returncode == 0

    def _resolve_base_dir(self, wanted: Path) -> Path:
        """The data folder the server account can reach.

        As root, a folder under /root (or any 0700 parent) is out of the server
        account's reach; we then keep the cluster under /var/lib instead of failing.
        """
        wanted.mkdir(parents=True, exist_ok=True)
        if self.os_user is None:
            return wanted
        try:
            pwd.getpwnam(self.os_user)
        except KeyError as exc:
            raise ClusterError("").with_message(
                "cluster_os_user_missing", user=repr(self.os_user), name=self.os_user
            ) from exc
        shutil.chown(wanted, user=self.os_user)
        if self._server_user_can_write(wanted):
            return wanted
        digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
        fallback = FALLBACK_ROOT / digest
        fallback.mkdir(parents=True, exist_ok=True)
        shutil.chown(FALLBACK_ROOT, user=self.os_user)
        shutil.chown(fallback, user=self.os_user)
        logger.warning(
            "%s is not reachable by the %r account (a parent folder is private); "
            "keeping the database in %s instead",
            wanted,
            self.os_user,
            fallback,
        )
        return fallback

    # -- life cycle --------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """Connection string for the registry database on this cluster."""
        return f"postgresql://{self.settings.pg_user}@127.0.0.1:{self.port}/{self.settings.pg_database}"

    def _run(self, bin_dir: Path, tool: str, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            self._as_server_user([str(bin_dir / tool), *args]),
            capture_output=True,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ClusterError("").with_message(
                "cluster_tool_failed", tool=tool, reason=proc.stderr.strip() or proc.stdout.strip()
            )
        return proc.stdout

    def _pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    @staticmethod
    def _is_postgres_process(pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"postgres" in cmdline

    def status(self) -> ClusterStatus:
        """Whether the server is up, judged by its pid file and the process behind it."""
        pid = self._pid()
        running = pid is not None and self._is_postgres_process(pid)
        return ClusterStatus(running, pid if running else None, self.port, self.pgdata, find_bin_dir())

    def _initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _init(self, bin_dir: Path) -> None:
        logger.info("creating a PostgreSQL cluster in %s", self.pgdata)
        for folder in (self.pgdata, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if self.os_user:
                shutil.chown(folder, user=self.os_user)
        self.pgdata.chmod(0o700)
        self._run(
            bin_dir,
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            self.settings.pg_user,
            "--auth=trust",  # listens on loopback and its own socket folder only
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )

    def _port_free(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR as the server itself uses: only a *listening* socket makes the
            # port unavailable, not connections lingering in TIME_WAIT.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                return False
        return True

    def _wait_for_free_port(self, seconds: float) -> bool:
        # After a crash, the dead server's children may hold the port for a moment.
        deadline = time.monotonic() + seconds
        while not self._port_free():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def _clear_stale_pid(self) -> None:
        """After a crash the pid file may name a process that is gone or is not postgres."""
        pid = self._pid()
        if pid is not None and not self._is_postgres_process(pid):
            logger.warning("removing stale postmaster.pid (pid %s is not a running server)", pid)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            for lock in self.socket_dir.glob(".s.PGSQL.*"):
                lock.unlink(missing_ok=True)

    def up(self) -> bool:
        """Create (first time) and start the cluster; return False if it was already running."""
        bin_dir = ensure_server_software()
        if not self._initialised():
            self._init(bin_dir)
        if self.status().running:
            return False
        self._clear_stale_pid()
        if not self._wait_for_free_port(seconds=5):
            raise ClusterError("").with_message("cluster_port_in_use", port=self.port, next=self.port + 1)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            shutil.chown(self.socket_dir, user=self.os_user)
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.socket_dir} -c shared_buffers=256MB -c max_connections=200"
        )
        self._run(
            bin_dir,
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "120",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            options,
        )
        self._ensure_database()
        return True

    def _ensure_database(self) -> None:
        admin = f"postgresql://{self.settings.pg_user}@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.settings.pg_database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.settings.pg_database)))

    def down(self) -> bool:
        """Stop the cluster; return False if it was not running."""
        if not self.status().running:
            return False
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise ClusterError("").with_message("cluster_cannot_stop")
        self._run(bin_dir, "pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))
        return True
