"""What a layer is: the single declaration from which validation, labels, import
column mapping, API collections and map styling are derived.

The registry core defines the vocabulary; concrete layers live in ``layers/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.workflow import Workflow


class AttrType(StrEnum):
    """Attribute value types and the PostgreSQL types that store them."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "numeric"
    DATE = "date"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Choice:
    """One allowed value: a stable English code stored, Chinese and English labels shown."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Attr:
    """One typed attribute of a layer.

    ``computed`` attributes are derived by the database (generated columns or
    triggers): they are read and shown, never written by clients.
    """

    name: str
    type: AttrType
    zh: str
    en: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    computed: bool = False
    # A count that belongs to the area (a zone's bays): when a polygon asset is split,
    # it is shared out among the pieces by area instead of copied to each.
    shared_by_area: bool = False
    # Longest text accepted (characters): no request or import stores an unbounded value.
    max_length: int = 500

    def choice(self, code: str) -> Choice | None:
        """The choice with that code, if any."""
        return next((c for c in self.choices if c.code == code), None)

    def label(self, lang: str = "zh") -> str:
        """Field label in ``zh`` or ``en``."""
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Problem:
    """A rule broken by one field (or the geometry, ``field='geometry'``).

    ``code`` and ``params`` name the message in ``registry.messages`` (rendered in
    the reader's language); ``message`` is its English text.
    """

    field: str
    message: str
    value: Any = None
    level: str = "error"  # or "warning"
    code: str = ""
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Style:
    """How the map draws a layer: a colour per value of one attribute."""

    by: str
    colors: Mapping[str, str] = field(hash=False)
    default: str = "#666666"
    radius: int = 5
    label: str = "code"
    # A date attribute after which the asset is overdue (a water test, an inspection):
    # drawn as an outline in ``due_color`` so the fill still tells its last state.
    due: str | None = None
    due_color: str = "#7b3294"

    def color_of(self, props: Mapping[str, Any]) -> str:
        """The fill colour of an asset with these properties."""
        value = props.get(self.by)
        if value is None:
            return self.colors.get("", self.default)
        # booleans are keyed as JSON writes them ("true"), not as Python prints them
        return self.colors.get(str(value).lower() if isinstance(value, bool) else str(value), self.default)

    def is_overdue(self, props: Mapping[str, Any], today: dt.date) -> bool:
        """Whether the ``due`` date has passed (never, without a due attribute or date)."""
        if self.due is None or not props.get(self.due):
            return False
        return str(props[self.due])[:10] < today.isoformat()


@dataclass(frozen=True)
class ChildTable:
    """Records that belong to one asset (e.g. water-quality tests of a site)."""

    name: str
    zh: str
    en: str
    attrs: tuple[Attr, ...]


@dataclass(frozen=True)
class Measure:
    """A campaign figure counted from the records, never typed (targets are set against it).

    An asset counts in a year when its ``date`` attribute falls in that year (for
    ``child``: when one of its child records' ``date`` does) and every ``where``
    attribute has the given value; ``total`` sums that attribute instead of counting
    assets (parking bays: the capacity). ``date`` may be ``created_at`` (when the
    registry recorded the asset).
    """

    name: str
    zh: str
    en: str
    date: str
    where: tuple[tuple[str, Any], ...] = ()
    total: str | None = None
    child: str | None = None
    unit_zh: str = "个"
    unit_en: str = ""
    # "opened" / "closed": the month's hazards opened and closed, listed by the monthly
    # report (月报), are the assets this measure counts
    report_event: str | None = None
    # Statuses in which every asset should carry ``date`` (a bay in use has opened on
    # some day): one that lacks it falls in no period, so the dashboard and the report
    # say how many are left out instead of silently counting less. Empty: a missing
    # date is normal (a hazard not closed yet has no closing date).
    dated_statuses: tuple[str, ...] = ()

    def label(self, lang: str = "zh") -> str:
        """Name of the figure in ``zh`` or ``en``."""
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Flag:
    """An everyday yes/no question about an asset, offered as ``<name>=true`` in
    ``/api/search``, counted on the dashboard and drawn on the map.

    Flagged when every condition holds: ``overdue`` names a date attribute that lies
    before today (``missing_is_due``: a missing date counts as due), ``where`` holds
    attribute values, and the status is one of ``statuses`` (when given).
    """

    name: str
    zh: str
    en: str
    overdue: str | None = None
    missing_is_due: bool = False
    # overdue on the layer's own workflow deadline (computed from the records, as
    # /api/search?overdue=true and the asset file say), instead of a date attribute
    deadline: bool = False
    where: tuple[tuple[str, Any], ...] = ()
    statuses: tuple[str, ...] = ()

    def label(self, lang: str = "zh") -> str:
        """Name of the question in ``zh`` or ``en``."""
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class RaisedHazard:
    """How an inspection raises a hazard in this layer: a new asset at the inspected
    asset's location, linked to the inspection, entering the layer's workflow at its
    first step (dated and signed by the inspection).

    ``fields`` are what the inspector gives (e.g. a risk grade); ``copy`` attributes are
    taken from the inspected asset when it has them (its road); ``defaults`` fill the
    rest (found by inspection); ``from_layers`` limits whose inspections may raise one
    (empty: any layer's).
    """

    fields: tuple[str, ...] = ()
    copy: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    from_layers: tuple[str, ...] = ()

    def accepts(self, layer: str) -> bool:
        """Whether an inspection of ``layer`` may raise this hazard."""
        return not self.from_layers or layer in self.from_layers


Validator = Callable[[Mapping[str, Any], Any], list[Problem]]


@dataclass(frozen=True)
class LayerSpec:
    """Everything the registry knows about one asset layer.

    ``name`` is the table name, the API collection id and the import target.
    ``geometry_types`` are OGC simple-feature names (``Point``, ``LineString``,
    ``Polygon``), the same the database CHECK constraint allows.
    """

    name: str
    zh: str
    en: str
    geometry_types: tuple[str, ...]
    code_prefix: str
    statuses: tuple[Choice, ...]
    attrs: tuple[Attr, ...]
    style: Style
    children: tuple[ChildTable, ...] = ()
    validate: Validator | None = field(default=None, compare=False)
    # Fields a LIFECYCLE permission may change on its own (e.g. an officer closing a
    # hazard), without the right to edit the asset otherwise.
    lifecycle_fields: frozenset[str] = frozenset()
    # Most vertices one geometry may have: a street-scale asset needs hundreds, and a
    # million-vertex shape would hold the service (parsing, validity, tiles).
    max_vertices: int = 10_000
    # Who may write this layer: role name → actions ("create", "update", "delete",
    # "import", "inspect", "lifecycle"; see registry.permissions). Every role reads
    # every layer and admins may do everything, so only the other grants are declared.
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False, compare=False)
    # Which attributes (besides the common ones) serve which everyday question:
    # matched by free-text search (the code always is), by the owner filter (the
    # responsible unit always is), offered as value filters on the map and in
    # /api/search (the status always is), and written into map tiles to style and
    # label features (code, status and the style's attributes always are).
    text_search: tuple[str, ...] = ()
    owner_search: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    map_attrs: tuple[str, ...] = ()
    # Campaign figures counted from this layer's records (targets are set against
    # them), and yes/no questions offered as search filters and dashboard counts.
    measures: tuple[Measure, ...] = ()
    flags: tuple[Flag, ...] = ()
    # The campaign this layer's assets go through (steps, requirements, who, deadlines;
    # registry.workflow); its status then changes only by steps and reopens.
    workflow: Workflow | None = field(default=None, hash=False, compare=False)
    # Plausibility: the largest area (m²) one asset of this layer can have; a bigger
    # one is a wrong CRS or unit, refused by the importer with a reason.
    max_area_m2: float | None = None
    # Shapes that must not overlap: the SQL function (sql/) listing the assets a
    # geometry overlaps, as the layer's write trigger uses it — ``f(geom, exclude
    # uuid, exclude_code text) → (id, code, status, kind, overlap, overlap_m2)`` —
    # and the statuses exempt from the rule (a planned zone may overlap).
    overlap_function: str | None = None
    overlap_exempt: tuple[str, ...] = ()
    # What an inspection's outcome may set on the asset (attributes with choices: a
    # manhole's condition), through the store like any edit, the inspection the reason.
    inspection_sets: tuple[str, ...] = ()
    # This layer takes hazards raised by inspections (of any layer's asset, or of
    # ``from_layers``): a road void found at an inspected manhole.
    raised_by_inspection: RaisedHazard | None = None

    def __post_init__(self) -> None:
        names = {a.name for a in self.all_attrs}
        for what in ("text_search", "owner_search", "filters", "map_attrs"):
            unknown = [n for n in getattr(self, what) if n not in names]
            if unknown:
                raise ValueError(f"layer {self.name!r}: {what} names unknown attributes {unknown}")
        self._check_measures_and_flags(names)
        self._check_inspection_outcomes(names)
        if self.workflow is not None:
            self.workflow.check(self)

    def _check_measures_and_flags(self, names: set[str]) -> None:
        """A measure or flag naming an unknown attribute would fail only at query time."""
        for m in self.measures:
            child = next((c for c in self.children if c.name == m.child), None)
            if m.child and child is None:
                raise ValueError(f"layer {self.name!r}: measure {m.name!r} names unknown child {m.child!r}")
            dated = {a.name for a in child.attrs} if child else names | {"created_at"}
            used = [m.date, *(k for k, _ in m.where), *([m.total] if m.total else [])]
            unknown = [n for n in used if n not in names | dated]
            if unknown or m.date not in dated:
                raise ValueError(f"layer {self.name!r}: measure {m.name!r} names unknown attributes")
            if set(m.dated_statuses) - {c.code for c in self.statuses} or (m.dated_statuses and m.child):
                raise ValueError(f"layer {self.name!r}: measure {m.name!r} names unknown dated_statuses")
        for f in self.flags:
            used = [*([f.overdue] if f.overdue else []), *(k for k, _ in f.where)]
            if [n for n in used if n not in names]:
                raise ValueError(f"layer {self.name!r}: flag {f.name!r} names unknown attributes")
            if set(f.statuses) - {c.code for c in self.statuses}:
                raise ValueError(f"layer {self.name!r}: flag {f.name!r} names unknown statuses")

    def _check_inspection_outcomes(self, names: set[str]) -> None:
        """An outcome naming an unknown (or choice-less, or computed) attribute would
        fail only when an officer records it."""
        for n in self.inspection_sets:
            attr = next((a for a in self.all_attrs if a.name == n), None)
            if attr is None or not attr.choices or attr.computed or n == "status":
                raise ValueError(f"layer {self.name!r}: inspection_sets names {n!r}, not a settable choice")
        r = self.raised_by_inspection
        if r is not None:
            used = [*r.fields, *r.copy, *(k for k, _ in r.defaults)]
            unknown = [n for n in used if n not in names or n in ("code", "status")]
            if unknown:
                raise ValueError(f"layer {self.name!r}: raised_by_inspection names {unknown}")

    @property
    def text_search_attrs(self) -> tuple[str, ...]:
        """Attributes a free-text search (``q``) matches."""
        return ("code", *self.text_search)

    @property
    def owner_search_attrs(self) -> tuple[str, ...]:
        """Attributes the owner/responsible-unit filter matches."""
        return ("responsible_unit", *self.owner_search)

    @property
    def filter_attrs(self) -> tuple[str, ...]:
        """Attributes offered as value filters (each has choices)."""
        return ("status", *self.filters)

    @property
    def tile_attrs(self) -> tuple[str, ...]:
        """Properties written into vector tiles (beyond ``id``)."""
        wanted = ["code", "status", *self.map_attrs]
        names = {a.name for a in self.all_attrs}
        for styling in (self.style.by, self.style.label, self.style.due):
            if styling and styling in names and styling not in wanted:
                wanted.append(styling)
        return tuple(wanted)

    @property
    def common_attrs(self) -> tuple[Attr, ...]:
        """The shared columns every asset has, with this layer's status values."""
        return (
            Attr(
                "code",
                AttrType.TEXT,
                "编号",
                "Code",
                required=True,
                aliases=("编码", "code", "id", "asset_code", "编号", "编码/编号", "bh"),
                max_length=64,
            ),
            Attr(
                "status",
                AttrType.TEXT,
                "状态",
                "Status",
                required=True,
                choices=self.statuses,
                aliases=("状态", "status", "state"),
            ),
            Attr(
                "responsible_unit",
                AttrType.TEXT,
                "责任单位",
                "Responsible unit",
                aliases=(
                    "权属单位",
                    "责任单位",
                    "权属/责任单位",
                    "owner",
                    "responsible_unit",
                    "responsible",
                    "管理单位",
                ),
                max_length=200,
            ),
            Attr(
                "notes",
                AttrType.TEXT,
                "备注",
                "Notes",
                aliases=("备注", "notes", "note", "remark"),
                max_length=4000,
            ),
        )

    def __hash__(self) -> int:
        """The name: specs key the per-layer caches of the hot read paths, and the
        generated hash walked every nested declaration on each lookup (about 15 us,
        issue 13). Equal specs have equal names, so equality still decides."""
        return hash(self.name)

    @property
    def all_attrs(self) -> tuple[Attr, ...]:
        """Common then layer-specific attributes."""
        return self.common_attrs + self.attrs

    def attr(self, name: str) -> Attr:
        """The attribute of that name (KeyError names the layer when absent)."""
        for a in self.all_attrs:
            if a.name == name:
                return a
        raise KeyError(f"layer {self.name!r} has no attribute {name!r}")

    def attr_zh(self, name: str) -> str:
        """An attribute as a Chinese message names it: its label, else its name (a name a
        user sent that the layer does not have)."""
        attr = next((a for a in self.all_attrs if a.name == name), None)
        return attr.zh if attr is not None else name

    @property
    def writable_attrs(self) -> tuple[Attr, ...]:
        """Attributes a client may set."""
        return tuple(a for a in self.all_attrs if not a.computed)
