"""Secondary water supply sites (二次供水) and their water-quality tests, judged
against GB 5749-2022 by the database (never typed as pass/fail)."""

from __future__ import annotations

from registry.spec import Attr, AttrType, ChildTable, Choice, Flag, LayerSpec, Measure, Style

T, N, INT, D, B = AttrType.TEXT, AttrType.NUMBER, AttrType.INTEGER, AttrType.DATE, AttrType.BOOLEAN

# The GB 5749-2022 limits and the test interval (quarterly by default) are not
# repeated here: they live in the database (`water_quality_limits`,
# `water_test_schedule`, sql/0070), which judges every test and dates the next one.

WATER_TESTS = ChildTable(
    name="water_tests",
    zh="水质检测",
    en="Water-quality tests",
    attrs=(
        Attr(
            "tested_on",
            D,
            "检测日期",
            "Test date",
            required=True,
            aliases=("检测日期", "采样日期", "tested_on", "date"),
        ),
        Attr(
            "turbidity_ntu",
            N,
            "浑浊度",
            "Turbidity",
            min=0,
            unit="NTU",
            aliases=("浑浊度", "turbidity", "turbidity_ntu"),
        ),
        Attr(
            "free_chlorine_mg_l",
            N,
            "游离氯",
            "Free chlorine",
            min=0,
            unit="mg/L",
            aliases=("游离氯", "余氯", "free_chlorine", "free_chlorine_mg_l"),
        ),
        Attr(
            "total_coliforms_mpn",
            INT,
            "总大肠菌群",
            "Total coliforms",
            min=0,
            unit="MPN/100mL",
            aliases=("总大肠菌群", "total_coliforms", "total_coliforms_mpn"),
        ),
        Attr(
            "total_bacteria_cfu_ml",
            INT,
            "菌落总数",
            "Total bacteria",
            min=0,
            unit="CFU/mL",
            aliases=("菌落总数", "细菌总数", "total_bacteria", "total_bacteria_cfu_ml"),
        ),
        Attr("ph", N, "pH", "pH", min=0, max=14, aliases=("pH", "ph", "PH值", "pH值")),
        Attr("lab", T, "检测机构", "Laboratory", aliases=("检测机构", "检测单位", "lab")),
        Attr("passed", B, "是否合格", "Passed (GB 5749-2022)", computed=True),
    ),
)

WATER_SUPPLY = LayerSpec(
    name="water_supply",
    zh="二次供水",
    en="Secondary water supply",
    geometry_types=("Point",),
    code_prefix="GS",
    statuses=(
        Choice("in_service", "在用", "In service"),
        Choice("suspended", "停用", "Suspended"),
        Choice("decommissioned", "已撤销", "Decommissioned"),
    ),
    attrs=(
        Attr(
            "compound_name",
            T,
            "小区名称",
            "Compound",
            required=True,
            aliases=("小区名称", "小区", "名称", "compound", "compound_name", "name"),
        ),
        Attr("address", T, "地址", "Address", aliases=("地址", "详细地址", "address")),
        Attr(
            "supply_type",
            T,
            "供水方式",
            "Supply type",
            choices=(
                Choice("roof_tank", "屋顶水箱", "Roof tank"),
                Choice("variable_frequency", "变频加压", "Variable-frequency booster"),
                Choice("pressure_superposed", "叠压供水", "Pressure-superposed"),
            ),
            aliases=("供水方式", "加压方式", "supply_type"),
        ),
        Attr(
            "tank_volume_m3",
            N,
            "水箱容积",
            "Tank volume",
            min=0,
            unit="m³",
            aliases=("水箱容积", "容积", "tank_volume", "tank_volume_m3"),
        ),
        Attr(
            "households",
            INT,
            "供水户数",
            "Households served",
            min=0,
            aliases=("供水户数", "户数", "households"),
        ),
        Attr(
            "managing_unit",
            T,
            "管理单位",
            "Managing unit",
            aliases=("管理单位", "物业单位", "managing_unit"),
        ),
        Attr("last_tested_on", D, "最近检测", "Last test", computed=True),
        Attr("last_test_passed", B, "最近检测合格", "Last test passed", computed=True),
        Attr("next_test_due", D, "下次检测", "Next test due", computed=True),
    ),
    style=Style(
        by="last_test_passed",
        colors={"true": "#1a9850", "false": "#d73027"},
        default="#fee08b",
        due="next_test_due",
    ),
    children=(WATER_TESTS,),
    grants={"surveyor": frozenset({"create", "update", "import"}), "officer": frozenset({"inspect"})},
    text_search=("compound_name", "address"),
    owner_search=("managing_unit",),
    measures=(
        Measure(
            "sites_tested",
            "水质检测小区",
            "Sites tested",
            date="tested_on",
            child="water_tests",
            unit_zh="处",
        ),
    ),
    flags=(
        Flag("water_failing", "最近检测不合格", "Last test failed", where=(("last_test_passed", False),)),
        Flag(
            "test_overdue",
            "水质检测逾期",
            "Water test overdue",
            overdue="next_test_due",
            missing_is_due=True,
            statuses=("in_service",),
        ),
    ),
)
