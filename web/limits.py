"""Request size limits: no request can hold the service by its size alone.

A plain ASGI middleware (no ``BaseHTTPMiddleware``, which buffers bodies): the URL
and the headers are measured before the app sees the request (414 and 431), a body
longer than its Content-Length allows is refused before it is read, and a chunked one
is read up to the limit (413). Survey uploads have their own, larger limit
(``REGISTRY_IMPORT_MAX_BYTES``), checked where the file is written.
Every refusal is the same RFC 9457 problem as any other error (web/errors.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.messages import render
from registry.settings import Settings
from web.errors import problem, request_lang

# Paths whose bodies are files, bounded by the import size limit instead.
UPLOAD_PATHS = ("/api/imports",)


class RequestLimits:
    """Refuse oversized URLs (414), headers (431) and bodies (413) with a problem."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        s = self.settings
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_bytes > s.max_url_bytes:
            await _refuse(scope, receive, send, 414, "uri_too_long", size=url_bytes, max=s.max_url_bytes)
            return
        header_bytes = sum(len(k) + len(v) for k, v in scope["headers"])
        if header_bytes > s.max_header_bytes:
            await _refuse(
                scope, receive, send, 431, "headers_too_large", size=header_bytes, max=s.max_header_bytes
            )
            return
        upload = scope["path"].startswith(UPLOAD_PATHS)
        limit = s.import_max_bytes if upload else s.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit():
            # the HTTP server holds the client to its Content-Length
            if int(declared) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        elif not upload and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            # A chunked body is read here, up to the limit, and replayed: an error raised
            # inside the app's own body parsing would become a generic 400. (Uploads are
            # counted where the file is written.)
            body = bytearray()
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > limit:
                    await self._too_large(scope, receive, send, limit)
                    return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await _refuse(scope, receive, send, 413, "body_too_large", max=limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, **params: int) -> None:
    """The problem ``code`` (also its message's code) in the reader's language."""
    detail = render(code, params, request_lang(Request(scope)))
    await problem(status, code, detail, message_code=code, params=params)(scope, receive, send)
