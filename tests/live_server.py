"""Run the app with uvicorn in a subprocess on a free port, for real HTTP clients."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port
from web.serve import HTTP, LOOP


@contextmanager
def live_server(database_url: str, *, log: Path | None = None) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) of a server on ``database_url``;
    its log goes to ``log`` when given (a 500's traceback), else to the test output."""
    with live_server_process(database_url, log=log) as (base, _proc):
        yield base


@contextmanager
def live_server_process(
    database_url: str, *, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The base URL and the server process (for tests that kill it)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    stderr = log.open("wb") if log else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "web.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            # the HTTP stack `registry serve` runs
            "--http",
            HTTP,
            "--loop",
            LOOP,
        ],
        env=env,
        stderr=stderr,
    )
    if stderr:
        stderr.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start{': ' + log.read_text() if log else ''}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
