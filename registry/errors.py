"""Domain errors: each carries an HTTP status and a stable code, but no framework."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """Base class; ``code`` is stable for clients, the message is safe to show users."""

    status: int = 500
    code: str = "registry_error"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


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
