"""Who may do what, on which layer: the one declaration of roles and permissions.

Every check in the registry (web routes, CLI, importers) asks :func:`allowed` or
:func:`check`; nothing else knows what a role means. Layers are named here as
strings (never imported), so a seventh layer is readable by everyone and writable
by admins until a line below gives a role more.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registry.errors import RegistryError
from registry.spec import LayerSpec


class Role(StrEnum):
    """The five roles of the bureau's staff (DESIGN.md, "who uses it")."""

    ADMIN = "admin"
    SURVEYOR = "surveyor"
    PLANNER = "planner"
    OFFICER = "officer"
    VIEWER = "viewer"


class Action(StrEnum):
    """What a request does. Layer actions need a layer; the others are global."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    IMPORT = "import"
    INSPECT = "inspect"  # record inspections / water-quality tests
    LIFECYCLE = "lifecycle"  # move a hazard through found → assigned → remediated → closed
    # global
    UNDO = "undo"  # revert everything one import or edit batch changed
    AUDIT = "audit"  # read what any user or import changed
    MANAGE_USERS = "manage_users"


GLOBAL_ACTIONS = frozenset({Action.UNDO, Action.AUDIT, Action.MANAGE_USERS})

ROLE_LABELS: Mapping[Role, tuple[str, str]] = {
    Role.ADMIN: ("管理员", "Administrator"),
    Role.SURVEYOR: ("测绘/排查人员", "Surveyor"),
    Role.PLANNER: ("规划人员", "Planner"),
    Role.OFFICER: ("执法/管理人员", "Officer"),
    Role.VIEWER: ("只读用户", "Viewer"),
}

ANY_LAYER = "*"

# Layers surveyors deliver files for.
SURVEY_LAYERS = frozenset({"road_voids", "manholes", "poles_wires", "water_supply", "markets"})

_Grant = Mapping[Action, frozenset[str]]

# role → action → layers (ANY_LAYER for all). Global actions use ANY_LAYER too.
POLICY: Mapping[Role, _Grant] = {
    Role.ADMIN: {action: frozenset({ANY_LAYER}) for action in Action},
    Role.SURVEYOR: {
        Action.READ: frozenset({ANY_LAYER}),
        Action.CREATE: SURVEY_LAYERS,
        Action.UPDATE: SURVEY_LAYERS,
        Action.IMPORT: SURVEY_LAYERS,
    },
    Role.PLANNER: {
        Action.READ: frozenset({ANY_LAYER}),
        Action.CREATE: frozenset({"parking"}),
        Action.UPDATE: frozenset({"parking"}),
        Action.DELETE: frozenset({"parking"}),
    },
    Role.OFFICER: {
        Action.READ: frozenset({ANY_LAYER}),
        Action.LIFECYCLE: frozenset({"road_voids"}),
        Action.INSPECT: frozenset({"water_supply"}),
    },
    Role.VIEWER: {
        Action.READ: frozenset({ANY_LAYER}),
    },
}


class PermissionDenied(RegistryError):
    """The signed-in user's role does not allow this action (on this layer)."""

    status = 403
    code = "permission_denied"


class UnknownRole(RegistryError):
    """A role name that is not one of :class:`Role`."""

    status = 422
    code = "unknown_role"


def parse_role(name: str) -> Role:
    """The role of that name, or UnknownRole listing the valid ones."""
    try:
        return Role(name)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise UnknownRole(f"unknown role {name!r}; roles are: {valid}") from None


def allowed(role: str | Role, action: str | Action, layer: str | None = None) -> bool:
    """Whether ``role`` may do ``action`` (on ``layer`` for layer actions).

    An unknown role or action is never allowed.
    """
    try:
        grant = POLICY[Role(role)]
        act = Action(action)
    except ValueError:
        return False
    layers = grant.get(act, frozenset())
    if ANY_LAYER in layers:
        return True
    if act in GLOBAL_ACTIONS or layer is None:
        return False
    return layer in layers


def check(role: str | Role, action: str | Action, layer: str | None = None) -> None:
    """Raise PermissionDenied (403) naming the role, action and layer when not allowed."""
    if not allowed(role, action, layer):
        where = f" on layer {layer!r}" if layer else ""
        raise PermissionDenied(f"role {role!s} may not {Action(action).value}{where}")


def action_for_update(spec: LayerSpec, fields: set[str] | frozenset[str]) -> Action:
    """LIFECYCLE when every changed field is one of the layer's lifecycle fields, else UPDATE.

    A route that changes attributes asks for this action, so an officer may close a
    hazard without being able to move or rename it. Which fields those are is part of
    the layer's declaration (``LayerSpec.lifecycle_fields``).
    """
    if spec.lifecycle_fields and fields and fields <= spec.lifecycle_fields:
        return Action.LIFECYCLE
    return Action.UPDATE


def can_update(role: str | Role, spec: LayerSpec, fields: set[str] | frozenset[str]) -> bool:
    """UPDATE allows any change; LIFECYCLE allows changes to lifecycle fields only."""
    if allowed(role, Action.UPDATE, spec.name):
        return True
    return action_for_update(spec, fields) is Action.LIFECYCLE and allowed(role, Action.LIFECYCLE, spec.name)


def permissions_of(role: str | Role, layers: list[str]) -> dict[str, list[str]]:
    """For ``/auth/me`` and the map: layer → actions allowed, plus ``"*"`` → global ones."""
    result: dict[str, list[str]] = {
        layer: [a.value for a in Action if a not in GLOBAL_ACTIONS and allowed(role, a, layer)]
        for layer in layers
    }
    result[ANY_LAYER] = [a.value for a in Action if a in GLOBAL_ACTIONS and allowed(role, a)]
    return result
