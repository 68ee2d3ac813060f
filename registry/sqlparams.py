"""Named bound parameters for statements composed from many fragments.

Fragments (bbox, filter, sort) are built independently and then formatted into
one statement, so positional ``%s`` would depend on composition order. Each value
gets its own named placeholder instead; values never enter the SQL text.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql


class Params:
    """Collects values and hands out ``%(pN)s`` placeholders for them."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        """Bind ``value``; return the placeholder to put in the statement."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)
