"""Domain errors: each carries an HTTP status and a stable code, but no framework."""

from __future__ import annotations

from typing import Any, Self

ECHO_LIMIT = 200


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters: a problem
    names the bad input but never sends a 100 kB value back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


class RegistryError(Exception):
    """Base class; ``code`` is stable for clients, the message is safe to show users.

    An error whose words come from the message table (``registry.messages``) names its
    message with :meth:`with_message`, so the API renders it in the reader's language;
    ``errors`` entries do the same with their own ``code`` and ``params``.
    """

    status: int = 500
    code: str = "registry_error"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.message_code = ""
        self.params: dict[str, Any] = {}

    def with_message(self, message_code: str, **params: Any) -> Self:
        """The error, its text now the message ``message_code`` of the table (rendered
        per reader); ``message`` becomes its English rendering (logs, ``str``)."""
        from registry.messages import render

        self.message_code, self.params = message_code, params
        self.message = render(message_code, params, "en")
        self.args = (self.message,)
        return self

    def text(self, lang: str = "zh") -> str:
        """The message in ``lang``, rendered from its code (an error raised without one
        says its message as written)."""
        from registry.messages import render

        if self.message_code:
            return render(self.message_code, self.params, lang)
        return self.message

    def headers(self) -> dict[str, str]:
        """HTTP headers the error calls for (e.g. WWW-Authenticate); none by default."""
        return {}


class ClusterError(RegistryError):
    """The embedded database could not be created, started or stopped."""

    code = "cluster_error"


class MigrationError(RegistryError):
    """A migration failed, or an applied migration file was changed afterwards."""

    code = "migration_error"


class LayerNotFound(RegistryError):
    """No layer of that name is registered."""

    status = 404
    code = "layer_not_found"


class InvalidFeature(RegistryError):
    """Attributes or geometry break a layer's rules; ``errors`` lists each field."""

    status = 422
    code = "invalid_feature"


class InvalidParameter(RegistryError):
    """A request parameter is malformed or out of range; ``parameter`` names it."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, parameter: str, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, errors=errors)
        self.parameter = parameter


class InvalidText(InvalidParameter):
    """Text that no database column can hold: a NUL character or a lone UTF-16 surrogate.

    400 for a query or path parameter, 422 for a field of a request body (``status``
    is set per instance); ``parameter`` names where it was found.
    """

    status = 400
    code = "invalid_text"

    def __init__(self, parameter: str, message: str, *, status: int = 400) -> None:
        super().__init__(parameter, message)
        self.status = status


class UnsupportedMediaType(RegistryError):
    """The request body is not in a form the endpoint accepts (its Content-Type)."""

    status = 415
    code = "unsupported_media_type"


class FeatureNotFound(RegistryError):
    """No (non-deleted) asset with that id in the layer."""

    status = 404
    code = "feature_not_found"


class DuplicateAsset(RegistryError):
    """Another asset of the layer already has that code."""

    status = 409
    code = "duplicate_asset"


class VersionMismatch(RegistryError):
    """The client edited an outdated version (optimistic locking): ``current_version`` tells it
    which one is stored now, so it can reload and merge instead of overwriting silently."""

    status = 412
    code = "version_mismatch"

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class VersionRequired(RegistryError):
    """A write must say which version it changes (If-Match), or two edits could collide."""

    status = 428
    code = "version_required"

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
