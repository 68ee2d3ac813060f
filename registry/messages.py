"""Every message a user reads about data (import reports, validation), as a stable code
with parameters, rendered from ONE Chinese/English template table.

Validators create problems with :func:`problem` (``Problem.code`` + ``Problem.params``;
``Problem.message`` holds both languages for callers that show one text). Whoever shows
a problem renders it in the reader's language with :func:`render`: the import report
(API, CLI, upload page), and any other client. A code missing from the table, or a
template whose two languages disagree on the parameters, fails
``tests/importers/test_messages.py``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from registry.spec import Problem

LANGS = ("zh", "en")

# code → (Chinese, English); parameters in str.format braces, the same in both.
MESSAGES: dict[str, tuple[str, str]] = {
    # values
    "required_missing": ("必填字段缺失", "required field is missing"),
    "required_empty": ("必填字段为空", "required field is empty"),
    "not_integer": ("应为整数", "expected a whole number"),
    "integer_range": ("应为 {min} 到 {max} 之间的整数", "expected a whole number between {min} and {max}"),
    "not_text": ("应为文本，而非 JSON 对象或数组", "expected text, not a JSON object or list"),
    "not_finite": ("应为有限数值", "expected a finite number"),
    "not_number": ("应为数字", "expected a number"),
    "not_date": ("应为日期，例如 {example}", "expected a date such as {example}"),
    "not_boolean": ("应为 是/否", "expected yes/no (是/否)"),
    "unreadable_value": ("无法识别的值", "unreadable value"),
    "not_allowed": ("不是允许的取值；允许：{allowed}", "not an allowed value; allowed: {allowed}"),
    "not_allowed_did_you_mean": (
        "不是允许的取值；您是不是要填“{suggestion}”？允许：{allowed}",
        "not an allowed value; did you mean {suggestion!r}? allowed: {allowed}",
    ),
    "too_long": ("至多 {max} 个字符", "at most {max} characters"),
    "below_min": ("必须 ≥ {min}", "must be ≥ {min}"),
    "above_max": ("必须 ≤ {max}", "must be ≤ {max}"),
    # geometry
    "geometry_empty": ("几何缺失或为空", "geometry is missing or empty"),
    "geometry_type": (
        "本图层不允许 {got} 几何；应为 {allowed}",
        "{got} not allowed in this layer; expected {allowed}",
    ),
    "too_many_vertices": (
        "顶点过多：{n}，本图层至多 {max} 个",
        "{n} vertices, at most {max} in this layer",
    ),
    "geometry_invalid": (
        "几何无效：{reason}（可使用“修复几何”选项 --repair-geometry）",
        "invalid geometry: {reason}",
    ),
    "geometry_repaired": ("几何已修复：{reason}", "geometry repaired: {reason}"),
    "geometry_repaired_multi": (
        "几何已修复：{reason}；保留全部 {parts} 个部分（多面）",
        "geometry repaired: {reason}; all {parts} parts kept (as a MultiPolygon)",
    ),
    "geometry_repaired_dropped": (
        "几何已修复：{reason}；保留 {parts} 个部分中最大的一个，舍弃面积 {dropped_m2} 平方米",
        "geometry repaired: {reason} (kept the largest of {parts} parts, dropped {dropped_m2} m²)",
    ),
    "z_dropped": ("已去掉高程（Z）值，只保存平面位置", "Z value dropped: only the plane position is stored"),
    "lonlat_out_of_range": (
        "经纬度超出范围（{x}, {y}）：经度应在 -180～180，纬度应在 -90～90",
        "longitude/latitude out of range ({x}, {y}): longitude must be -180…180, latitude -90…90",
    ),
    "lonlat_out_of_range_swap": (
        "经纬度超出范围（{x}, {y}）；交换 x/y 后即位于市内（可用 --swap-xy）",
        "longitude/latitude out of range ({x}, {y}); swapping x and y would put it inside (--swap-xy)",
    ),
    "outside_jiaozuo": ("位于焦作市范围之外（2 公里内无区县）", "outside Jiaozuo (no district within 2 km)"),
    "outside_jiaozuo_swap": (
        "位于焦作市范围之外（2 公里内无区县）；交换 x/y 后即位于市内（可用 --swap-xy）",
        "outside Jiaozuo (no district within 2 km); swapping x and y would put it inside (--swap-xy)",
    ),
    "outside_jiaozuo_crs": (
        "位于焦作市范围之外（2 公里内无区县）；若使用 --crs {crs} 则位于市内",
        "outside Jiaozuo (no district within 2 km); with --crs {crs} it would be inside",
    ),
    "area_too_large": (
        "面积 {area} 平方米，超出本图层的合理上限 {max} 平方米（坐标系或单位有误？）",
        "area {area} m² is more than this layer's plausible {max} m² (wrong CRS or units?)",
    ),
    "overlaps_existing": (
        "与 {other} 重叠 {area} 平方米；请调整边界，或记为“{exempt_zh}”状态",
        "overlaps {other} by {area} m²; move the boundary, or record it as {exempt}",
    ),
    "coords_not_finite": (
        "坐标换算结果无效（无穷大）：这些数字不是 {crs} 坐标",
        "the coordinates convert to Infinity: these numbers are not {crs} coordinates",
    ),
    "database_refused": ("数据库拒绝了此行：{detail}", "the database refused this row: {detail}"),
    # sets of rows
    "duplicate_code_in_file": ("文件内编号重复（第 {rows} 行）", "duplicate code in the file (rows {rows})"),
    "near_existing": (
        "与本图层已有资产 {other} 相距不足 {metres} 米，可能重复",
        "within {metres} m of existing asset {other} of this layer",
    ),
    "near_in_file": (
        "与文件第 {other} 行相距不足 {metres} 米，可能重复",
        "within {metres} m of row {other} of this file",
    ),
    "code_generated": ("编号由系统生成：{code}", "code generated: {code}"),
    # table cells and photos
    "not_a_number": ("不是数字：{value}", "not a number: {value}"),
    "unreadable_wkt": ("无法解析的 WKT：{value}", "unreadable WKT: {value}"),
    "photo_missing": ("压缩包中找不到照片 {name}", "photo {name} not found in the archive"),
    "photo_unsafe": ("照片名 {name} 不是安全的文件名", "photo name {name} is not a safe file name"),
    # layers' own rules
    "season_order": ("结束日期早于开始日期", "the end of the season is before its start"),
    "element_geometry": ("{element_zh}应为{geometry_zh}", "a {element} must be a {geometry}"),
    "flying_wire_not_pole": ("只有线缆才能标为飞线", "only a wire can be a flying wire"),
    "removed_needs_date": ("已拆除的杆线须填写拆除日期", "a removed pole or wire needs its removal date"),
    "stage_requires_date": (
        "处于“{stage_zh}”阶段须填写“{step_zh}”的日期",
        "stage '{stage}' requires the date of '{step}'",
    ),
    "lifecycle_backwards": ("各阶段日期不能倒退", "lifecycle dates must not go backwards"),
    "demo_notes": ("演示数据的备注须以 {mark} 开头", "demo notes must start with {mark!r}"),
    # field capture (registry/field.py, issue 14)
    "field_key_required": (
        "请求须带 Idempotency-Key 头（UUID），重发时才不会重复写入",
        "send an Idempotency-Key header (a UUID), so that a resend is never written twice",
    ),
    "field_key_invalid": (
        "Idempotency-Key 应为 UUID，收到 {value}",
        "Idempotency-Key must be a UUID, got {value}",
    ),
    "field_key_reused": (
        "此 Idempotency-Key 已用于内容不同的另一次提交；每条记录请用新的键",
        "this Idempotency-Key was used for a different submission; use a new key for each record",
    ),
    "field_device_invalid": (
        "X-Field-Device 应为 1 至 64 个字母、数字或 ._:-，收到 {value}",
        "X-Field-Device must be 1 to 64 letters, digits or ._:-, got {value}",
    ),
    "field_position_inaccurate": (
        "定位精度 {accuracy} 米，超过允许的 {max} 米：请等待定位更准确，或在地图上点选位置",
        "position accuracy {accuracy} m is worse than the allowed {max} m: wait for a better fix, "
        "or tap the position on the map",
    ),
    "field_geometry_missing": ("请给出几何（geometry）或位置（position）", "send a geometry or a position"),
    "field_asset_required": (
        "“{kind}”须给出资产编号（asset_id）",
        "a {kind} needs the asset's id (asset_id)",
    ),
    "field_base_version_required": (
        "修改或办理步骤须给出读取时的版本（base_version），以免覆盖他人的修改",
        "an update or a step must send the version it read (base_version), so that it never "
        "overwrites someone else's change",
    ),
    "field_version_conflict": (
        "{code} 已由 {by} 于 {at} 改为第 {current} 版，您的记录基于第 {yours} 版：请对照两个版本后重新提交",
        "{code} was changed by {by} at {at} to version {current}; yours was based on version {yours}: "
        "compare both versions and send again",
    ),
    "field_photo_not_uploaded": (
        "照片 {sha256} 尚未上传（请先 POST /api/field/photos）",
        "photo {sha256} has not been uploaded (POST /api/field/photos first)",
    ),
    "field_step_required": (
        "办理步骤须给出 step（步骤代码，以及 fields、comment）",
        "a step submission needs step (the step's code, with its fields and comment)",
    ),
    "field_photo_required": ("请以 file 字段上传一张照片", "send one photo as the file field"),
    "field_bad_number": ("{name} 应为数字，收到 {value}", "{name} must be a number, got {value}"),
    "field_no_right": (
        "角色 {role} 不能在任何图层外业采集（新增、修改或巡查）",
        "role {role} may not record in any layer (create, update or inspect)",
    ),
    # file-level (importers.errors.ImportFileError.of)
    "file_not_found": ("找不到文件 {path}", "file not found: {path}"),
    "crs_missing": (
        "{file} 没有坐标系信息，且坐标（如 {example}）不是经纬度；看起来像 {guess}，"
        "请用 --crs {code} 指定（或 gcj02 / bd09 / 其他 EPSG 代码）",
        "{file} has no coordinate system and its coordinates (e.g. {example}) are not degrees; "
        "they look like {guess}. Pass it with --crs {code} (or gcj02 / bd09 / another EPSG code)",
    ),
    "crs_missing_swapped": (
        "{file} 没有坐标系信息，且坐标（如 {example}）不是经纬度；看起来像 x/y 互换的 {guess}"
        "（测量习惯 X 为北坐标），请用 --crs {code} --swap-xy 导入",
        "{file} has no coordinate system and its coordinates (e.g. {example}) are not degrees; "
        "they look like {guess} with x and y swapped (survey convention: X is north). "
        "Import with --crs {code} --swap-xy",
    ),
    "crs_missing_unknown": (
        "{file} 没有坐标系信息，且坐标（如 {example}）不是经纬度，也不像焦作附近的任何投影坐标系；"
        "请用 --crs 指定",
        "{file} has no coordinate system and its coordinates (e.g. {example}) are not degrees nor any "
        "projected CRS near Jiaozuo; pass it with --crs",
    ),
    "crs_invalid": ("未知坐标系 {crs}", "unknown coordinate system {crs}"),
    "crs_wrong_projected": (
        "用 --crs {crs} 无法换算 {file} 的坐标（如 {example}）：得到无穷大或超出其有效范围；"
        "这些数字不是该坐标系的坐标{hint}",
        "the coordinates of {file} (e.g. {example}) cannot be converted with --crs {crs}: they come out "
        "infinite or outside its valid area; they are not coordinates of that CRS{hint}",
    ),
    "crs_hint_guess": ("（看起来像 {guess}）", " (they look like {guess})"),
    "gcj02_hint": (
        "{file} 看起来来自手机地图应用（{why}），其坐标通常是 GCJ-02 火星坐标：请用 --crs gcj02 导入",
        "{file} looks like a phone map app's export ({why}), whose coordinates are usually GCJ-02: "
        "import it with --crs gcj02",
    ),
    "bad_default": (
        "默认值 --set {name}={value} 无效：{reason}",
        "--set {name}={value}: {reason}",
    ),
    "unknown_default": (
        "--set {name}：图层 {layer} 没有可写属性 {name}；可选：{allowed}",
        "--set {name}: layer {layer} has no writable attribute {name}; choose from: {allowed}",
    ),
    "bad_set_syntax": ("--set 应写作 属性=值，收到 {value}", "--set takes attribute=value, got {value}"),
    "column_not_found": (
        "{file} 中没有列 {column}；现有列：{columns}",
        "{file} has no column {column}; columns are: {columns}",
    ),
}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def params_of(code: str) -> set[str]:
    """Parameter names a code's templates use (both languages use the same)."""
    zh, en = MESSAGES[code]
    return _fields(zh) | _fields(en)


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = "zh") -> str:
    """The message ``code`` in ``lang`` (``zh``, else English), parameters filled in.

    An unknown code renders as the code itself (never an exception while reporting).
    """
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    template = pair[0] if lang == "zh" else pair[1]
    return template.format_map(_Params(params or {}))


def problem(field: str, code: str, value: Any = None, *, level: str = "error", **params: Any) -> Problem:
    """A :class:`Problem` carrying its message code and parameters; its ``message`` (for
    callers that show one text, e.g. the API's field errors) is "中文 / English"."""
    message = f"{render(code, params, 'zh')} / {render(code, params, 'en')}"
    return Problem(field, message, value, level, code=code, params=params)


def text_of(p: Problem, lang: str = "zh") -> str:
    """A problem in ``lang``: from its code when it has one, else its message as given."""
    return render(p.code, p.params, lang) if p.code else p.message
