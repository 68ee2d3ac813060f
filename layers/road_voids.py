"""Road voids (道路脱空/空洞隐患): one hazard, one file (一患一档), tracked from
discovery to closure (排查—确权—整治—销号)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.messages import problem
from registry.spec import Attr, AttrType, Choice, Flag, LayerSpec, Measure, Problem, RaisedHazard, Style
from registry.workflow import Deadline, Step, Workflow

T, N, D = AttrType.TEXT, AttrType.NUMBER, AttrType.DATE

STAGES = (
    Choice("found", "排查发现", "Found"),
    Choice("assigned", "已确权", "Responsibility assigned"),
    Choice("remediating", "整治中", "Being remediated"),
    Choice("remediated", "已整治", "Remediated"),
    Choice("closed", "已销号", "Closed"),
)
GRADES = (
    Choice("I", "Ⅰ级（最严重）", "Grade I (most severe)"),
    Choice("II", "Ⅱ级", "Grade II"),
    Choice("III", "Ⅲ级", "Grade III"),
    Choice("IV", "Ⅳ级", "Grade IV"),
)
REMEDIATION_METHODS = (
    Choice("grouting", "注浆加固", "Grouting"),
    Choice("excavation_backfill", "开挖回填", "Excavation and backfill"),
    Choice("replacement", "换填处理", "Replacement"),
    Choice("other", "其他", "Other"),
)
METHODS = (
    Choice("gpr", "探地雷达", "Ground-penetrating radar"),
    Choice("borehole", "钻孔验证", "Borehole verification"),
    Choice("endoscope", "内窥检测", "Borehole endoscope"),
    Choice("visual", "人工巡查", "Visual inspection"),
    Choice("other", "其他", "Other"),
)

# Each stage after "found" needs its date and the person who moved it there.
_STEP_FIELDS = {
    "found": ("found_on", "found_by"),
    "assigned": ("assigned_on", "assigned_by"),
    "remediated": ("remediated_on", "remediated_by"),
    "closed": ("closed_on", "closed_by"),
}


def _lifecycle_rules(props: Mapping[str, Any], _geom: Any) -> list[Problem]:
    """A stage implies the dates of every step up to it, in order."""
    problems: list[Problem] = []
    reached = [c.code for c in STAGES]
    stage = props.get("status")
    if stage not in reached:
        return problems
    previous = None
    for step in reached[: reached.index(stage) + 1]:
        if step not in _STEP_FIELDS:
            continue  # 整治中 has no date of its own
        date_field, _by = _STEP_FIELDS[step]
        day = props.get(date_field)
        if day is None:
            labels = {c.code: c.zh for c in STAGES}
            problems.append(
                problem(
                    date_field,
                    "stage_requires_date",
                    stage=stage,
                    step=step,
                    stage_zh=labels[stage],
                    step_zh=labels[step],
                )
            )
        elif previous is not None and day < previous:
            problems.append(problem(date_field, "lifecycle_backwards", day))
        previous = day or previous
    return problems


ROAD_VOIDS = LayerSpec(
    name="road_voids",
    zh="道路脱空隐患",
    en="Road voids",
    geometry_types=("Point",),
    code_prefix="KD",
    statuses=STAGES,
    attrs=(
        Attr(
            "road_name",
            T,
            "道路名称",
            "Road",
            required=True,
            aliases=("道路名称", "道路", "路名", "所在道路", "road", "road_name"),
        ),
        Attr(
            "location_desc",
            T,
            "位置描述",
            "Location",
            aliases=("位置", "位置描述", "具体位置", "location", "location_desc"),
        ),
        Attr(
            "length_m",
            N,
            "长度",
            "Length",
            min=0,
            unit="m",
            aliases=("长度", "长", "长度(m)", "length", "length_m"),
        ),
        Attr(
            "width_m",
            N,
            "宽度",
            "Width",
            min=0,
            unit="m",
            aliases=("宽度", "宽", "宽度(m)", "width", "width_m"),
        ),
        Attr("area_m2", N, "面积", "Area", unit="m²", computed=True),
        Attr(
            "cover_depth_m",
            N,
            "顶板埋深",
            "Cover depth to top",
            min=0,
            unit="m",
            aliases=("埋深", "顶板埋深", "覆土厚度", "埋深(m)", "depth", "cover_depth_m"),
        ),
        Attr(
            "void_height_m",
            N,
            "脱空净高",
            "Void height",
            min=0,
            unit="m",
            aliases=("净高", "脱空高度", "空洞高度", "高度", "height", "void_height_m"),
        ),
        Attr(
            "surroundings",
            T,
            "周边环境",
            "Surroundings",
            aliases=("周边环境", "周边", "surroundings"),
        ),
        Attr(
            "detection_method",
            T,
            "探测方法",
            "Detection method",
            choices=METHODS,
            aliases=("探测方法", "检测方法", "method", "detection_method"),
        ),
        Attr(
            "detected_on",
            D,
            "探测日期",
            "Detection date",
            aliases=("探测日期", "检测日期", "detected_on", "detection_date"),
        ),
        Attr(
            "risk_grade",
            T,
            "风险等级",
            "Risk grade",
            required=True,
            choices=GRADES,
            aliases=("风险等级", "等级", "隐患等级", "grade", "risk_grade"),
        ),
        Attr("found_on", D, "排查日期", "Found on", aliases=("排查日期", "发现日期", "found_on")),
        Attr("found_by", T, "排查人", "Found by", aliases=("排查人", "发现人", "found_by")),
        Attr("assigned_on", D, "确权日期", "Assigned on", aliases=("确权日期", "assigned_on")),
        Attr("assigned_by", T, "确权人", "Assigned by", aliases=("确权人", "assigned_by")),
        Attr(
            "remediated_on",
            D,
            "整治日期",
            "Remediated on",
            aliases=("整治日期", "整改日期", "remediated_on"),
        ),
        Attr("remediated_by", T, "整治人", "Remediated by", aliases=("整治人", "remediated_by")),
        Attr(
            "remediation_method",
            T,
            "整治方式",
            "Remediation method",
            choices=REMEDIATION_METHODS,
            aliases=("整治方式", "整治方法", "处置方式", "remediation_method"),
        ),
        Attr(
            "remediation_contractor",
            T,
            "施工单位",
            "Contractor",
            aliases=("施工单位", "整治单位", "contractor", "remediation_contractor"),
            max_length=200,
        ),
        Attr("closed_on", D, "销号日期", "Closed on", aliases=("销号日期", "closed_on")),
        Attr("closed_by", T, "销号人", "Closed by", aliases=("销号人", "closed_by")),
        Attr(
            "remediation_deadline",
            D,
            "整治期限",
            "Remediation deadline",
            aliases=("整治期限", "整改期限", "deadline", "remediation_deadline"),
        ),
    ),
    style=Style(
        by="risk_grade",
        colors={"I": "#b10026", "II": "#fc4e2a", "III": "#feb24c", "IV": "#ffeda0"},
        radius=6,
    ),
    validate=_lifecycle_rules,
    lifecycle_fields=frozenset(
        {"status", "remediation_deadline", "notes", "remediation_method", "remediation_contractor"}
        | {f for pair in _STEP_FIELDS.values() for f in pair}
    ),
    # 排查—确权—整治—销号: each step by a named person with its evidence, remediation
    # within days set by the risk grade; whoever recorded the remediation does not verify it.
    workflow=Workflow(
        zh="排查—确权—整治—销号",
        en="Found — assigned — remediated — closed",
        steps=(
            Step("found", "排查发现", "Found", date_field="found_on", by_field="found_by"),
            Step(
                "assigned",
                "确权",
                "Assign responsibility",
                fields=("responsible_unit",),
                date_field="assigned_on",
                by_field="assigned_by",
            ),
            Step("remediating", "开始整治", "Start remediation"),
            Step(
                "remediated",
                "整治完成",
                "Record the remediation",
                fields=("remediation_method", "remediated_on", "remediation_contractor"),
                photos=1,
                date_field="remediated_on",
                by_field="remediated_by",
            ),
            Step(
                "closed",
                "销号",
                "Verify and close",
                other_than="remediated",
                date_field="closed_on",
                by_field="closed_by",
            ),
        ),
        deadlines=(
            Deadline("found", "assigned", days=7),
            Deadline(
                "assigned",
                "remediated",
                grade_attr="risk_grade",
                days_by={"I": 7, "II": 15, "III": 30, "IV": 60},
            ),
            Deadline("remediated", "closed", days=15),
        ),
    ),
    grants={
        "surveyor": frozenset({"create", "update", "import"}),
        "officer": frozenset({"lifecycle", "inspect"}),
    },
    text_search=("road_name", "location_desc"),
    # an inspection of any asset (a sunken manhole, a cracked road by a market) can raise
    # a void hazard at its location: 排查发现 on the inspection's day, by its inspector
    raised_by_inspection=RaisedHazard(
        fields=("risk_grade", "road_name", "location_desc"),
        copy=("road_name",),
        defaults=(("detection_method", "visual"),),
    ),
    filters=("risk_grade",),
    map_attrs=("risk_grade", "road_name"),
    measures=(
        Measure("found", "隐患排查", "Hazards found", date="found_on", unit_zh="处", report_event="opened"),
        Measure(
            "closed", "隐患销号", "Hazards closed", date="closed_on", unit_zh="处", report_event="closed"
        ),
    ),
    flags=(
        Flag(
            "deadline_overdue",
            "整治逾期",
            "Remediation overdue",
            # the workflow's own deadline by grade (排查→确权, 确权→整治, …), from the records
            deadline=True,
        ),
    ),
)
