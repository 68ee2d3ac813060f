"""One place that turns errors into RFC 9457 problem responses.

Domain errors (``registry.errors``) carry their status and stable code; request
validation errors become 400 naming the parameter; anything unexpected is logged
and answered with a generic 500 that never includes database or traceback text.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import RegistryError

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
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response; ``code`` is stable for clients, ``detail`` readable."""
    body: dict[str, Any] = {
        "type": f"urn:jiaozuo-registry:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None and v != []})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _registry_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    if exc.status >= 500:
        logger.error("registry error: %s", exc.message, exc_info=exc)
    return problem(
        exc.status,
        exc.code,
        exc.message,
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
    detail = f"{parameter}: {first.get('msg', 'invalid value')}" if parameter else "invalid request"
    errors = [
        {"parameter": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
        for e in exc.errors()
    ]
    return problem(status, "invalid_parameter", detail, parameter=parameter, errors=errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers on the app (called once by create_app)."""
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
