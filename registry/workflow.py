"""What a campaign workflow is (专项整治: 排查 → 确权 → 整治 → 销号), as a layer declares it.

A layer's ``Workflow`` names its steps in order — each step is the status it leads to —
with what taking it requires (fields filled, photos attached, a second person), who may
take it and the deadlines between steps. The layer's other statuses are *off the
track* (a manhole in service, a market planned): from there only the first step is
taken, and an off-track status may be set from anywhere. Going back is a reopen, with a
reason. One mechanism enforces every declaration, in the API
(:mod:`registry.workflow_store`) and in the database (``sql/0060_workflows.sql``, fed from
these declarations by :func:`registry.workflow_store.sync_workflows`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registry.errors import RegistryError

if TYPE_CHECKING:
    from registry.spec import LayerSpec


@dataclass(frozen=True)
class Step:
    """One step: the status it leads to (``code``), its labels and its requirements.

    ``fields`` must be filled once the step is taken (given with the step or already
    stored); ``photos`` is how many photos must be attached since the current step was
    entered (with the step or before); ``other_than`` names an earlier step whose taker
    may not take this one (the second person: whoever recorded a remediation does not
    verify it). ``roles`` may take the step (admins always may); empty means the roles
    the layer grants ``lifecycle``. ``date_field``/``by_field`` are set to the day and the
    account of whoever takes it.
    """

    code: str
    zh: str
    en: str
    fields: tuple[str, ...] = ()
    photos: int = 0
    other_than: str | None = None
    roles: tuple[str, ...] = ()
    date_field: str | None = None
    by_field: str | None = None

    @property
    def own_fields(self) -> tuple[str, ...]:
        """Every attribute the step writes: its required fields, its date and its taker."""
        extra = tuple(f for f in (self.date_field, self.by_field) if f)
        return tuple(dict.fromkeys((*self.fields, *extra)))

    def requirements(self) -> dict[str, Any]:
        """The requirements as the database's ``workflow_steps.requirements`` holds them."""
        req: dict[str, Any] = {"fields": list(self.fields), "photos": self.photos, "roles": list(self.roles)}
        for key in ("other_than", "date_field", "by_field"):
            if getattr(self, key):
                req[key] = getattr(self, key)
        return req


@dataclass(frozen=True)
class Deadline:
    """``due`` must be reached within ``days`` of entering ``start``.

    With ``grade_attr`` the days depend on that attribute's value (a risk grade):
    ``days_by`` maps value → days, ``days`` (if any) covers other values. The
    declared days are the defaults; an admin may configure others (kept in the
    database, ``workflow_deadlines``).
    """

    start: str
    due: str
    days: int | None = None
    grade_attr: str | None = None
    days_by: Mapping[str, int] = field(default_factory=dict, hash=False, compare=False)

    def defaults(self) -> dict[str, int]:
        """Grade ('' = any) → days, as declared."""
        out = {"": self.days} if self.days is not None else {}
        return {**out, **self.days_by}


@dataclass(frozen=True)
class Workflow:
    """A layer's campaign: steps in order, deadlines, and who may reopen."""

    zh: str
    en: str
    steps: tuple[Step, ...]
    deadlines: tuple[Deadline, ...] = ()
    # Who may send an asset back to an earlier step (admins always may).
    reopen_roles: tuple[str, ...] = ("officer",)

    def step(self, code: str) -> Step | None:
        """The step leading to status ``code``, or None (an off-track status)."""
        return next((s for s in self.steps if s.code == code), None)

    def position(self, code: str | None) -> int | None:
        """1-based position of the step leading to ``code``; None off the track."""
        return next((i for i, s in enumerate(self.steps, start=1) if s.code == code), None)

    def next_step(self, status: str | None) -> Step | None:
        """The one step that may be taken from ``status`` (None at the end of the track)."""
        pos = self.position(status)
        if pos is None:
            return self.steps[0]
        return self.steps[pos] if pos < len(self.steps) else None

    def active_deadlines(self, status: str | None) -> list[Deadline]:
        """Deadlines running while an asset is in ``status`` (started, due step not reached)."""
        pos = self.position(status)
        if pos is None:
            return []
        out = []
        for d in self.deadlines:
            start, due = self.position(d.start), self.position(d.due)
            if start is not None and due is not None and start <= pos < due:
                out.append(d)
        return out

    def check(self, spec: LayerSpec) -> None:
        """Refuse a declaration that names unknown statuses, attributes or roles-free reopens."""
        statuses = {c.code for c in spec.statuses}
        names = {a.name for a in spec.all_attrs}
        codes = [s.code for s in self.steps]
        if not self.steps or len(set(codes)) != len(codes):
            raise ValueError(f"layer {spec.name!r}: a workflow needs distinct steps")
        for s in self.steps:
            if s.code not in statuses:
                raise ValueError(f"layer {spec.name!r}: workflow step {s.code!r} is not one of its statuses")
            unknown = [f for f in s.own_fields if f not in names]
            if unknown:
                raise ValueError(f"layer {spec.name!r}: step {s.code!r} names unknown attributes {unknown}")
            if s.other_than is not None and (self.position(s.other_than) or 99) >= (
                self.position(s.code) or 0
            ):
                raise ValueError(f"layer {spec.name!r}: step {s.code!r} other_than must name an earlier step")
        for d in self.deadlines:
            if (self.position(d.start) or 99) >= (self.position(d.due) or 0):
                raise ValueError(f"layer {spec.name!r}: deadline {d.start!r} → {d.due!r} is not forward")
            if d.grade_attr is not None and d.grade_attr not in names:
                raise ValueError(
                    f"layer {spec.name!r}: deadline grades by unknown attribute {d.grade_attr!r}"
                )
            if not d.defaults() or any(v <= 0 for v in d.defaults().values()):
                raise ValueError(f"layer {spec.name!r}: deadline {d.start!r} → {d.due!r} needs positive days")

    @property
    def step_fields(self) -> frozenset[str]:
        """Every attribute some step writes (a reopen clears those of the undone steps)."""
        return frozenset(f for s in self.steps for f in s.own_fields)


# --- errors (RFC 9457 problems through web/errors.py; Chinese first, then English) ---


class NoWorkflow(RegistryError):
    """The layer declares no workflow."""

    status = 404
    code = "no_workflow"


class NotNextStep(RegistryError):
    """The step asked for is not the one that may be taken now (skipping, going back)."""

    status = 409
    code = "not_next_step"


class StepRequirementsMissing(RegistryError):
    """The step's fields or photos are missing; ``errors`` names each one."""

    status = 422
    code = "step_requirements_missing"


class SecondPersonRequired(RegistryError):
    """The step must be taken by someone other than the taker of an earlier step."""

    status = 403
    code = "second_person_required"


class StatusThroughWorkflow(RegistryError):
    """A layer with a workflow changes its status only by steps and reopens (an edit
    that sets the status is refused as a whole, like any other invalid value)."""

    status = 422
    code = "status_through_workflow"


class InvalidReopen(RegistryError):
    """A reopen without a reason, or to a step that is not an earlier one."""

    status = 422
    code = "invalid_reopen"
