"""The one check where text enters the app: no NUL characters, no lone surrogates.

PostgreSQL text cannot hold U+0000, and a lone UTF-16 surrogate (JSON ``"\\ud800"``)
is not Unicode text at all: it cannot be encoded to UTF-8 for the database or for a
JSON response. Either used to reach the database driver and fail there as a 500.
This app-wide dependency looks at every query and path parameter, every string (and
object key) of a JSON body and every field of a form before any route runs, and
refuses such text with a problem naming the parameter: 400 in the URL, 422 in a body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile

from registry.errors import InvalidText

# Only JSON with a \u escape can carry NUL or a surrogate (raw control characters are
# invalid JSON; json.loads decodes raw bytes with 'surrogatepass', so an encoded
# surrogate starts with 0xED): bodies without these are not walked.
_JSON_MARKERS = (b"\\u", b"\xed")
_NAME_LIMIT = 100


def _flaw(text: str) -> tuple[str, dict[str, str]] | None:
    """What makes ``text`` unstorable, as a message code and its params; None when it is fine."""
    if "\x00" in text:
        return "text_has_nul", {}
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return "text_has_surrogate", {"char": f"U+{ord(text[exc.start]):04X}"}
    return None


def _printable(name: str) -> str:
    """A parameter name safe to put in a response (it may itself be the bad text)."""
    safe = name.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= _NAME_LIMIT else safe[:_NAME_LIMIT] + "…"


def _refuse(name: str, text: str, *, in_body: bool) -> None:
    flaw = _flaw(text)
    if flaw is None:
        return
    shown = _printable(name)
    code, params = flaw
    where_zh, where = ("请求体字段", "body field") if in_body else ("参数", "parameter")
    raise InvalidText(shown, "", status=422 if in_body else 400).with_message(
        code, **params, name=shown, where=where, where_zh=where_zh
    )


def _json_strings(data: Any) -> Iterator[tuple[str, str]]:
    """Every string of a JSON document (object keys too) with its dotted path, without
    recursion (a body may be nested deeper than Python's recursion limit)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            yield path or "body", value
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                child = f"{path}.{key}" if path else str(key)
                yield child, str(key)
                stack.append((item, child))
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                if isinstance(value[i], str | dict | list):
                    stack.append((value[i], f"{path}[{i}]"))


async def _check_body(request: Request) -> None:
    mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json")):
        raw = await request.body()
        if not any(marker in raw for marker in _JSON_MARKERS):
            return
        data = getattr(request, "_json", None)  # FastAPI's parse, when the route has a body
        if data is None:
            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):
                return  # not JSON: the route's own parsing refuses it
        for path, text in _json_strings(data):
            _refuse(path, text, in_body=True)
    elif mime == "application/x-www-form-urlencoded":
        raw = await request.body()
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            _refuse(key, key, in_body=True)
            _refuse(key, value, in_body=True)
    elif mime == "multipart/form-data":
        form = getattr(request, "_form", None)  # parsed by FastAPI for routes with form fields
        for key, value in form.multi_items() if form is not None else ():
            _refuse(key, key, in_body=True)
            if isinstance(value, UploadFile):
                _refuse(f"{key}.filename", value.filename or "", in_body=True)
            else:
                _refuse(key, value, in_body=True)


async def refuse_unstorable_text(request: Request) -> None:
    """App-wide dependency: 400/422 ``invalid_text`` for NUL or a lone surrogate in any
    parameter, JSON body or form field (see the module docstring)."""
    for key, value in request.path_params.items():
        if isinstance(value, str):
            _refuse(key, value, in_body=False)
    for key, value in request.query_params.multi_items():
        _refuse(key, key, in_body=False)
        _refuse(key, value, in_body=False)
    await _check_body(request)
