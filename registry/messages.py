"""Every message a user reads about data (import reports, validation), as a stable code
with parameters, rendered from ONE Chinese/English template table.

Validators create problems with :func:`problem` (``Problem.code`` + ``Problem.params``;
``Problem.message`` is the English rendering, for logs). Whoever shows
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
    "not_allowed": ("不是允许的取值；允许：{allowed}", "not an allowed value; allowed: {allowed_en}"),
    "not_allowed_did_you_mean": (
        "不是允许的取值；您是不是要填“{suggestion}”？允许：{allowed}",
        "not an allowed value; did you mean {suggestion!r}? allowed: {allowed_en}",
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
    "field_taken_at_format": ("拍摄时间格式应为 RFC 3339", "taken_at must be RFC 3339"),
    "field_body_not_object": ("请求体应为 JSON 对象", "the body must be a JSON object"),
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
    "file_unreadable": (
        "无法读取 {file}（文件损坏或被截断？）：{reason}",
        "cannot read {file} (damaged or truncated?): {reason}",
    ),
    "several_layers": (
        "{file} 含有多个图层，请选择源图层（命令行 --gpkg-layer）：{choices}",
        "{file} has several layers; choose the source layer (command line: --gpkg-layer): {choices}",
    ),
    "several_shapefiles": (
        "{file} 含有多个 Shapefile，请选择源图层（命令行 --gpkg-layer）：{choices}",
        "{file} has several shapefiles; choose the source layer (command line: --gpkg-layer): {choices}",
    ),
    "choose_source_layer": ("请从列表中选择一个", "choose one"),
    "shp_without_dbf": ("{file} 缺少 .dbf 属性文件", "{file} has no .dbf attribute file"),
    "dbf_too_short": ("{file} 已损坏（过短）", "{file} is damaged (too short)"),
    "no_layers": ("{file} 中没有图层", "{file} has no layers"),
    "layer_not_in_file": (
        "{file} 中没有图层“{layer}”；可选：{choices}",
        "{file} has no layer {layer!r}; available: {choices}",
    ),
    "field_names_encoding": (
        "{file} 的字段名不是有效的 {encoding} 文本（可能被 DBF 10 字节限制截断）；"
        "请缩短字段名或用 --encoding 指定编码",
        "{file} has field names that are not valid {encoding} (probably cut by the DBF 10-byte limit); "
        "shorten them or pass --encoding",
    ),
    "mojibake_read": (
        "{file} 按 {encoding} 读取出现乱码；请用 --encoding 指定正确编码",
        "{file} read as {encoding} gives mojibake; pass the right --encoding",
    ),
    "file_empty": ("文件 {file} 为空", "file {file} is empty"),
    "upload_too_large": ("文件超过大小上限 {max} 字节", "the file is over the limit of {max} bytes"),
    "file_too_large": (
        "文件 {file} 大小 {size} 字节，超过上限 {max} 字节",
        "file {file} is {size} bytes, over the limit of {max}",
    ),
    "zip_invalid": (
        "{file} 不是有效的 zip 压缩包或已损坏：{reason}",
        "{file} is not a valid zip archive or is damaged: {reason}",
    ),
    "zip_unsafe_name": (
        "压缩包内文件名“{name}”不安全（路径穿越），已拒绝",
        "archive member name {name!r} is unsafe (path traversal); refused",
    ),
    "zip_symlink": ("压缩包内“{name}”是符号链接，已拒绝", "archive member {name!r} is a symlink; refused"),
    "zip_ratio": (
        "压缩包内“{name}”压缩比 {ratio}:1 异常（疑似压缩炸弹），已拒绝",
        "archive member {name!r} has a compression ratio of {ratio}:1 (zip bomb suspected); refused",
    ),
    "zip_too_big": (
        "压缩包解压后共 {size} 字节，超过上限 {max} 字节（疑似压缩炸弹）",
        "archive would expand to {size} bytes, over the limit of {max} (zip bomb suspected)",
    ),
    "zip_escapes": ("压缩包内文件名“{name}”指向解压目录之外", "{name!r} escapes the folder"),
    "zip_expands_beyond": (
        "压缩包实际解压大小超过上限（疑似压缩炸弹）",
        "archive expands beyond the limit (zip bomb suspected)",
    ),
    "zip_member_damaged": ("压缩包内 {name} 已损坏：{reason}", "archive member {name} is damaged: {reason}"),
    "xml_doctype": (
        "{file} 含有 DOCTYPE/ENTITY 声明（XML 实体攻击风险），已拒绝",
        "{file} declares a DOCTYPE/ENTITY (XML entity attack); refused",
    ),
    "xml_dtd": ("{file} 含有 DTD/实体声明，已拒绝", "{file} declares a DTD or entities; refused"),
    "xml_invalid": ("{file} 不是有效的 KML/XML：{reason}", "{file} is not valid KML/XML: {reason}"),
    "encoding_unknown": ("未知编码“{encoding}”", "unknown encoding {encoding!r}"),
    "encoding_is_utf8": (
        "{file} 是 UTF-8 编码，按 {encoding} 读取会产生乱码；请去掉编码选项或选 UTF-8",
        "{file} is UTF-8; reading it as {encoding} would produce mojibake. "
        "Drop the encoding option or use utf-8",
    ),
    "encoding_invalid_gbk": (
        "{file} 不是有效的 {encoding} 文本（看起来是 GBK/GB18030），按此读取会产生乱码",
        "{file} is not valid {encoding} (looks like GBK/GB18030); it would come out as mojibake",
    ),
    "encoding_invalid": (
        "{file} 不是有效的 {encoding} 文本（无法识别其编码），按此读取会产生乱码",
        "{file} is not valid {encoding} (encoding unknown); it would come out as mojibake",
    ),
    "encoding_undetected": (
        "{file} 既不是 UTF-8 也不是 GBK/GB18030，无法识别编码；请用 --encoding 指定",
        "{file} is neither UTF-8 nor GBK/GB18030; pass --encoding",
    ),
    "encoding_mixed": (
        "{file} 在第 {line} 行附近不是有效的 {encoding} 文本（编码混杂？）：{reason}",
        "{file} is not valid {encoding} near line {line} (mixed encodings?): {reason}",
    ),
    "kmz_without_kml": ("{file} 中没有 KML 文件", "{file} holds no KML file"),
    "zip_without_shp": (
        "{file} 中没有 .shp 文件（也没有唯一的其他数据文件）；Shapefile 需打包 .shp/.shx/.dbf/.prj",
        "{file} contains no .shp (nor a single other data file); a Shapefile zip needs .shp/.shx/.dbf/.prj",
    ),
    "unsupported_type": (
        "不支持的文件类型 {file}；支持：zip(Shapefile)、GeoPackage、GeoJSON、KML/KMZ、CSV、XLSX",
        "unsupported file type {file}; supported: zipped Shapefile, GeoPackage, GeoJSON, KML/KMZ, CSV, XLSX",
    ),
    "no_coordinate_columns": (
        "{file} 中找不到坐标列：需要 经度/纬度、lon/lat、lng/lat、x/y 或 WKT 列；现有列：{columns}",
        "{file} has no coordinate columns: need lon/lat, lng/lat, x/y (or their Chinese names) "
        "or a WKT column; columns are: {columns}",
    ),
    "file_no_content": ("{file} 没有任何内容", "{file} has no content"),
    "file_unparsable": ("{file} 无法解析：{reason}", "cannot parse {file}: {reason}"),
    "file_unparsable_near": (
        "{file} 在第 {line} 行附近无法解析：{reason}",
        "cannot parse {file} near line {line}: {reason}",
    ),
    "xlsx_invalid": (
        "{file} 不是有效的 XLSX 工作簿：{reason}",
        "{file} is not a valid XLSX workbook: {reason}",
    ),
    "sheet_empty": ("{file} 工作表为空", "{file}: the sheet is empty"),
    "sheet_not_found": (
        "{file} 中没有工作表“{sheet}”；可选：{choices}",
        "{file} has no sheet {sheet!r}; available: {choices}",
    ),
    "no_records": ("{file} 中没有任何记录", "{file} contains no records"),
    "no_districts": (
        "数据库中没有区县边界（请先运行 registry migrate）",
        "no district boundaries in the database (run `registry migrate`)",
    ),
    "gpkg_needs_layer": (
        "{file}：请用 --layer 指定目标图层（只有 GeoPackage 可按图层名自动对应）",
        "{file}: pass --layer (only a GeoPackage can be mapped by its layer names)",
    ),
    "gpkg_unknown_layers": (
        "{file} 的图层 {layers} 不是登记图层（可选：{allowed}）；请用 --gpkg-layer 和 --layer 逐个导入",
        "{file} has layers that are not registry layers: {layers} (registry layers: {allowed}); "
        "import them one by one with --gpkg-layer and --layer",
    ),
    "gpkg_layer_needs_layer": ("使用 --gpkg-layer 时请同时指定 --layer", "--gpkg-layer needs --layer"),
    "mapping_not_json": ("映射不是有效的 JSON：{reason}", "mapping is not valid JSON: {reason}"),
    "mapping_not_object": (
        "映射应为 JSON 对象，形如“源列: 属性”的键值对",
        "mapping must be a JSON object of source column: attribute pairs",
    ),
    "mapping_column_missing": (
        "映射中的列“{column}”不在文件中；文件列：{columns}",
        "mapped column {column!r} is not in the file; columns: {columns}",
    ),
    "mapping_target_unknown": (
        "映射目标“{target}”不是图层 {layer} 的可写属性；可选：{allowed}",
        "mapping target {target!r} is not a writable attribute of {layer}; choose from: {allowed}",
    ),
    "import_not_found": ("没有编号为 {id} 的导入", "no import with id {id}"),
    "undo_not_committed": (
        "导入 {id} 的状态为“{status_zh}”，只能撤销已提交的导入",
        "import {id} is {status}; only committed imports can be undone",
    ),
    "undo_changed_since": (
        "导入后以下资产又被修改过，撤销会覆盖这些修改：{codes}（如确需撤销请使用 force）",
        "these assets changed after the import and undo would overwrite that: {codes} (use force)",
    ),
    "import_interrupted": (
        "导入被中断（导入进程的数据库会话已结束），没有写入任何数据",
        "the import was interrupted (its database session ended); nothing was written",
    ),
    # the API's own problems (web/errors.py) and their field errors
    "invalid_value": ("值无效", "invalid value: {reason}"),
    "not_above": ("必须 > {min}", "must be > {min}"),
    "not_below": ("必须 < {max}", "must be < {max}"),
    "too_short": ("至少 {min} 个字符", "at least {min} characters"),
    "invalid_json": ("不是有效的 JSON", "not valid JSON"),
    "not_an_object": ("应为 JSON 对象", "expected a JSON object"),
    "not_timestamp": ("应为日期或时间，例如 2025-03-31T08:00", "expected an RFC 3339 date or timestamp"),
    "not_true_false": ("应为 true 或 false", "expected true or false"),
    "lonlat_together": ("经度和纬度须同时给出", "lon and lat go together"),
    "needs_lonlat": ("须同时给出经度和纬度", "needs lon and lat"),
    "radius_range": ("半径须在 0 到 {max} 米之间", "radius must be between 0 and {max} metres"),
    "parameter_invalid": ("参数 {parameter} 无效：{reason}", "{parameter}: {reason}"),
    "request_invalid": ("请求无效", "invalid request"),
    "not_found": ("找不到该资源", "not found"),
    "method_not_allowed": ("不支持此请求方法", "method not allowed"),
    "database_unavailable": (
        "数据库暂时无法连接，请稍后重试",
        "the database is unreachable, retry shortly",
    ),
    "query_timeout": (
        "查询超时已取消，请缩小范围或条件后重试",
        "the query took too long and was cancelled; narrow the area or the filter and retry",
    ),
    "commit_refused": (
        "数据库在提交时拒绝了此次修改，未保存任何内容",
        "the database refused the change when committing; nothing was saved",
    ),
    "internal_error": ("服务器内部错误，已记录在日志中", "an unexpected error occurred; it has been logged"),
    "uri_too_long": (
        "网址过长（{size} 字节，至多 {max}）：请用 POST 发送大的查询",
        "the URL is {size} bytes, at most {max}: send large queries by POST",
    ),
    "headers_too_large": (
        "请求头过大（{size} 字节，至多 {max}）",
        "request headers are {size} bytes, at most {max}",
    ),
    "body_too_large": ("请求体超过上限 {max} 字节", "the request body is over the limit of {max} bytes"),
    "parking_unreadable": ("无法读取所画的形状", "the drawn shape is not valid GeoJSON: {reason}"),
    "parking_not_polygon": ("停车区应为单个多边形", "parking must be a Polygon, got {got}"),
    "parking_self_intersection": ("边界在 {x}, {y} 处自相交", "the boundary crosses itself at {x}, {y}"),
    "parking_invalid": ("多边形无效", "invalid polygon: {reason}"),
    "parking_overlaps": ("与 {others} 重叠", "overlaps {others}"),
    "permission_denied": ("{role_zh}无权{action_zh}", "role {role} may not {action}"),
    "permission_denied_layer": (
        "{role_zh}无权{action_zh}“{layer_zh}”",
        "role {role} may not {action} on layer {layer!r}",
    ),
    "permission_denied_fields": (
        "{role_zh}无权修改“{layer_zh}”的{fields_zh}",
        "role {role} may not change {fields} of {layer}",
    ),
    "asset_not_found": ("“{layer_zh}”中没有编号为 {id} 的资产", "no {layer} asset with id {id}"),
    "asset_not_at": (
        "“{layer_zh}”的资产 {id} 在 {t} 时不存在（或已删除）",
        "{layer} asset {id} did not exist (or was deleted) at {t}",
    ),
    "version_conflict": (
        "该资产已被他人修改（现为第 {current} 版，您读取的是第 {expected} 版）：请重新载入后再改",
        "{layer} asset {id} is at version {current}, not {expected}: it changed since you read it; "
        "reload and retry",
    ),
    "not_a_feature": ("请求体应为 GeoJSON Feature", "request body must be a GeoJSON Feature"),
    "field_not_object": ("{field} 应为 JSON 对象", "{field} must be a JSON object"),
    "geometry_unreadable": ("{field} 不是有效的 GeoJSON 几何", "{field} is not valid GeoJSON"),
    "nothing_to_change": (
        "没有要修改的内容：请给出属性或几何",
        "nothing to change: send properties and/or geometry",
    ),
    "bbox_four_numbers": (
        "bbox 应为四个以度为单位的数：最小经度,最小纬度,最大经度,最大纬度",
        "bbox must be minx,miny,maxx,maxy in degrees",
    ),
    "bbox_min_max": ("bbox 的最小值大于最大值", "bbox minimum exceeds maximum"),
    "invalid_asset": ("资产数据有误：{fields}", "invalid {layer} asset: {fields}"),
    "not_an_attribute": ("不是本图层的属性", "not an attribute of this layer"),
    "unknown_attributes": ("本图层没有这些属性：{fields}", "unknown attributes for {layer}: {fields}"),
    "use_workflow_steps": ("状态只能通过流程步骤变更", "use the workflow steps"),
    "status_through_workflow": (
        "状态只能通过流程步骤变更（下一步或重新打开）",
        "the status of a {layer} asset changes only through its workflow: take the next step or reopen",
    ),
    "database_rule": ("不符合数据库规则 {rule}", "breaks the database rule {rule}: {reason}"),
    "asset_breaks_rule": ("资产不符合数据库规则 {rule}", "{layer} asset breaks {rule}"),
    "duplicate_code": ("本图层已有相同编号的资产", "another {layer} asset has that code"),
    "step_needs_field": ("需要{label_zh}", "{label} is required"),
    "step_needs_photos": (
        "至少需要 {need} 张照片（现有 {have} 张）",
        "at least {need} photo(s) needed, {have} attached",
    ),
    "not_a_step_field": ("不是此步骤的字段", "not a field of this step"),
    "not_an_earlier_step": ("不是之前的步骤", "not an earlier step"),
    "not_an_image": ("不是图片文件", "not an image file"),
    "image_too_large": ("图片过大", "too large"),
    "image_unreadable": ("无法读取的图片", "unreadable image"),
    "photo_count": ("一次上传 1 到 {max} 张照片", "send 1 to {max} photos"),
    "changed_since_import": ("导入后又被修改过", "changed since the import"),
    "assets_not_live": ("以下编号不是现存资产：{ids}", "not live assets: {ids}"),
    "assets_not_live_in_layer": (
        "以下编号不是图层“{layer_zh}”的现存资产：{ids}",
        "not live assets of layer {layer}: {ids}",
    ),
    # basemaps and basemap files (registry/basemaps.py, registry/tilefiles.py)
    "basemap_url_scheme": ("{field}：须为 http(s) 地址", "{field}: must be an http(s) URL"),
    "basemap_url_userinfo": ("{field}：地址中不能含用户名或密码", "{field}: no user:password in the URL"),
    "basemap_url_host_placeholder": (
        "{field}：主机名中只能在第一段使用占位符",
        "{field}: placeholders only in the host's first label",
    ),
    "basemap_url_placeholders": (
        "{field}：须含 {placeholders} 占位符",
        "{field}: must hold the {placeholders} placeholders",
    ),
    "basemap_name_form": (
        "name：小写字母、数字、- 或 _，至多 40 个字符",
        "name: lowercase letters, digits, - or _, at most 40",
    ),
    "basemap_name_required": ("name：请给出底图标识", "name: give the basemap's name (id)"),
    "basemap_title_empty": ("title：不能为空", "title: must not be empty"),
    "tianditu_key_missing": (
        "tk：请填写天地图密钥，或设置 REGISTRY_TIANDITU_KEY",
        "tk: give the Tianditu key or set REGISTRY_TIANDITU_KEY",
    ),
    "tianditu_key_form": ("tk：天地图密钥应为 8–64 位字母或数字", "tk: 8–64 letters or digits"),
    "tianditu_crs": ("crs：天地图为 CGCS2000，不偏移", "crs: Tianditu is CGCS2000 (no shift)"),
    "tianditu_no_key": ("没有天地图密钥（REGISTRY_TIANDITU_KEY）", "no Tianditu key (REGISTRY_TIANDITU_KEY)"),
    "basemap_file_suffix": ("file：须为 {suffix} 文件名", "file: must name a {suffix} file"),
    "basemap_file_unusable": ("file：底图文件无法使用：{reason}", "file: {reason}"),
    "basemap_not_found": ("没有名为“{name}”的底图", "no basemap named {name!r}"),
    "basemap_exists": ("底图“{name}”已存在", "basemap {name!r} exists already"),
    "mbtiles_unreadable": (
        "{file}：不是可读的 MBTiles 文件（{reason}）",
        "{file}: not a readable MBTiles file ({reason})",
    ),
    "mbtiles_format": ("MBTiles 瓦片格式“{format}”不受支持", "tile format {format!r} is not supported"),
    "pmtiles_truncated": ("PMTiles 目录已截断", "PMTiles directory is truncated"),
    "pmtiles_not_v3": ("{file}：不是 PMTiles v3 文件", "{file}: not a PMTiles v3 file"),
    "pmtiles_tile_type": ("{file}：PMTiles 瓦片类型不受支持", "{file}: unsupported PMTiles tile type"),
    "tile_file_name": (
        "{file}：须为 .mbtiles 或 .pmtiles 文件名",
        "{file}: must be a .mbtiles or .pmtiles file name",
    ),
    "tile_file_missing": (
        "{file}：底图目录中没有该文件（{folder}）",
        "{file}: no such file in the basemap folder ({folder})",
    ),
    # CQL2 filters (registry/cql.py)
    "cql_timestamp": (
        "时间戳 {value} 不是 RFC 3339 日期时间（如 2025-03-31T08:00:00Z）",
        "timestamp {value} is not an RFC 3339 date-time such as 2025-03-31T08:00:00Z",
    ),
    "cql_date": (
        "日期 {value} 不是 YYYY-MM-DD 格式的有效日期",
        "date {value} is not a valid YYYY-MM-DD date",
    ),
    "cql_too_complex": ("筛选条件过于复杂：{reason}", "filter too complex: {reason}"),
    "cql_json_too_deep": ("JSON 嵌套超过 {max} 层", "JSON nested deeper than {max} levels"),
    "cql_too_many_nodes": ("最多 {max} 个元素", "at most {max} elements"),
    "cql_too_deep": ("最多嵌套 {max} 层", "at most {max} levels of nesting"),
    "cql_too_many_terms": (
        "最多 {max} 个条件（AND/OR 连接的比较、空间条件等）",
        "at most {max} conditions (comparisons, spatial tests… joined by AND/OR)",
    ),
    "cql_unparsable": ("无法解析 {lang} 筛选条件：{reason}", "cannot parse {lang} filter: {reason}"),
    "cql_left_property": (
        "{what} 的左侧须为属性，例如 code",
        "the left side of {what} must be a property, e.g. code",
    ),
    "cql_side_property": (
        "比较的一侧须为属性，例如 code",
        "one side of a comparison must be a property, e.g. code",
    ),
    "cql_incomparable": (
        "属性 {left}（{left_kind}）与 {right}（{right_kind}）类型不同，不能比较",
        "cannot compare {left} ({left_kind}) with {right} ({right_kind})",
    ),
    "cql_dwithin_range": (
        "S_DWITHIN 距离须在 0 到 {max} 米之间",
        "S_DWITHIN distance must be between 0 and {max} metres",
    ),
    # place search (registry/places.py)
    "place_query_too_long": ("q：至多 {max} 个字符", "q: at most {max} characters"),
    "place_query_empty": ("q：请输入地名、道路或交叉口", "q: give a place, road or intersection"),
    "place_distance_too_far": ("q：距离至多 5000 米", "q: at most 5,000 m from the crossing"),
    "place_same_road": ("两条道路相同", "the two roads are the same"),
    "place_roads_apart": (
        "{a}与{b}不相交，最近处相距约 {metres} 米",
        "{a} and {b} do not cross; they come within about {metres} m",
    ),
    "place_not_found": ("没有找到“{term}”。", "Nothing found for “{term}”."),
    "place_not_found_suggest": (
        "没有找到“{term}”。您是不是要找：{suggestions_zh}？",
        "Nothing found for “{term}”. Did you mean: {suggestions}?",
    ),
    # workflows (registry/workflow_store.py, web/routes/workflow.py)
    "no_workflow": ("图层“{layer_zh}”没有流程", "layer {layer!r} declares no workflow"),
    "deadline_unknown": ("“{due_zh}”没有期限", "step {due!r} of {layer} has no deadline"),
    "deadline_days_range": ("期限天数须在 1 到 3650 之间", "days must be between 1 and 3650"),
    "deadline_no_grades": ("该期限不分等级（{grade}）", "this deadline has no grades ({grade!r})"),
    "deadline_grade_unknown": ("未知等级 {grade}", "unknown {grade_attr} {grade!r}"),
    "deadline_admin_only": (
        "只有管理员能设置期限（{role_zh}）",
        "only an admin sets deadlines (role {role})",
    ),
    "step_not_in_workflow": (
        "“{step}”不是“{layer_zh}”的流程步骤{next_zh}",
        "{step!r} is not a step of the {layer} workflow{next}",
    ),
    "step_next_is": ("；下一步是“{step_zh}”", "; next: {step}"),
    "step_go_back": (
        "不能从{from_zh}到{to_zh}：退回须重新打开并说明原因；{where}",
        "{from} cannot go back without a reopen to {to}; {where}",
    ),
    "step_skip": (
        "不能从{from_zh}到{to_zh}：只能逐步前进；{where}",
        "{from} cannot skip steps to {to}; {where}",
    ),
    "workflow_next_step": ("下一步是“{step_zh}”", "the next step is {step}"),
    "workflow_complete": ("流程已完成", "the workflow is complete"),
    "step_not_allowed": ("{role_zh}不能办理“{step_zh}”", "role {role} may not take step {step} of {layer}"),
    "step_sets_not": ("此步骤不能修改{fields_zh}", "step {step} does not set {fields}"),
    "step_second_person": (
        "“{step_zh}”须由“{other_zh}”办理人以外的人办理（{taker}）",
        "step {step} must be taken by someone other than {taker}, who took {other}",
    ),
    "step_requirements": ("办理“{step_zh}”前：{missing}", "step {step}: {missing}"),
    "reopen_not_allowed": (
        "{role_zh}不能重新打开“{layer_zh}”的资产",
        "role {role} may not reopen {layer} assets",
    ),
    "reopen_needs_reason": ("重新打开需要说明原因", "a reopen needs a reason"),
    "reopen_nothing": ("{status_zh}没有可退回的步骤", "nothing to reopen from {status}"),
    "reopen_not_earlier": (
        "只能退回到之前的步骤：{steps_zh}",
        "a reopen goes back to an earlier step, not {target!r}",
    ),
    "permission_denied_photos": (
        "{role_zh}无权给“{layer_zh}”上传照片",
        "role {role} may not attach photos to {layer}",
    ),
    # inspections (registry/inspections.py, web/routes/inspections.py)
    "inspection_result": ("巡查结果应为：{allowed_zh}", "result must be one of: {allowed}"),
    "inspection_inspector_empty": ("巡查人不能为空", "the inspector is required"),
    "inspection_time_zone": ("巡查时间需带时区", "inspected_at needs a time zone"),
    "inspection_in_future": ("巡查时间不能在将来", "inspected_at is in the future"),
    "inspection_time_format": (
        "巡查时间格式应为 RFC 3339，例如 2026-11-03T09:30:00+08:00",
        "inspected_at must be RFC 3339, e.g. 2026-11-03T09:30:00+08:00",
    ),
    "inspection_notes_too_long": ("备注至多 {max} 字", "notes: at most {max} characters"),
    "inspection_cannot_set": (
        "巡查不能修改“{name_zh}”，可修改：{allowed_zh}",
        "an inspection of {layer} cannot set {name!r}; it may set: {allowed}",
    ),
    "inspection_set_choice": ("“{name_zh}”应为：{choices_zh}", "{name} must be one of: {choices}"),
    "inspection_raise_fields": (
        "上报“{layer_zh}”隐患只需填写：{fields_zh}（不含 {unknown}）",
        "a raised {layer} takes only: {fields} (not {unknown})",
    ),
    "inspection_cannot_raise": (
        "“{source_zh}”的巡查不能上报“{layer_zh}”隐患",
        "an inspection of {source} cannot raise {layer}",
    ),
    "inspection_raise_needs_hazard": (
        "上报隐患时巡查结果应为“发现隐患”",
        "raising a hazard needs result=hazard",
    ),
    "inspection_raise_layer": ("请指明上报隐患的图层", "raise needs the layer of the hazard"),
    "inspection_form": (
        "请以 JSON 或表单（含照片）提交",
        "send JSON or a multipart form (with photos)",
    ),
    "value_not_object": ("{field} 应为对象", "{field} must be an object"),
    "photos_at_most": ("至多 {max} 张照片", "at most {max} photos"),
    "photo_not_image": ("{name}：不是照片文件（可用：{suffixes}）", "{name} is not a photo ({suffixes})"),
    "coords_outside_crs": (
        "{what_zh}的坐标 {got} 超出 {crs} 的有效范围 {area}（坐标系或轴顺序有误？）",
        "{what} coordinates {got} lie outside the valid area of {crs} {area} (wrong CRS or axis order?)",
    ),
    "crs_unsupported": (
        "不支持的坐标参照系 {value}；支持：{supported}",
        "unsupported CRS {value}; supported: {supported}",
    ),
    "property_value_invalid": (
        "{value} 不是属性 {name} 的有效值（{kind}）",
        "value {value} is not a valid {kind} for property {name!r}",
    ),
    "search_area_vertices": (
        "查询范围顶点过多：{n}，至多 {max} 个",
        "{n} vertices, at most {max} in a search area",
    ),
    "search_area_not_polygon": (
        "查询范围应为多边形（Polygon 或 MultiPolygon），收到 {got}",
        "geometry must be a Polygon or MultiPolygon, got {got}",
    ),
    "basic_needs_token": (
        "HTTP Basic 的密码须为 API 令牌（用 POST /auth/tokens 创建），不接受账户密码",
        "HTTP Basic needs an API token as the password (create one with POST /auth/tokens), "
        "not the account password",
    ),
    "basic_user_mismatch": (
        "用户名与 API 令牌的所有者不符",
        "the user name is not the owner of this API token",
    ),
    "basic_malformed": (
        "Basic 凭据格式错误，应为 base64(用户名:API 令牌)",
        "malformed Basic credentials: expected base64(user name:API token)",
    ),
    "csrf_form": (
        "表单须带 csrf_token，其值与 {cookie} Cookie 相同",
        "a form post must carry csrf_token equal to the {cookie} cookie (or send JSON)",
    ),
    "json_or_form": (
        "请以 JSON（application/json）提交，或提交带 csrf_token 的表单",
        "send JSON (application/json), or a form (application/x-www-form-urlencoded) with csrf_token",
    ),
    "body_invalid_fields": ("请求体无效：{fields}", "invalid request body: {fields}"),
    "body_not_json": ("请求体无效：不是 JSON", "invalid request body: not JSON"),
    "overdue_true_false": ("overdue 应为 true 或 false", "overdue must be true or false"),
    "if_match_form": (
        'If-Match 须为读取时的 ETag，如 "3"，收到 {value}',
        'If-Match must be the ETag you read, such as "3", got {value}',
    ),
    "target_above_zero": ("目标必须大于 0", "the target must be above 0"),
    "district_unknown": ("未知行政区 {district}", "unknown district {district!r}"),
    "target_body_required": (
        "需要 year、layer、measure、target",
        "year, layer, measure and target are required",
    ),
    "year_range": ("年份须在 2000 到 2100 之间", "year must be between 2000 and 2100"),
    "month_form": ("月份格式应为 YYYY-MM，收到 {value}", "month must look like 2026-11, got {value}"),
    "export_too_many_matches": (
        "共 {total} 条，一次至多导出 {max} 条，请缩小搜索范围",
        "{total} matches; at most {max} per export: narrow the search",
    ),
    "export_nothing": ("没有符合搜索条件的资产，无可导出", "nothing matches the search: nothing to export"),
    "export_format": ("格式须为 {formats} 之一", "format must be one of {formats}"),
    "export_body_text": ("format 与 search 应为文本", "format and search must be text"),
    "export_not_an_id": ("{value} 不是资产编号（UUID）", "{value} is not an asset id (UUID)"),
    "export_too_many_ids": (
        "一次至多导出 {max} 个资产，收到 {n} 个",
        "at most {max} assets per export, got {n}",
    ),
    "export_needs_layer_or_ids": ("请给出 layer= 或 ids=", "give layer=, or ids= with the assets to export"),
    "export_no_ids": ("没有给出资产编号", "no asset ids given"),
    "report_format": ("报告格式为 csv 或 json，收到 {value}", "report formats: csv, json; got {value}"),
    "search_text_too_long": ("搜索词至多 {max} 个字符", "at most {max} characters in q"),
    "search_value_type": ("{key} 应为文本、数字或其列表", "{key} must be text, a number or a list of them"),
    # backup and restore (registry/backup.py; the CLI says them in its --lang)
    "pg_tool_missing": (
        "找不到 {name}，请安装 PostgreSQL 15 客户端（如 apt-get install postgresql-client-15）"
        "或设置 REGISTRY_PG_BIN",
        "{name} not found: install the PostgreSQL 15 client tools "
        "(e.g. `apt-get install postgresql-client-15`) or set REGISTRY_PG_BIN",
    ),
    "pg_tool_failed": ("{what} 失败：\n{detail}", "{what} failed:\n{detail}"),
    "backup_file_changed": ("文件 {path} 在备份时被改动", "{path} changed while it was being backed up"),
    "backup_folder_missing": ("目标文件夹 {folder} 不存在", "folder {folder} does not exist"),
    "backup_cannot_connect": (
        "无法连接数据库{hint}：{reason}",
        "cannot connect to the database{hint}: {reason}",
    ),
    "backup_photos_missing": (
        "{n} 张照片在数据库中有记录，但 {folder} 中没有其文件：{names}",
        "{n} photos are recorded but their files are missing from {folder}: {names}",
    ),
    "backup_photos_corrupt": (
        "{n} 张照片内容与文件名不符（磁盘损坏？）：{names}",
        "{n} photo files no longer match their digest (disk damage?): {names}",
    ),
    "backup_damaged": (
        "备份文件已损坏或被改动，未做任何恢复：{detail}",
        "the backup is damaged or altered, nothing was restored: {detail}",
    ),
    "backup_member_twice": ("{name} 出现两次", "{name} appears twice"),
    "backup_member_unexpected": ("含有不应有的文件 {name}", "unexpected member {name}"),
    "backup_not_tar": ("不是可读的 tar 归档（{reason}）", "not a readable tar archive ({reason})"),
    "backup_member_missing": ("缺少 {name}（归档被截断？）", "{name} is missing (archive truncated?)"),
    "backup_sums_not_text": ("{name} 不是文本", "{name} is not text"),
    "backup_sums_bad_line": ("{name} 有无法读取的行 {line}", "{name} has an unreadable line {line}"),
    "backup_lists_differ": (
        "{name} 与归档所列文件不同：{names}",
        "{name} and the archive list different files: {names}",
    ),
    "backup_checksum_mismatch": (
        "{name} 的校验和不符（应为 {expected}，实为 {got}）",
        "checksum mismatch for {name} (expected {expected}, got {got})",
    ),
    "backup_manifest_unreadable": ("{name} 无法读取（{reason}）", "{name} is unreadable ({reason})"),
    "backup_member_differs": (
        "{name}：清单记为 {sha} / {size} 字节，归档中为 {got_sha} / {got_size} 字节",
        "{name}: manifest says {sha} / {size} bytes, archive holds {got_sha} / {got_size}",
    ),
    "backup_dump_unreadable": (
        "pg_restore 无法读取 {name}：{reason}",
        "pg_restore cannot read {name}: {reason}",
    ),
    "backup_not_found": ("找不到备份文件 {path}", "backup file not found: {path}"),
    "backup_cannot_unpack": (
        "无法解包到 {folder}（磁盘空间不足？可用 --work-dir 另选位置）：{reason}",
        "cannot unpack into {folder} (disk full? choose another place with --work-dir): {reason}",
    ),
    "backup_format_newer": (
        "备份格式版本 {version} 较新（本系统识别 {known}），请先升级本系统",
        "backup format {version} is newer than this registry understands ({known}): "
        "upgrade the registry first",
    ),
    "restore_cannot_connect": (
        "无法连接目标数据库，请先创建空数据库（createdb）：{reason}",
        "cannot connect to the target database; create an empty one first (createdb): {reason}",
    ),
    "restore_target_not_empty": (
        "目标数据库不为空，未做任何恢复：{db} 含有 {n} 个对象（{names}）。请恢复到新的空数据库或数据目录",
        "target database is not empty, nothing was restored: {db} holds {n} objects ({names}). "
        "Restore into a new, empty database or data folder.",
    ),
    "restore_newer_migrations": (
        "备份来自更新的版本（迁移 {versions}），请先升级本系统再启动",
        "the backup has migrations this registry does not know ({versions}): upgrade before serving it",
    ),
    "restore_older_backup": (
        "本系统有备份之后的新迁移，请运行 registry migrate",
        "this registry has migrations newer than the backup: run `registry migrate`",
    ),
    "restore_row_counts": (
        "恢复后行数与备份不符：{tables}",
        "row counts after the restore differ from the backup: {tables}",
    ),
    # accounts, sign-in and tokens (registry/accounts.py, web/auth.py, web/routes/auth.py)
    "password_too_short": ("密码至少 {min} 个字符", "password must be at least {min} characters long"),
    "user_exists": ("用户 {username} 已存在", "user {username!r} exists already"),
    "username_invalid": (
        "用户名 {username} 无效：应为 2–64 个字母、数字或 _ . @ -",
        "invalid username {username!r}: 2–64 letters, digits or _ . @ -",
    ),
    "user_not_found": ("没有名为 {username} 的用户", "no user named {username!r}"),
    "login_too_many": (
        "登录失败次数过多，请 {seconds} 秒后再试",
        "too many failed logins; try again in {seconds} s",
    ),
    "login_wrong": (
        "用户名或密码错误，或账户已停用",
        "wrong username or password, or the account is disabled",
    ),
    "session_expired": ("登录已过期或无效，请重新登录", "session expired or unknown; please sign in again"),
    "token_invalid": ("API 令牌无效、已过期或已撤销", "invalid, expired or revoked API token"),
    "token_not_yours": ("您没有编号为 {id} 的有效令牌", "you have no active token {id}"),
    "csrf_missing": (
        "缺少 CSRF 令牌：请在 {header} 头中发送 {cookie} Cookie 的值",
        "missing CSRF token: send the {cookie} cookie's value in {header}",
    ),
    "csrf_mismatch": ("CSRF 令牌与本次登录不符", "CSRF token does not match this session"),
    "authorization_form": (
        "Authorization 应为“Bearer <API 令牌>”或“Basic base64(<用户名>:<API 令牌>)”",
        "Authorization must be 'Bearer <API token>' or 'Basic base64(<user>:<API token>)'",
    ),
    "cannot_disable_self": ("不能停用自己的账户", "you cannot disable your own account"),
    "audit_own_only": (
        "{role_zh}只能查看自己的修改记录（{actor}）",
        "role {role} may read only its own changes (actor={actor})",
    ),
    # layers, assets and photos
    "layer_unknown": ("没有图层“{name}”；现有图层：{known}", "unknown layer {name!r}; known layers: {known}"),
    "asset_not_deleted": ("“{layer_zh}”的资产 {id} 未被删除", "{layer} asset {id} is not deleted"),
    "photo_name_form": (
        "照片以其 SHA-256 命名：64 个十六进制字符",
        "a photo is named by its SHA-256: 64 hexadecimal characters",
    ),
    "photo_not_found": ("没有照片 {sha256}", "no photo {sha256}"),
    "photo_file_missing": (
        "照片 {sha256} 有记录，但其文件不在照片库中",
        "photo {sha256} is recorded but its file is missing from the store",
    ),
    "if_match_required": (
        "请在 If-Match 头中发送读取时的 ETag，以免两次修改互相覆盖",
        "send If-Match with the ETag you read, so two edits cannot overwrite each other",
    ),
    # API parameters, filters, tiles and undo (the rest of the English-only messages)
    "measure_undated": (
        "{n} 处未填“{label}”，未计入",
        "{n} with no “{label_en}” date, not counted",
    ),
    "measure_unknown": (
        "图层 {layer} 没有指标 {name}（可选：{known}）",
        "layer {layer!r} declares no measure {name!r} (measures: {known})",
    ),
    "cql_op_unsupported": ("不支持筛选运算 {name}", "filter operation {name} is not supported"),
    "cql_function_unsupported": ("不支持函数 {name}", "function {name} is not supported"),
    "cql_operand_unsupported": ("不支持以 {kind} 作为运算对象", "{kind} is not supported as an operand"),
    "cql_geometry_outside_spatial": (
        "几何只能用于空间运算",
        "geometries can only be used in spatial operators",
    ),
    "cql_lang_unsupported": (
        "不支持的筛选语言 {value}；请用 cql2-text 或 cql2-json",
        "unsupported filter-lang {value}; use cql2-text or cql2-json",
    ),
    "cql_like_text": ("LIKE 需要文本模式", "LIKE needs a text pattern"),
    "cql_literal_unsupported": ("不支持的字面量 {value}", "unsupported literal {value}"),
    "cql_spatial_literal": (
        "空间运算须将几何与几何字面量比较",
        "spatial operators compare the geometry with a geometry literal",
    ),
    "cql_dwithin_number": (
        "S_DWITHIN 距离须为以米为单位的数字",
        "S_DWITHIN distance must be a number of metres",
    ),
    "cql_envelope_four": ("矩形范围须为四个数", "an envelope takes four numbers"),
    "cql_geometry_empty": ("几何字面量为空", "empty geometry literal"),
    "cql_geometry_invalid": ("几何字面量无效：{reason}", "invalid geometry literal: {reason}"),
    "cql_interval_form": (
        "时间区间应为 [开始, 结束]（各为日期、时间戳或 '..'）",
        "interval takes [start, end] (each a date, timestamp or '..')",
    ),
    "bbox_numbers": (
        "bbox 应为 4 或 6 个逗号分隔的数，收到 {value}",
        "bbox must be 4 or 6 comma-separated numbers, got {value}",
    ),
    "datetime_form": (
        "datetime 应为 RFC 3339 时间或时间区间，收到 {value}",
        "datetime must be RFC 3339 or an interval, got {value}",
    ),
    "datetime_interval_order": ("datetime 区间的开始晚于结束", "datetime interval start is after its end"),
    "undo_not_a_batch": (
        "{via} 是渠道而非批次：撤销须给出带编号的来源，如 'import:42'",
        "{via} is a channel, not a batch: undo takes a via with an id, such as 'import:42'",
    ),
    "undo_nothing": ("没有经由 {via} 记录的修改", "nothing was recorded through {via}"),
    "undo_already": (
        "{via} 已被撤销（见来源为 {undo_via} 的历史）",
        "{via} was undone already (see history via {undo_via})",
    ),
    "undo_changed_after": (
        "经由 {via} 修改的 {n} 条记录之后又被修改，撤销已拒绝",
        "{n} record(s) touched by {via} were changed afterwards; undo refused",
    ),
    "role_unknown": ("未知角色 {name}；可选角色：{valid}", "unknown role {name}; roles are: {valid}"),
    "property_unknown": (
        "图层 {layer} 没有属性 {name}；现有：{known}",
        "unknown property {name} for collection {layer!r}; known: {known}",
    ),
    "coord_sys_choice": (
        "coord_sys 应为 {choices} 之一，收到 {value}",
        "coord_sys must be one of {choices}, got {value}",
    ),
    "lonlat_pair": (
        "（{lon}, {lat}）不是经度/纬度（是否颠倒？）",
        "({lon}, {lat}) is not a longitude/latitude pair (swapped?)",
    ),
    "search_area_invalid": ("查询范围多边形无效：{reason}", "invalid polygon: {reason}"),
    "split_not_polygon": (
        "只有多边形可以分割；此资产为 {got}",
        "only a polygon can be split; this asset is a {got}",
    ),
    "split_needs_line": ("请画一条分割线，收到 {got}", "draw a line to split along, got {got}"),
    "split_line_cross": (
        "分割线须从多边形的一边穿到另一边",
        "the line must cross the polygon from one edge to another",
    ),
    "tile_zoom_range": (
        "缩放级别须在 0 到 {max} 之间，收到 {z}",
        "zoom must be between 0 and {max}, got {z}",
    ),
    "tile_not_exist": (
        "瓦片 {tile} 不存在：x 和 y 须小于 {size}",
        "tile {tile} does not exist: x and y must be below {size}",
    ),
    "format_json_html": (
        "不支持的格式 {value}；请用 json 或 html",
        "unsupported format {value}; use json or html",
    ),
    "parameter_range": (
        "{name} 须在 {low} 到 {high} 之间，收到 {value}",
        "{name} must be between {low} and {high}, got {value}",
    ),
    "parameter_whole_number": ("{name} 应为整数，收到 {value}", "{name} must be a whole number, got {value}"),
    "filter_lang_choice": (
        "filter-lang 应为 cql2-text 或 cql2-json",
        "filter-lang must be cql2-text or cql2-json",
    ),
    "after_feature_id": ("after 应为要素编号，收到 {value}", "after must be a feature id, got {value}"),
    "report_format_xlsx_pdf": ("格式须为 xlsx 或 pdf", "format must be xlsx or pdf"),
    "date_field_unknown": ("没有图层含有日期属性 {name}", "no layer has a date attribute {name}"),
    "measure_unknown_any": ("没有图层声明指标 {name}", "no layer declares a measure {name}"),
    "format_geojson_csv": (
        "不支持的格式 {value}；请用 geojson 或 csv",
        "unsupported format {value}; use geojson or csv",
    ),
    "search_post_needs_polygon": (
        "POST /api/search 须在 geometry 中给出 GeoJSON 多边形",
        "POST /api/search needs a GeoJSON polygon in 'geometry'",
    ),
    "changed_later": (
        "之后又被 {actor} 经由 {via} 于 {at} 修改",
        "changed later by {actor} via {via} at {at}",
    ),
    "export_format_unknown": (
        "未知导出格式 {value}；可选：{choices}",
        "unknown export format {value}; choose from {choices}",
    ),
    "export_labels_unknown": (
        "未知表头方式 {value}；可选：{choices}",
        "unknown labels {value}; choose from {choices}",
    ),
    "export_shp_one_layer": (
        "Shapefile 只能包含一个图层：请逐个图层导出，或选择 gpkg",
        "a Shapefile holds one layer: export each layer separately or choose gpkg",
    ),
    # the embedded database and migrations (registry/cluster.py, registry/migrate.py; CLI)
    "pg_server_missing": (
        "找不到 PostgreSQL 15+ 服务器程序。请安装，例如在 Debian/Ubuntu 上 `apt-get install "
        "postgresql-15 postgresql-15-postgis-3`，或将 REGISTRY_PG_BIN 设为含 initdb 和 pg_ctl "
        "的目录，或设置 DATABASE_URL 使用现有服务器",
        "PostgreSQL 15+ server binaries not found. Install them, e.g. on Debian/Ubuntu `apt-get "
        "install postgresql-15 postgresql-15-postgis-3`, or set REGISTRY_PG_BIN to the folder "
        "holding initdb and pg_ctl, or set DATABASE_URL to use a server.",
    ),
    "postgis_missing": (
        "PostgreSQL {major} 未安装 PostGIS。请安装：`apt-get install "
        "{package}`（Debian/Ubuntu），或本平台适用于 PostgreSQL {major} 的 PostGIS 3 软件包",
        "PostGIS is not installed for PostgreSQL {major}. Install it: `apt-get install {package}` "
        "(Debian/Ubuntu), or your platform's PostGIS 3 package for PostgreSQL {major}.",
    ),
    "cluster_external": (
        "已设置 DATABASE_URL：本系统不管理本地数据库",
        "DATABASE_URL is set: the registry does not manage a local cluster",
    ),
    "cluster_tool_failed": ("{tool} 失败：{reason}", "{tool} failed: {reason}"),
    "cluster_port_in_use": (
        "127.0.0.1 的端口 {port} 已被其他程序占用，内置数据库无法在此启动。请换一个端口，例如 "
        "`REGISTRY_PG_PORT={next} registry db up`，或设置 DATABASE_URL 使用现有服务器",
        "port {port} on 127.0.0.1 is already in use by another program, so the embedded database "
        "cannot start there. Choose another port, e.g. `REGISTRY_PG_PORT={next} registry db up`, or "
        "set DATABASE_URL to use an existing server.",
    ),
    "cluster_cannot_stop": (
        "找不到 PostgreSQL 程序，无法停止数据库",
        "PostgreSQL binaries not found; cannot stop the cluster",
    ),
    "cluster_os_user_missing": (
        "以 root 运行时数据库须以非特权账户运行，但用户 {user} 不存在；请创建（`useradd --system "
        "{name}`）或设置 REGISTRY_PG_OS_USER",
        "running as root, the cluster must run as an unprivileged account, but user {user} does not "
        "exist; create it (`useradd --system {name}`) or set REGISTRY_PG_OS_USER",
    ),
    "migration_version_twice": (
        "{folder} 中有两个迁移文件版本号相同",
        "two migration files share a version number in {folder}",
    ),
    "migration_in_transaction": (
        "migrate() 需要不在事务中的连接",
        "migrate() needs a connection that is not inside a transaction",
    ),
    "migration_file_name": (
        "{name}：迁移文件须命名为 NNNN_slug.sql",
        "{name}: migration files must be named NNNN_slug.sql",
    ),
    "migration_changed": (
        "迁移 {name} 在应用后被修改；请新增迁移，不要修改已应用的迁移",
        "migration {name} was changed after it was applied; add a new migration instead of editing "
        "an applied one",
    ),
    "migration_failed": (
        "迁移 {name} 失败，已回滚：{reason}",
        "migration {name} failed and was rolled back: {reason}",
    ),
    "child_records_unknown": (
        "图层“{layer_zh}”没有子记录“{child}”",
        "layer {layer!r} has no child records {child!r}",
    ),
    # unstorable text (web/textcheck.py)
    "text_has_nul": (
        "{where_zh} {name} 含有空字符 NUL（U+0000），无法保存",
        "{where} {name} contains a NUL character (U+0000), which cannot be stored",
    ),
    "text_has_surrogate": (
        "{where_zh} {name} 含有不成对的代理字符 {char}，不是有效的 Unicode 文本",
        "{where} {name} contains a lone surrogate {char}, which is not valid Unicode text",
    ),
    # the CLI (web/cli*.py)
    "backup_written": (
        "备份已写入：{path}（{mb} MB；{tables} 张表，{rows} 行，{photos} 张照片）",
        "backup written: {path} ({mb} MB; {tables} tables, {rows} rows, {photos} photos)",
    ),
    "backup_archive_ok": (
        "归档完好：由 registry {version} 于 {at} 生成；{files} 个文件，{rows} 行",
        "archive ok: made {at} by registry {version}; {files} files, {rows} rows",
    ),
    "restore_done": (
        "已从 {at} 的备份恢复 {tables} 张表（{rows} 行）和 {photos} 张照片（另有 {present} 张已存在）",
        "restored {tables} tables ({rows} rows) and {photos} photos ({present} already present) "
        "from the backup of {at}",
    ),
    "restore_embedded_running": (
        "内置数据库正在 127.0.0.1:{port} 运行；启动应用：registry serve",
        "the embedded database is running on 127.0.0.1:{port}; start the app: registry serve",
    ),
    "export_done": ("已导出 {n} 个资产到 {path}", "exported {n} assets to {path}"),
    # registry seed-demo (layers/demo.py): its progress lines
    "demo_built": ("演示数据已生成并校验（{s} 秒）", "demo rows built and validated ({s} s)"),
    "demo_layer": (
        "{layer_zh}：{rows} 行，新增 {created}，更新 {updated}，未变 {unchanged}，移除 {removed}（{s} 秒）",
        "{layer_en}: {rows} rows, created {created}, updated {updated}, unchanged {unchanged}, "
        "removed {removed} ({s} s)",
    ),
    "demo_water_tests": (
        "水质检测：新增 {created}，未变 {unchanged}",
        "water tests: created {created}, unchanged {unchanged}",
    ),
    "demo_targets": (
        "年度目标：新增 {created}，更新 {updated}，未变 {unchanged}",
        "campaign targets: created {created}, updated {updated}, unchanged {unchanged}",
    ),
    "demo_places": (
        "地名库：{roads} 条道路，{places} 个地名",
        "places: {roads} roads, {places} named places",
    ),
    "cli_error": ("错误：{message}", "error: {message}"),
    "cli_warning": ("警告：{message}", "warning: {message}"),
    "places_no_name_column": (
        "没有名称列 {column}；现有列：{columns}",
        "no column {column}; columns are: {columns}",
    ),
    "places_loaded": ("地名库已从 {file} 载入 {n} 条", "{n} gazetteer entries loaded from {file}"),
    # the operator CLI's progress and result lines (web/cli*.py, printed by cli_lang.tell)
    "cli_db_external": (
        "已设置 DATABASE_URL：使用该服务器，不管理本地数据库",
        "DATABASE_URL is set: using that server; no local cluster is managed.",
    ),
    "db_started": (
        "数据库已启动：127.0.0.1:{port}（数据目录 {data}）",
        "database started on 127.0.0.1:{port} (data in {data})",
    ),
    "db_already_running": (
        "数据库已在运行：127.0.0.1:{port}（数据目录 {data}）",
        "database already running on 127.0.0.1:{port} (data in {data})",
    ),
    "db_stopped": ("数据库已停止", "database stopped"),
    "db_was_not_running": ("数据库本未运行", "database was not running"),
    "db_status_running": (
        "数据库正在运行（进程 {pid}）；端口 {port}；数据目录 {data}",
        "database running (pid {pid}); port {port}; data {data}",
    ),
    "db_status_stopped": (
        "数据库未运行；端口 {port}；数据目录 {data}",
        "database stopped; port {port}; data {data}",
    ),
    "db_running_on": ("数据库正在运行：127.0.0.1:{port}", "database running on 127.0.0.1:{port}"),
    "migrations_applied": ("已应用迁移：{names}", "migrations applied: {names}"),
    "migrations_none": ("已应用迁移：无（已是最新）", "migrations applied: none (up to date)"),
    "districts_changed": ("区县边界变更：{n}", "district boundaries changed: {n}"),
    "password_prompt": (
        "{username} 的密码（留空则自动生成）",
        "password for {username} (empty: generate one)",
    ),
    "password_repeat": ("再次输入密码", "repeat the password"),
    "passwords_differ": ("两次输入的密码不一致", "the passwords differ"),
    "password_shown_once": (
        "密码（只显示这一次，请记下）：{password}",
        "password (shown once, write it down): {password}",
    ),
    "user_created": ("已创建用户 {username}，角色 {role}", "user {username} created with role {role}"),
    "user_state_active": ("正常", "active"),
    "user_state_disabled": ("已停用", "disabled"),
    "user_never_logged_in": ("从未", "never"),
    "user_list_row": (
        "{username} {role} {state} 最近登录 {last}  {name}",
        "{username} {role} {state} last login {last}  {name}",
    ),
    "user_disabled": ("已停用用户 {username}", "user {username} disabled"),
    "user_enabled": ("已启用用户 {username}", "user {username} enabled"),
    "user_role_set": ("用户 {username} 的角色已改为 {role}", "user {username} now has role {role}"),
    "password_changed": ("用户 {username} 的密码已更改", "password of {username} changed"),
    "first_admin_generated": (
        "已创建首个账户：admin / {password}（只显示这一次，请记下）",
        "first account created: admin / {password}  (shown once: write it down)",
    ),
    "first_admin_from_env": (
        "已创建首个账户：admin（密码取自 REGISTRY_ADMIN_PASSWORD）",
        "first account created: admin (password from REGISTRY_ADMIN_PASSWORD)",
    ),
    "serving_on": (
        "正在提供服务：http://{host}:{port}（健康检查：http://{host}:{port}/health）",
        "serving on http://{host}:{port}  (health: http://{host}:{port}/health)",
    ),
    "ready_in": ("准备就绪，用时 {seconds} 秒", "ready in {seconds} s"),
    "import_progress": ("导入 {file}", "importing {file}"),
    "row_level_error": ("错误", "error"),
    "row_level_warning": ("警告", "warning"),
    "import_codes_generated": (
        "编号由系统生成 {n} 个：{first} … {last}",
        "codes generated for {n} rows: {first} … {last}",
    ),
    "import_status_committed": ("已写入", "committed"),
    "import_status_dry_run": ("试导入（未写入）", "dry run (nothing written)"),
    "import_status_rejected": ("已拒绝（未写入）", "rejected (nothing written)"),
    "import_result": (
        "{status}：读取 {rows} 行：新增 {created}，更新 {updated}，未变 {unchanged}，"
        "拒绝 {rejected}，警告 {warnings}",
        "{status}: read {rows} rows: {created} created, {updated} updated, {unchanged} unchanged, "
        "{rejected} rejected, {warnings} with warnings",
    ),
    "import_undone": ("已撤销：{result}", "undone: {result}"),
    "scope_whole_city": ("全市", "whole city"),
    "target_set_done": (
        "{year} 年 {layer_zh} {measure_zh}（{scope}）：目标 {target}，已完成 {done}",
        "{year} {layer} {measure} ({scope}): target {target}, done {done}",
    ),
    "target_row": (
        "{year} {layer}.{measure} {scope}：已完成 {done} / 目标 {target} = {percent}%（{measure_zh}）",
        "{year} {layer}.{measure} {scope}: {done} / {target} = {percent}%  ({measure_en})",
    ),
    "targets_none": ("{year}：尚未设定目标", "{year}: no targets"),
    "measures_list": ("指标：{measures}", "measures: {measures}"),
    "target_removed": ("已删除", "removed"),
    "target_not_found": ("无此目标", "no such target"),
    "report_written": ("已写入 {path}（{size} 字节）", "wrote {path} ({size} bytes)"),
    "photo_unreadable": ("{name}：无法识别的图片", "{name} is not a readable image"),
    "photo_too_large_mb": ("{name}：照片超过 {max_mb} MB", "{name}: photo over {max_mb} MB"),
}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def params_of(code: str) -> set[str]:
    """Parameter names a code's templates use (both languages use the same)."""
    zh, en = MESSAGES[code]
    return _fields(zh) | _fields(en)


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        # an English-only parameter (``allowed_en``) missing from params stored before
        # it existed: its plain one stands in
        if key.endswith("_en") and key[:-3] in self:
            return str(self[key[:-3]])
        return "{" + key + "}"


def nested(code: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A message used as a parameter of another (a reason inside "--set x=y: <reason>"),
    kept as data (JSON-ready) and rendered in the same language as the outer one."""
    return {"msg": code, "params": dict(params or {})}


def _filled(params: Mapping[str, Any], lang: str) -> _Params:
    out = _Params()
    for key, value in params.items():
        if isinstance(value, Mapping) and "msg" in value:
            value = render(str(value["msg"]), value.get("params") or {}, lang)
        elif (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, Mapping) and "msg" in v for v in value)
        ):
            # several nested messages (each missing field of a step): joined as the language lists
            value = ("；" if lang == "zh" else "; ").join(
                render(str(v["msg"]), v.get("params") or {}, lang) for v in value
            )
        out[key] = value
    return out


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = "zh") -> str:
    """The message ``code`` in ``lang`` (``zh``, else English), parameters filled in
    (a parameter made by :func:`nested` is rendered in ``lang`` too).

    An unknown code renders as the code itself (never an exception while reporting).
    """
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    template = pair[0] if lang == "zh" else pair[1]
    return template.format_map(_filled(params or {}, lang))


def problem(field: str, code: str, value: Any = None, *, level: str = "error", **params: Any) -> Problem:
    """A :class:`Problem` carrying its message code and parameters: whoever shows it
    renders it in the reader's language (:func:`text_of`); ``message`` is its English
    rendering (logs), as ``RegistryError.with_message`` keeps it, never a 中文 / English pair."""
    message = render(code, params, "en")
    return Problem(field, message, value, level, code=code, params=params)


def text_of(p: Problem, lang: str = "zh") -> str:
    """A problem in ``lang``: from its code when it has one, else its message as given."""
    return render(p.code, p.params, lang) if p.code else p.message
