"""One place that turns errors into RFC 9457 problem responses.

Domain errors (``registry.errors``) carry their status and stable code; request
validation errors become 400 naming the parameter; anything unexpected is logged
and answered with a generic 500 that never includes database or traceback text.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import ECHO_LIMIT, RegistryError

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}
# Seconds a client should wait before retrying when the database is unreachable.
RETRY_AFTER = "5"


# A problem names the bad input but never sends a large one back: an echoed value
# (``errors[].value``) is cut to ECHO_LIMIT characters, any other text to TEXT_LIMIT.
TEXT_LIMIT = 1000


def _capped(value: Any, key: str = "") -> Any:
    """``value`` with long strings cut and unencodable ones (lone surrogates) escaped,
    inside lists and objects too, so the response is small and always renders."""
    if isinstance(value, str):
        limit = ECHO_LIMIT if key in ("value", "input") else TEXT_LIMIT
        if len(value) > limit:
            value = f"{value[:limit]}…({len(value)} chars)"
        if not value.isascii():
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {str(k): _capped(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_capped(v, key) for v in value]
    return value


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response; ``code`` is stable for clients, ``detail`` readable."""
    body: dict[str, Any] = {
        "type": f"urn:jiaozuo-registry:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": _capped(detail),
        "code": code,
    }
    body.update({k: _capped(v, k) for k, v in extra.items() if v is not None and v != []})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    if exc.status >= 500:
        logger.error("registry error: %s", exc.message, exc_info=exc)
    # errors that carry both languages (the importer's) answer in the asked one
    text = getattr(exc, "text", None)
    detail = text(request.query_params.get("lang", "zh")) if callable(text) else exc.message
    return problem(
        exc.status,
        exc.code,
        detail,
        headers=exc.headers() or None,
        parameter=getattr(exc, "parameter", None),
        errors=exc.errors,
        current_version=getattr(exc, "current_version", None),
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = loc[0] if loc else "request"
    parameter = loc[-1] if loc else None
    status = 422 if where == "body" else 400
    message = first.get("msg", "invalid value")
    detail = f"参数 {parameter} 无效 / {parameter}: {message}" if parameter else "请求无效 / invalid request"
    errors = [
        {"parameter": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
        for e in exc.errors()
    ]
    return problem(status, "invalid_parameter", detail, parameter=parameter, errors=errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """No connection could be had (pool timeout) or the server went away mid-request.

    A 503 with Retry-After, not a 500: the request was fine, the database was not,
    and a load balancer or client should try again. Registered as a specific handler
    (not the catch-all), so the keep-alive connection to the client stays open.
    """
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        503,
        "database_unavailable",
        "数据库暂时无法连接，请稍后重试 / the database is unreachable, retry shortly",
        headers={"Retry-After": RETRY_AFTER},
    )


async def _query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """A statement ran past the request statement timeout and was cancelled."""
    logger.warning("statement timeout on %s %s", request.method, request.url.path)
    return problem(
        503,
        "query_timeout",
        "查询超时已取消，请缩小范围或条件后重试 / the query took too long and was cancelled; "
        "narrow the area or the filter and retry",
        headers={"Retry-After": RETRY_AFTER},
    )


async def _refused_at_commit(request: Request, exc: Exception) -> JSONResponse:
    """A database rule checked at COMMIT (a deferred constraint) refused the change.

    Rules checked per statement are translated where the write happens (registry.store);
    one that only fires at COMMIT reaches here, and the client must learn that nothing
    was saved.
    """
    logger.warning("commit refused on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        409,
        "commit_refused",
        "数据库在提交时拒绝了此次修改，未保存任何内容 / the database refused the change when "
        "committing; nothing was saved",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers on the app (called once by create_app)."""
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(psycopg.errors.QueryCanceled, _query_timeout)
    app.add_exception_handler(psycopg.IntegrityError, _refused_at_commit)
    app.add_exception_handler(Exception, _unexpected)
