"""A TCP forwarder between the app and the test cluster that can cut the line.

Stopping the session's PostgreSQL would break every other test; cutting this
forwarder is the same thing as seen from the app (connections reset, new ones
refused), and restoring it is the database coming back.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class DbProxy:
    """Forward ``127.0.0.1:<port>`` to the cluster's port until :meth:`cut`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen (again, on the same port after a cut) and forward every connection."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """The database goes away: stop listening and reset every open connection."""
        with self._lock:
            if self._listener is not None:
                # close() alone does not wake a thread blocked in accept() on Linux:
                # the socket would go on accepting; shutdown() does wake it.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def db_proxy(target_port: int) -> Iterator[DbProxy]:
    """A started proxy, cut when the block ends."""
    proxy = DbProxy(target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.cut()
