"""Markets and stalls (市场摊点): roadside markets, seasonal fairs, convenience zones,
kiosks; a point for a stall, a polygon for an area."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.messages import problem
from registry.permissions import SURVEY_GRANTS
from registry.spec import Attr, AttrType, Choice, LayerSpec, Measure, Problem, Style
from registry.workflow import Deadline, Step, Workflow

T = AttrType.TEXT

KINDS = (
    Choice("roadside_market", "马路市场", "Roadside market"),
    Choice("spring_fair", "春节大集", "Spring Festival fair"),
    Choice("flexible_sale_point", "年货销售点", "Flexible sale point"),
    Choice("convenience_zone", "便民疏导区", "Convenience zone"),
    Choice("fruit_veg_stall_area", "果蔬临时销售点", "Fruit and vegetable stall area"),
    Choice("night_market", "夜市", "Night market"),
    Choice("kiosk_station", "城管岗亭/环卫驿站", "Kiosk / sanitation station"),
)


def _season_in_order(props: Mapping[str, Any], _geom: Any) -> list[Problem]:
    start, end = props.get("valid_from"), props.get("valid_to")
    if start and end and end < start:
        return [problem("valid_to", "season_order", end)]
    return []


MARKETS = LayerSpec(
    name="markets",
    zh="市场摊点",
    en="Markets and stalls",
    geometry_types=("Point", "Polygon"),
    code_prefix="SC",
    statuses=(
        Choice("planned", "规划", "Planned"),
        Choice("active", "开放", "Open"),
        Choice("regulated", "已规范", "Regulated"),
        Choice("suspended", "暂停", "Suspended"),
        Choice("closed", "已关闭", "Closed"),
    ),
    attrs=(
        Attr(
            "kind",
            T,
            "类型",
            "Kind",
            required=True,
            choices=KINDS,
            aliases=("类型", "市场类型", "kind", "type"),
        ),
        Attr("name", T, "名称", "Name", required=True, aliases=("名称", "市场名称", "name")),
        Attr("road_name", T, "所在道路", "Road", aliases=("所在道路", "道路名称", "道路", "road")),
        Attr(
            "stall_count",
            AttrType.INTEGER,
            "摊位数",
            "Stalls",
            min=0,
            max=10000,
            aliases=("摊位数", "摊位", "stalls", "stall_count"),
        ),
        Attr(
            "opening_hours",
            T,
            "营业时间",
            "Opening hours",
            aliases=("营业时间", "开放时间", "opening_hours", "hours"),
        ),
        Attr(
            "valid_from",
            AttrType.DATE,
            "开始日期",
            "Valid from",
            aliases=("开始日期", "起始日期", "valid_from"),
        ),
        Attr(
            "valid_to",
            AttrType.DATE,
            "结束日期",
            "Valid to",
            aliases=("结束日期", "截止日期", "valid_to"),
        ),
        Attr(
            "managing_unit",
            T,
            "管理单位",
            "Managing unit",
            aliases=("管理单位", "管理部门", "managing_unit"),
        ),
        # The day the bureau registered (登记/备案) the market or stall: what 登记市场摊点
        # counts, not the day the registry recorded the row (a survey of last year's
        # stalls imported today must not count as this month's registrations).
        Attr(
            "registered_on",
            AttrType.DATE,
            "登记日期",
            "Registered on",
            aliases=("登记日期", "登记时间", "备案日期", "备案时间", "registered_on", "registration_date"),
        ),
    ),
    style=Style(
        by="kind",
        colors={
            "roadside_market": "#e7298a",
            "spring_fair": "#d95f02",
            "flexible_sale_point": "#fdae6b",
            "convenience_zone": "#1b9e77",
            "fruit_veg_stall_area": "#66a61e",
            "night_market": "#7570b3",
            "kiosk_station": "#666666",
        },
    ),
    validate=_season_in_order,
    # The largest fairs fill a few streets; hundreds of km² is a wrong CRS or unit.
    max_area_m2=500_000,
    grants={**SURVEY_GRANTS, "officer": frozenset({"inspect"})},
    text_search=("name", "road_name"),
    owner_search=("managing_unit",),
    filters=("kind",),
    map_attrs=("kind", "name", "road_name"),
    # 设置 → 规范 → 撤销; planned and suspended are off the campaign's track.
    workflow=Workflow(
        zh="设置—规范—撤销",
        en="Set up — regulate — revoke",
        steps=(
            Step("active", "设置", "Set up", roles=("surveyor", "officer")),
            Step("regulated", "规范", "Regulate", fields=("managing_unit",), photos=1, roles=("officer",)),
            Step("closed", "撤销", "Revoke", roles=("officer",)),
        ),
        deadlines=(Deadline("active", "regulated", days=30),),
    ),
    measures=(
        # markets and stalls (one row each, point or area) registered in the period; one
        # that was ever set up (open, regulated, suspended or closed since) was registered
        # on some day, and without that date it is in no period: the figures say how many
        Measure(
            "recorded",
            "登记市场摊点",
            "Markets and stalls recorded",
            date="registered_on",
            unit_zh="处",
            dated_statuses=("active", "regulated", "suspended", "closed"),
        ),
    ),
)
