"""Manholes (窨井设施), by owner network, with the cover state the bureau remediates."""

from __future__ import annotations

from registry.permissions import SURVEY_GRANTS
from registry.spec import Attr, AttrType, Choice, LayerSpec, Measure, Style
from registry.workflow import Deadline, Step, Workflow

T = AttrType.TEXT

KINDS = (
    Choice("water_supply", "上水", "Water supply"),
    Choice("sewage", "污水", "Sewage"),
    Choice("rain", "雨水", "Rainwater"),
    Choice("power", "电力", "Power"),
    Choice("telecom", "通信", "Telecom"),
    Choice("gas", "燃气", "Gas"),
    Choice("heat", "热力", "Heating"),
    Choice("street_lighting", "路灯", "Street lighting"),
    Choice("traffic", "交通", "Traffic"),
    Choice("other", "其他", "Other"),
)
MATERIALS = (
    Choice("cast_iron", "铸铁", "Cast iron"),
    Choice("ductile_iron", "球墨铸铁", "Ductile iron"),
    Choice("composite", "复合材料", "Composite"),
    Choice("concrete", "钢筋混凝土", "Reinforced concrete"),
    Choice("steel", "钢", "Steel"),
    Choice("other", "其他", "Other"),
)
CONDITIONS = (
    Choice("intact", "完好", "Intact"),
    Choice("damaged", "破损", "Damaged"),
    Choice("missing", "缺失", "Missing"),
    Choice("sunken", "沉陷", "Sunken"),
    Choice("rattling", "异响松动", "Rattling"),
)

MANHOLES = LayerSpec(
    name="manholes",
    zh="窨井设施",
    en="Manholes",
    geometry_types=("Point",),
    code_prefix="JG",
    statuses=(
        Choice("in_service", "在用", "In service"),
        Choice("pending", "待整治", "Awaiting remediation"),
        Choice("remediated", "已整治", "Remediated"),
        Choice("accepted", "已验收", "Accepted"),
        Choice("decommissioned", "已废弃", "Decommissioned"),
    ),
    attrs=(
        Attr(
            "kind",
            T,
            "井类",
            "Network",
            required=True,
            choices=KINDS,
            aliases=("井类", "类别", "类型", "管线类别", "kind", "type"),
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
            "cover_material",
            T,
            "井盖材质",
            "Cover material",
            choices=MATERIALS,
            aliases=("井盖材质", "材质", "material", "cover_material"),
        ),
        Attr(
            "cover_size_mm",
            AttrType.INTEGER,
            "井盖尺寸",
            "Cover size",
            min=0,
            max=3000,
            unit="mm",
            aliases=("井盖尺寸", "尺寸", "规格", "size", "cover_size_mm"),
        ),
        Attr(
            "anti_fall_net",
            AttrType.BOOLEAN,
            "防坠网",
            "Anti-fall net",
            aliases=("防坠网", "防坠设施", "anti_fall_net", "net"),
        ),
        Attr(
            "condition",
            T,
            "井盖状况",
            "Condition",
            required=True,
            choices=CONDITIONS,
            aliases=("井盖状况", "状况", "病害", "condition"),
        ),
        Attr(
            "remediated_on",
            AttrType.DATE,
            "整治日期",
            "Remediated on",
            aliases=("整治日期", "整改日期", "remediated_on"),
        ),
    ),
    style=Style(
        by="condition",
        colors={
            "intact": "#1a9850",
            "damaged": "#fdae61",
            "missing": "#d73027",
            "sunken": "#f46d43",
            "rattling": "#fee08b",
        },
        radius=4,
    ),
    grants={**SURVEY_GRANTS, "officer": frozenset({"inspect"})},
    text_search=("road_name",),
    owner_search=("owner_unit",),
    filters=("kind", "condition"),
    map_attrs=("kind", "condition", "road_name"),
    # an officer's inspection finds a cover broken, missing, sunken or rattling (or put right)
    inspection_sets=("condition",),
    # 排查 → 整改 → 验收; in service and decommissioned are off the campaign's track.
    workflow=Workflow(
        zh="排查—整改—验收",
        en="Survey — remediate — accept",
        steps=(
            Step("pending", "排查", "Survey: needs remediation", roles=("surveyor", "officer")),
            Step(
                "remediated",
                "整改",
                "Remediate",
                photos=1,
                date_field="remediated_on",
                roles=("surveyor", "officer"),
            ),
            Step("accepted", "验收", "Accept", other_than="remediated", roles=("officer",)),
        ),
        deadlines=(Deadline("pending", "remediated", days=30), Deadline("remediated", "accepted", days=15)),
    ),
    measures=(Measure("remediated", "窨井整治", "Manholes remediated", date="remediated_on", unit_zh="座"),),
)
