"""The language the CLI speaks (``registry --lang zh|en``, or ``REGISTRY_LANG``): its
messages are codes of the zh/en table (``registry.messages``), said in that language,
Chinese by default like the pages."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import typer

from registry.messages import LANGS, render

_CHOSEN = {"lang": "zh"}


def set_cli_lang(lang: str) -> None:
    """Remember the chosen language for this run (the app's callback sets it)."""
    _CHOSEN["lang"] = lang if lang in LANGS else "zh"


def cli_lang() -> str:
    """The language of this run: ``zh`` or ``en``."""
    return _CHOSEN["lang"]


def say(code: str, params: Mapping[str, Any] | None = None, lang: str | None = None) -> str:
    """The message ``code`` with ``params`` in ``lang``, else the CLI's language."""
    return render(code, params or {}, lang or cli_lang())


def tell(
    code: str,
    params: Mapping[str, Any] | None = None,
    *,
    lang: str | None = None,
    err: bool = False,
    fg: str | None = None,
) -> None:
    """Print the message ``code`` for a person, in the CLI's language (or ``lang``).

    The one way ``registry``'s progress, result and error lines are written, so none of
    them is an English-only literal: an administrator of a Chinese bureau reads them in
    Chinese, ``--lang en`` in English. Output meant for scripts (ids, tables, JSON) is
    printed as data, not through here.
    """
    typer.secho(say(code, params, lang), fg=fg, err=err)


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns: a Chinese character takes two,
    so ``str.ljust`` would misalign a column of 已停用 against one of active."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)
