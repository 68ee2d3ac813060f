"""One place that turns errors into RFC 9457 problem responses.

Domain errors (``registry.errors``) carry their status and stable code; request
validation errors become 400 naming the parameter; anything unexpected is logged
and answered with a generic 500 that never includes database or traceback text.

Words are in ONE language, the reader's (:func:`request_lang`: ``?lang=``, else
Accept-Language, else Chinese): ``detail`` and every ``errors[].message`` are rendered
from the zh/en table ``registry.messages``; machines key on the stable ``code`` (the
problem's) and ``errors[].code`` + ``errors[].params`` (each field error's message).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import ECHO_LIMIT, RegistryError
from registry.messages import LANGS, MESSAGES, nested, render

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


def request_lang(request: Request) -> str:
    """The reader's language, as the importer and the CLI choose it: ``?lang=zh|en``
    first (what the pages send), then the first of zh/en in Accept-Language (by its
    q-values), else Chinese, the UI's default."""
    asked = request.query_params.get("lang", "")
    if asked in LANGS:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, rest = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            ranked.append((-q, i, primary))
    return min(ranked)[2] if ranked else "zh"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def field_errors(errors: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Field errors with ``code``, ``params`` and ``message`` in ``lang`` (and the
    field's ``field_label`` in ``lang`` where the producer gave both).

    An error that names a message of the table is rendered from it; one that does not
    keeps its text as written, under the generic code ``invalid_value`` with that text
    as ``params.reason``.
    """
    out = []
    for entry in errors:
        e = dict(entry)
        label = e.get("field_label")
        if isinstance(label, dict):
            e["field_label"] = label.get(lang) or label.get("zh")
        code = e.get("code")
        if isinstance(code, str) and code in MESSAGES:
            e["params"] = _jsonable(e.get("params") or {})
            e["message"] = render(code, e["params"], lang)
        elif isinstance(e.get("message"), str):
            e["code"], e["params"] = "invalid_value", {"reason": e["message"]}
        out.append(e)
    return out


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
    lang = request_lang(request)
    return problem(
        exc.status,
        exc.code,
        exc.text(lang),
        headers=exc.headers() or None,
        message_code=exc.message_code or None,
        params=_jsonable(exc.params) if exc.message_code else None,
        parameter=getattr(exc, "parameter", None),
        errors=field_errors(exc.errors, lang),
        current_version=getattr(exc, "current_version", None),
    )


# pydantic's error types as messages of the table (the rest: invalid_value + its words)
_PYDANTIC: dict[str, tuple[str, dict[str, str]]] = {
    "missing": ("required_missing", {}),
    "int_parsing": ("not_integer", {}),
    "int_type": ("not_integer", {}),
    "int_from_float": ("not_integer", {}),
    "float_parsing": ("not_number", {}),
    "float_type": ("not_number", {}),
    "finite_number": ("not_finite", {}),
    "bool_parsing": ("not_boolean", {}),
    "bool_type": ("not_boolean", {}),
    "string_type": ("not_text", {}),
    "string_too_long": ("too_long", {"max": "max_length"}),
    "string_too_short": ("too_short", {"min": "min_length"}),
    "too_long": ("too_long", {"max": "max_length"}),
    "greater_than_equal": ("below_min", {"min": "ge"}),
    "less_than_equal": ("above_max", {"max": "le"}),
    "greater_than": ("not_above", {"min": "gt"}),
    "less_than": ("not_below", {"max": "lt"}),
    "literal_error": ("not_allowed", {"allowed": "expected"}),
    "enum": ("not_allowed", {"allowed": "expected"}),
    "json_invalid": ("invalid_json", {}),
    "dict_type": ("not_an_object", {}),
    "model_type": ("not_an_object", {}),
    "model_attributes_type": ("not_an_object", {}),
}


def pydantic_message(error: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A pydantic error as (message code, params) of the table."""
    known = _PYDANTIC.get(str(error.get("type", "")))
    if known is None:
        return "invalid_value", {"reason": str(error.get("msg", ""))}
    code, names = known
    ctx = error.get("ctx") or {}
    return code, {param: _jsonable(ctx.get(key, "")) for param, key in names.items()}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = request_lang(request)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = loc[0] if loc else "request"
    parameter = loc[-1] if loc else None
    status = 422 if where == "body" else 400
    if parameter:
        code, params = (
            "parameter_invalid",
            {"parameter": parameter, "reason": nested(*pydantic_message(first))},
        )
    else:
        code, params = "request_invalid", {}
    errors = []
    for e in exc.errors():
        msg, msg_params = pydantic_message(e)
        errors.append(
            {"parameter": ".".join(str(p) for p in e.get("loc", ())), "code": msg, "params": msg_params}
        )
    return problem(
        status,
        "invalid_parameter",
        render(code, params, lang),
        message_code=code,
        params=_jsonable(params),
        parameter=parameter,
        errors=field_errors(errors, lang),
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    generic = str(exc.detail) in ("Not Found", "Method Not Allowed")
    if code in MESSAGES and generic:
        detail = render(code, {}, request_lang(request))
    else:
        detail = str(exc.detail)
    return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


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
        render("database_unavailable", {}, request_lang(request)),
        headers={"Retry-After": RETRY_AFTER},
    )


async def _query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """A statement ran past the request statement timeout and was cancelled."""
    logger.warning("statement timeout on %s %s", request.method, request.url.path)
    return problem(
        503,
        "query_timeout",
        render("query_timeout", {}, request_lang(request)),
        headers={"Retry-After": RETRY_AFTER},
    )


async def _refused_at_commit(request: Request, exc: Exception) -> JSONResponse:
    """A database rule checked at COMMIT (a deferred constraint) refused the change.

    Rules checked per statement are translated where the write happens (registry.store);
    one that only fires at COMMIT reaches here, and the client must learn that nothing
    was saved.
    """
    logger.warning("commit refused on %s %s: %s", request.method, request.url.path, exc)
    return problem(409, "commit_refused", render("commit_refused", {}, request_lang(request)))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", render("internal_error", {}, request_lang(request)))


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
