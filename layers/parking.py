"""Parking bays and zones (停车泊位/停车区), drawn by planners as polygons."""

from __future__ import annotations

from registry.spec import Attr, AttrType, Choice, LayerSpec, Measure, Style

T, INT = AttrType.TEXT, AttrType.INTEGER

PARKING = LayerSpec(
    name="parking",
    zh="停车泊位",
    en="Parking",
    geometry_types=("Polygon",),
    code_prefix="TC",
    statuses=(
        Choice("planned", "规划", "Planned"),
        Choice("in_use", "在用", "In use"),
        Choice("suspended", "暂停使用", "Suspended"),
    ),
    attrs=(
        Attr(
            "kind",
            T,
            "类型",
            "Kind",
            required=True,
            choices=(
                Choice("on_street_bay", "路内泊位", "On-street bay"),
                Choice("off_street_lot", "路外停车场", "Off-street lot"),
                Choice("temporary_zone", "临时停车区", "Temporary zone"),
            ),
            aliases=("类型", "泊位类型", "kind", "type"),
        ),
        Attr("name", T, "名称", "Name", aliases=("名称", "停车场名称", "name")),
        Attr("road_name", T, "所在道路", "Road", aliases=("所在道路", "道路名称", "道路", "road")),
        Attr(
            "capacity",
            INT,
            "泊位数",
            "Capacity",
            min=0,
            max=20000,
            unit="个",
            aliases=("泊位数", "车位数", "容量", "capacity"),
            shared_by_area=True,
        ),
        Attr(
            "vehicle_type",
            T,
            "车型",
            "Vehicle type",
            choices=(
                Choice("car", "小型汽车", "Car"),
                Choice("large", "大型车", "Large vehicle"),
                Choice("motorcycle", "摩托车/电动车", "Motorcycle / e-bike"),
                Choice("bicycle", "非机动车", "Bicycle"),
                Choice("mixed", "混合", "Mixed"),
            ),
            aliases=("车型", "车辆类型", "vehicle_type"),
        ),
        Attr(
            "charging_points",
            INT,
            "充电桩数",
            "Charging points",
            min=0,
            aliases=("充电桩", "充电桩数", "charging_points"),
        ),
        Attr("fee_rule", T, "收费标准", "Fee rule", aliases=("收费标准", "收费", "fee", "fee_rule")),
        Attr("operator", T, "运营单位", "Operator", aliases=("运营单位", "运营方", "operator")),
        # The day the bay or lot came into use (设置/启用): what "bays added" counts, not
        # the day the registry recorded it (a survey of last year's car parks imported
        # today must not count as this month's new bays).
        Attr(
            "opened_on",
            AttrType.DATE,
            "启用日期",
            "Opened on",
            aliases=("启用日期", "启用时间", "设置日期", "开放日期", "投用日期", "opened_on", "open_date"),
        ),
        Attr("area_m2", AttrType.NUMBER, "面积", "Area", unit="m²", computed=True),
    ),
    style=Style(by="status", colors={"planned": "#9e9ac8", "in_use": "#3182bd", "suspended": "#bdbdbd"}),
    grants={"planner": frozenset({"create", "update", "delete"}), "officer": frozenset({"inspect"})},
    # A zone of more than 20 ha is a wrong CRS or unit, not a car park.
    max_area_m2=200_000,
    overlap_function="parking_overlaps",
    overlap_exempt=("planned",),
    text_search=("name", "road_name"),
    owner_search=("operator",),
    filters=("kind",),
    map_attrs=("kind", "name", "road_name"),
    measures=(
        # bays that came into use in the period; a bay in use (or suspended, so once in
        # use) without an opening date is in no period, and the figures say how many
        Measure(
            "bays_added",
            "新增泊位",
            "Parking bays added",
            date="opened_on",
            total="capacity",
            unit_zh="个",
            dated_statuses=("in_use", "suspended"),
        ),
    ),
)
