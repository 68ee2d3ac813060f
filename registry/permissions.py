"""Who may do what, on which layer: the one declaration of roles and permissions.

Every check in the registry (web routes, CLI, importers) asks :func:`allowed` or
:func:`check`; nothing else knows what a role means. Roles and global rights are
declared here; what a role may do on a layer is declared by the layer itself
(``LayerSpec.grants``), so a new layer brings its own rights with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    SET_TARGETS = "set_targets"  # enter the yearly campaign targets
    CONFIGURE_MAP = "configure_map"  # basemaps and the gazetteer of the map (issue 11)


GLOBAL_ACTIONS = frozenset(
    {Action.UNDO, Action.AUDIT, Action.MANAGE_USERS, Action.SET_TARGETS, Action.CONFIGURE_MAP}
)

ROLE_LABELS: Mapping[Role, tuple[str, str]] = {
    Role.ADMIN: ("管理员", "Administrator"),
    Role.SURVEYOR: ("测绘/排查人员", "Surveyor"),
    Role.PLANNER: ("规划人员", "Planner"),
    Role.OFFICER: ("执法/管理人员", "Officer"),
    Role.VIEWER: ("只读用户", "Viewer"),
}

ANY_LAYER = "*"

# What surveyors may do on the layers they deliver files for; a layer declares it
# (``LayerSpec.grants``) rather than being listed here.
SURVEY_GRANTS: Mapping[str, frozenset[str]] = {
    Role.SURVEYOR.value: frozenset({Action.CREATE.value, Action.UPDATE.value, Action.IMPORT.value})
}

# Layer actions a layer may grant to roles other than admin (READ is everyone's).
GRANTABLE = frozenset(Action) - GLOBAL_ACTIONS - {Action.READ}


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
        raise UnknownRole("").with_message("role_unknown", name=repr(name), valid=valid) from None


def check_grants(spec: LayerSpec) -> None:
    """Refuse a layer declaration that grants an unknown role or action (a typo there
    would silently leave a role without rights); called when a layer is registered."""
    for role, actions in spec.grants.items():
        if role not in {r.value for r in Role} or role == Role.ADMIN:
            raise ValueError(f"layer {spec.name!r} grants to unknown or admin role {role!r}")
        bad = set(actions) - {a.value for a in GRANTABLE}
        if bad:
            raise ValueError(f"layer {spec.name!r} grants {role!r} actions that are not layer actions: {bad}")


def allowed(role: str | Role, action: str | Action, layer: LayerSpec | None = None) -> bool:
    """Whether ``role`` may do ``action`` (on ``layer`` for layer actions).

    Admins may do everything and every role reads every layer; anything else is what
    the layer's own declaration grants. An unknown role or action is never allowed.
    """
    try:
        who = Role(role)
        act = Action(action)
    except ValueError:
        return False
    if who is Role.ADMIN or act is Action.READ:
        return True
    if act in GLOBAL_ACTIONS or layer is None:
        return False
    return act.value in layer.grants.get(who.value, frozenset())


# What a Chinese message calls each action (the English one says its code).
ACTION_ZH: Mapping[Action, str] = {
    Action.READ: "查看",
    Action.CREATE: "新建",
    Action.UPDATE: "修改",
    Action.DELETE: "删除",
    Action.RESTORE: "恢复",
    Action.IMPORT: "导入",
    Action.INSPECT: "录入巡查和检测",
    Action.LIFECYCLE: "办理流程",
    Action.UNDO: "撤销",
    Action.AUDIT: "查看变更记录",
    Action.MANAGE_USERS: "管理用户",
    Action.SET_TARGETS: "设定年度目标",
    Action.CONFIGURE_MAP: "配置地图",
}


def _role_words(role: str | Role) -> dict[str, str]:
    try:
        return {"role": str(Role(role)), "role_zh": ROLE_LABELS[Role(role)][0]}
    except (ValueError, KeyError):
        return {"role": str(role), "role_zh": f"角色 {role}"}


def role_words(role: str | Role) -> dict[str, str]:
    """A role as message parameters: ``role`` (its code) and ``role_zh`` (its Chinese name)."""
    return _role_words(role)


def check(role: str | Role, action: str | Action, layer: LayerSpec | None = None) -> None:
    """Raise PermissionDenied (403) naming the role, action and layer when not allowed."""
    if not allowed(role, action, layer):
        act = Action(action)
        words = _role_words(role) | {"action": act.value, "action_zh": ACTION_ZH.get(act, act.value)}
        if layer is None:
            raise PermissionDenied("").with_message("permission_denied", **words)
        raise PermissionDenied("").with_message(
            "permission_denied_layer", **words, layer=layer.name, layer_zh=layer.zh
        )


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
    if allowed(role, Action.UPDATE, spec):
        return True
    return action_for_update(spec, fields) is Action.LIFECYCLE and allowed(role, Action.LIFECYCLE, spec)


def check_update(role: str | Role, spec: LayerSpec, fields: set[str] | frozenset[str]) -> None:
    """Raise PermissionDenied (403) naming the fields when :func:`can_update` refuses."""
    if not can_update(role, spec, frozenset(fields)):
        labels = {a.name: a.zh for a in spec.all_attrs}
        raise PermissionDenied("").with_message(
            "permission_denied_fields",
            **_role_words(role),
            fields=", ".join(sorted(fields)),
            fields_zh="、".join(labels.get(f, f) for f in sorted(fields)),
            layer=spec.name,
            layer_zh=spec.zh,
        )


def check_undo(
    role: str | Role, *, own: bool, rights: Iterable[tuple[str | Action, LayerSpec | None]]
) -> None:
    """Undo of one batch of writes (an import, a day of field capture): anyone with the
    UNDO right, or the account that wrote the batch (``own``, decided by account id, never
    by a name) while its role still holds every right the batch's writes needed."""
    if own and all(allowed(role, action, layer) for action, layer in rights):
        return
    check(role, Action.UNDO)


def permissions_of(role: str | Role, layers: Iterable[LayerSpec]) -> dict[str, list[str]]:
    """For ``/auth/me`` and the map: layer → actions allowed, plus ``"*"`` → global ones."""
    result: dict[str, list[str]] = {
        layer.name: [a.value for a in Action if a not in GLOBAL_ACTIONS and allowed(role, a, layer)]
        for layer in layers
    }
    result[ANY_LAYER] = [a.value for a in Action if a in GLOBAL_ACTIONS and allowed(role, a)]
    return result
