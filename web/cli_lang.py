"""The language the CLI speaks (``registry --lang zh|en``, or ``REGISTRY_LANG``): its
messages are codes of the zh/en table (``registry.messages``), said in that language,
Chinese by default like the pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
