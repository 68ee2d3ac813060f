"""Request size limits: no request can hold the service by its size alone.

A plain ASGI middleware (no ``BaseHTTPMiddleware``, which buffers bodies): the URL
and the headers are measured before the app sees the request (414 and 431), a body
longer than its Content-Length allows is refused before it is read, and a chunked one
is read up to the limit (413). Survey uploads have their own, larger limit
(``REGISTRY_IMPORT_MAX_BYTES``), checked where the file is written.
Every refusal is the same RFC 9457 problem as any other error (web/errors.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.settings import Settings
from web.errors import problem

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
            await problem(
                414,
                "uri_too_long",
                f"网址过长（{url_bytes} 字节，至多 {s.max_url_bytes}）：请用 POST 发送大的查询 / "
                f"the URL is {url_bytes} bytes, at most {s.max_url_bytes}: send large queries by POST",
            )(scope, receive, send)
            return
        header_bytes = sum(len(k) + len(v) for k, v in scope["headers"])
        if header_bytes > s.max_header_bytes:
            await problem(
                431,
                "headers_too_large",
                f"请求头过大（{header_bytes} 字节，至多 {s.max_header_bytes}） / "
                f"request headers are {header_bytes} bytes, at most {s.max_header_bytes}",
            )(scope, receive, send)
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
        await problem(
            413,
            "body_too_large",
            f"请求体超过上限 {limit} 字节 / the request body is over the limit of {limit} bytes",
        )(scope, receive, send)
