"""Poles and overhead wires (杆线): poles are points, wires are lines; abandoned
poles, abandoned wires and flying wires (飞线) are what the bureau clears."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.messages import problem
from registry.permissions import SURVEY_GRANTS
from registry.spec import Attr, AttrType, Choice, LayerSpec, Measure, Problem, Style
from registry.workflow import Deadline, Step, Workflow

T = AttrType.TEXT

ELEMENTS = (Choice("pole", "杆", "Pole"), Choice("wire", "线", "Wire"))
KINDS = (
    Choice("power", "电力", "Power"),
    Choice("telecom", "通信", "Telecom"),
    Choice("street_light", "路灯", "Street light"),
    Choice("cctv", "监控", "CCTV"),
    Choice("sign", "标志标牌", "Sign"),
    Choice("multi_function", "多功能杆", "Multi-function"),
)
_GEOMETRY_OF = {"pole": "Point", "wire": "LineString"}
_GEOMETRY_ZH = {"Point": "点", "LineString": "线"}


def _element_matches_geometry(props: Mapping[str, Any], geom: Any) -> list[Problem]:
    problems = []
    element = props.get("element")
    if geom is not None and element in _GEOMETRY_OF and geom.geom_type != _GEOMETRY_OF[element]:
        want = _GEOMETRY_OF[element]
        problems.append(
            problem(
                "geometry",
                "element_geometry",
                element=element,
                geometry=want,
                element_zh=next(c.zh for c in ELEMENTS if c.code == element),
                geometry_zh=_GEOMETRY_ZH[want],
            )
        )
    if props.get("flying_wire") and element == "pole":
        problems.append(problem("flying_wire", "flying_wire_not_pole"))
    if props.get("status") == "removed" and not props.get("removed_on"):
        problems.append(problem("removed_on", "removed_needs_date"))
    return problems


POLES_WIRES = LayerSpec(
    name="poles_wires",
    zh="杆线",
    en="Poles and wires",
    geometry_types=("Point", "LineString"),
    code_prefix="GX",
    statuses=(
        Choice("in_use", "在用", "In use"),
        Choice("abandoned", "废弃", "Abandoned"),
        Choice("removed", "已拆除", "Removed"),
        Choice("accepted", "已验收", "Accepted"),
    ),
    attrs=(
        Attr(
            "element",
            T,
            "要素",
            "Element",
            required=True,
            choices=ELEMENTS,
            aliases=("要素", "杆/线", "element"),
        ),
        Attr(
            "kind",
            T,
            "类别",
            "Kind",
            required=True,
            choices=KINDS,
            aliases=("类别", "杆线类别", "类型", "kind", "type"),
        ),
        Attr(
            "owner_unit",
            T,
            "权属单位",
            "Owner",
            aliases=("权属单位", "权属", "owner", "owner_unit"),
        ),
        Attr("road_name", T, "所在道路", "Road", aliases=("所在道路", "道路名称", "道路", "road")),
        Attr(
            "height_m",
            AttrType.NUMBER,
            "杆高",
            "Height",
            min=0,
            max=60,
            unit="m",
            aliases=("杆高", "高度", "height", "height_m"),
        ),
        Attr(
            "flying_wire",
            AttrType.BOOLEAN,
            "飞线",
            "Flying wire",
            aliases=("飞线", "是否飞线", "flying_wire"),
        ),
        Attr(
            "removed_on",
            AttrType.DATE,
            "拆除日期",
            "Removed on",
            aliases=("拆除日期", "清理日期", "removed_on"),
        ),
        Attr("length_m", AttrType.NUMBER, "长度", "Length", unit="m", computed=True),
    ),
    style=Style(
        by="status",
        colors={"in_use": "#2c7bb6", "abandoned": "#d7191c", "removed": "#999999"},
        radius=4,
    ),
    validate=_element_matches_geometry,
    grants={**SURVEY_GRANTS, "officer": frozenset({"inspect"})},
    text_search=("road_name",),
    owner_search=("owner_unit",),
    filters=("element", "kind"),
    map_attrs=("element", "kind", "road_name"),
    # 排查 (abandoned or flying: to clear) → 清理/规整 (removed, with its date) → 验收.
    workflow=Workflow(
        zh="排查—清理/规整—验收",
        en="Survey — clear or tidy — accept",
        steps=(
            Step("abandoned", "排查", "Survey: flag for clearing", roles=("surveyor", "officer")),
            Step(
                "removed",
                "清理/规整",
                "Clear or tidy",
                photos=1,
                date_field="removed_on",
                roles=("surveyor", "officer"),
            ),
            Step("accepted", "验收", "Accept", other_than="removed", roles=("officer",)),
        ),
        deadlines=(Deadline("abandoned", "removed", days=30), Deadline("removed", "accepted", days=15)),
    ),
    measures=(
        Measure(
            "cleared",
            "杆线清理（废弃杆、废弃线、飞线）",
            "Poles and wires cleared",
            date="removed_on",
            unit_zh="处",
        ),
        Measure(
            "flying_wires_removed",
            "飞线清理",
            "Flying wires removed",
            date="removed_on",
            where=(("flying_wire", True),),
            unit_zh="条",
        ),
    ),
)
