"""Read-your-own-writes with read replicas: mark a client that just wrote.

Installed only when DATABASE_READ_URL names replicas. Every successful request that
may have written (any method but GET/HEAD/OPTIONS) gets a short-lived cookie; while
the client sends it back, ``web.deps.get_read_conn`` reads from the primary. The cookie
expires after ``read_your_writes_seconds``, by which time a healthy replica has long
replayed the write. Nothing is kept in the app process, so any instance behind the
load balancer honours it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.deps import READ_METHODS, WROTE_COOKIE


class ReadYourWrites:
    """ASGI middleware setting ``registry_wrote`` on the responses of successful writes."""

    def __init__(self, app: ASGIApp, *, seconds: int) -> None:
        self.app = app
        self.cookie = f"{WROTE_COOKIE}=1; Max-Age={seconds}; Path=/; HttpOnly; SameSite=Lax".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def mark(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                message["headers"] = [*message.get("headers", []), (b"set-cookie", self.cookie)]
            await send(message)

        await self.app(scope, receive, mark)
