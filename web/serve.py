"""Running the app under uvicorn with one or more worker processes (``registry serve``).

uvicorn's multi-worker mode binds the listening socket itself (``Config.bind_socket``)
with ``proto`` left at 0. Accepted sockets inherit it, and asyncio only turns on
``TCP_NODELAY`` for a socket that reports ``IPPROTO_TCP``; so with ``--workers N``
Nagle's algorithm stays on, and every response after the first on a kept-alive
connection waits for the client's delayed ACK: about 40 ms each on Linux (upstream
issue Kludex/uvicorn#3149). The single-process path is not affected: asyncio creates
that listener from ``getaddrinfo``, which fills in the protocol.

:class:`TcpConfig` binds the socket with ``IPPROTO_TCP``, so every worker's accepted
connections get ``TCP_NODELAY`` as a single process's do. The workers share the one
listening socket and the kernel spreads connections over them; each worker is a whole
app with its own pool (``REGISTRY_POOL_MAX_SIZE`` connections each) and keeps nothing
another needs (sessions, rate limits, tile generations are in PostgreSQL).
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

# The HTTP parser and event loop: httptools (llhttp, in C) and uvloop (libuv) instead
# of the pure-Python h11 and asyncio's loop took about 0.1 ms off each request and a
# tenth of the CPU a small read costs (issue 13). httptools has no buffer limit of its
# own, so oversized URLs and headers reach the app, which answers 414/431 (web/limits.py).
HTTP = "httptools"
LOOP = "uvloop"

logger = logging.getLogger(__name__)


class TcpConfig(uvicorn.Config):
    """uvicorn's configuration, with a listening socket that says it is TCP."""

    def bind_socket(self) -> socket.socket:
        """The listening socket for the worker processes, created with ``IPPROTO_TCP``."""
        if self.uds is not None or self.fd is not None:
            return super().bind_socket()
        family = socket.AF_INET6 if self.host and ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            logger.error(exc)
            sys.exit(1)
        sock.set_inheritable(True)
        return sock


def serve(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Serve ``web.app:create_app`` (settings from the environment) until stopped.

    One worker runs in this process; more run as uvicorn's supervised worker processes
    on a socket bound by :class:`TcpConfig`. The app believes X-Forwarded-* only from
    REGISTRY_FORWARDED_ALLOW_IPS (web/security.py), so uvicorn's own proxy handling is off.
    """
    config = TcpConfig(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        http=HTTP,
        loop=LOOP,
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[config.bind_socket()]).run()
