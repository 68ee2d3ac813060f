"""``registry serve``: one or more worker processes, and their kept-alive connections
without Nagle's algorithm (web/serve.py; uvicorn's own multi-worker listener loses
TCP_NODELAY, which costs ~40 ms per response on a kept-alive connection)."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import reader_headers
from tests.conftest import free_port
from web.serve import TcpConfig


def test_the_workers_listening_socket_gives_accepted_connections_tcp_nodelay() -> None:
    listener = TcpConfig("web.app:create_app", factory=True, host="127.0.0.1", port=0).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP

    async def accepted_nodelay() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()

    # a loop of its own, in a thread of its own: in a full run the browser tests'
    # Playwright (sync API) keeps an event loop running in the main thread
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, accepted_nodelay()).result(timeout=30) == 1


def test_serve_with_two_workers_answers_on_kept_alive_connections(db: Settings) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db.database_url or ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                assert time.monotonic() < deadline, "registry serve --workers 2 did not start"
                time.sleep(0.3)
        headers = reader_headers(db, Role.VIEWER)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        statuses = []
        for _ in range(5):  # one connection, kept alive
            conn.request("GET", "/ogc/collections/manholes/items?limit=1", headers=headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.close()
        assert statuses == [200] * 5
    finally:
        proc.terminate()
        proc.wait(timeout=30)
