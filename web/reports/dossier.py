"""The hazard dossier (一患一档) as a printable PDF: a location map (the point over its
district's outline and the roads' assets around it, drawn as vectors in the PDF),
the attributes, photos, every lifecycle step with who and when, inspections and the
full change history."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Image, SimpleDocTemplate, Spacer

from registry.clock import CHINA
from registry.errors import FeatureNotFound
from registry.inspections import list_inspections
from registry.spec import LayerSpec
from web.reports.pdf import chinese_font, para, table
from web.routes.photos import photo_path

MAP_W, MAP_H = 180 * mm, 95 * mm
MAX_PHOTOS = 6


def _record(conn: psycopg.Connection, spec: LayerSpec, asset_id: Any) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL(
                "SELECT t.*, ST_X(ST_PointOnSurface(t.geom)) AS lon, ST_Y(ST_PointOnSurface(t.geom)) AS lat, "
                "d.name_zh AS district_zh, "
                "ST_AsGeoJSON(ST_SimplifyPreserveTopology(d.geom, 0.0005), 5) AS outline "
                "FROM {} t JOIN districts d ON d.code = t.district_code "
                "WHERE t.id = %s AND t.deleted_at IS NULL"
            ).format(sql.Identifier(spec.name)),
            (asset_id,),
        ).fetchone()
    if row is None:
        raise FeatureNotFound("").with_message(
            "asset_not_found", layer=spec.name, layer_zh=spec.zh, id=str(asset_id)
        )
    return row


def _neighbours(conn: psycopg.Connection, spec: LayerSpec, rec: dict[str, Any]) -> list[tuple[float, float]]:
    rows = conn.execute(
        sql.SQL(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM {} "
            "WHERE deleted_at IS NULL AND id <> %s AND ST_DWithin(geom::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4490)::geography, 3000) LIMIT 300"
        ).format(sql.Identifier(spec.name)),
        (rec["id"], rec["lon"], rec["lat"]),
    ).fetchall()
    return [(float(x), float(y)) for x, y in rows]


def location_map(conn: psycopg.Connection, spec: LayerSpec, rec: dict[str, Any]) -> Drawing:
    """The district outline (left) and a 3 km close-up with the layer's other assets
    (right), the hazard in red, with a scale bar; lon/lat drawn equirectangular."""
    import math

    d = Drawing(MAP_W, MAP_H)
    font = chinese_font()
    lon0, lat0 = float(rec["lon"]), float(rec["lat"])
    kx = math.cos(math.radians(lat0))
    outline = json.loads(rec["outline"])
    polys = outline["coordinates"] if outline["type"] == "MultiPolygon" else [outline["coordinates"]]
    rings = [ring for poly in polys for ring in poly[:1]]
    xs = [x for r in rings for x, _ in r]
    ys = [y for r in rings for _, y in r]

    def panel(x0: float, w: float, bounds: tuple[float, float, float, float]) -> Any:
        minx, miny, maxx, maxy = bounds
        s = min((w - 8) / ((maxx - minx) * kx), (MAP_H - 20) / (maxy - miny))
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        return lambda lon, lat: (x0 + w / 2 + (lon - cx) * kx * s, MAP_H / 2 + (lat - cy) * s), s

    half = MAP_W / 2 - 4
    to_a, _ = panel(0, half, (min(xs), min(ys), max(xs), max(ys)))
    for r in rings:
        pts = [c for x, y in r for c in to_a(x, y)]
        d.add(PolyLine(pts, strokeColor=colors.HexColor("#1f4e79"), strokeWidth=0.8))
    px, py = to_a(lon0, lat0)
    d.add(Circle(px, py, 3, fillColor=colors.red, strokeColor=colors.white))
    d.add(String(4, MAP_H - 10, f"{rec['district_zh']} 区位", fontName=font, fontSize=8))
    # close-up: 3 km square around the hazard
    dlat = 1500 / 111_320
    dlon = dlat / kx
    to_b, s_b = panel(MAP_W / 2 + 4, half, (lon0 - dlon, lat0 - dlat, lon0 + dlon, lat0 + dlat))
    x_left = MAP_W / 2 + 4
    d.add(
        PolyLine(
            [x_left, 10, x_left + half, 10, x_left + half, MAP_H - 10, x_left, MAP_H - 10, x_left, 10],
            strokeColor=colors.HexColor("#999999"),
            strokeWidth=0.5,
        )
    )
    for x, y in _neighbours(conn, spec, rec):
        nx, ny = to_b(x, y)
        if x_left <= nx <= x_left + half and 10 <= ny <= MAP_H - 10:
            d.add(Circle(nx, ny, 1.3, fillColor=colors.HexColor("#888888"), strokeColor=None))
    bx, by = to_b(lon0, lat0)
    d.add(Circle(bx, by, 4, fillColor=colors.red, strokeColor=colors.black, strokeWidth=0.5))
    # 500 m scale bar
    bar = 500 / 111_320 * s_b
    d.add(Line(x_left + 6, 16, x_left + 6 + bar, 16, strokeWidth=1.5))
    d.add(String(x_left + 6, 19, "500 m", fontName=font, fontSize=7))
    d.add(
        String(
            x_left + 4,
            MAP_H - 8,
            f"周边 3 km（灰点：同类资产）  {lat0:.6f}, {lon0:.6f}",
            fontName=font,
            fontSize=7,
        )
    )
    return d


def _photos(conn: psycopg.Connection, rec: dict[str, Any], data_dir: Path) -> list[tuple[Path, str]]:
    rows = conn.execute(
        "SELECT sha256, file_name FROM asset_photos WHERE asset_id = %s "
        "ORDER BY created_at, file_name LIMIT %s",
        (rec["id"], MAX_PHOTOS),
    ).fetchall()
    out = []
    for sha, name in rows:
        path = photo_path(data_dir, sha)
        if path is not None:
            out.append((path, name))
    return out


def _value(spec: LayerSpec, name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    attr = next((a for a in spec.all_attrs if a.name == name), None)
    if attr and attr.choices:
        c = attr.choice(str(value))
        if c:
            return c.zh
    if isinstance(value, bool):
        return "是" if value else "否"
    unit = f" {attr.unit}" if attr and attr.unit else ""
    return f"{value}{unit}"


def _lifecycle(conn: psycopg.Connection, spec: LayerSpec, rec: dict[str, Any]) -> list[list[Any]]:
    """Each step reached: from the workflow's events when there are any, else from the
    step dates and people recorded on the asset."""
    rows: list[list[Any]] = []
    status_zh = {c.code: c.zh for c in spec.statuses}
    if conn.execute("SELECT to_regclass('workflow_events')").fetchone()[0]:
        for kind, frm, to, actor, at, comment, evidence in conn.execute(
            "SELECT kind, from_status, to_status, actor, at, comment, evidence FROM workflow_events "
            "WHERE asset_id = %s ORDER BY id",
            (rec["id"],),
        ):
            rows.append(
                [
                    at.strftime("%Y-%m-%d %H:%M"),
                    f"{status_zh.get(frm, frm)} → {status_zh.get(to, to)}"
                    + ("（重新打开）" if kind == "reopen" else ""),
                    actor,
                    "；".join(
                        x
                        for x in (comment, json.dumps(evidence, ensure_ascii=False) if evidence else "")
                        if x
                    ),
                ]
            )
    if rows:
        return rows
    for step in ("found", "assigned", "remediated", "closed"):
        on, by = rec.get(f"{step}_on"), rec.get(f"{step}_by")
        if on or by:
            rows.append([str(on or "—"), status_zh.get(step, step), by or "—", ""])
    return rows


def _history(conn: psycopg.Connection, rec: dict[str, Any]) -> list[list[Any]]:
    action_zh = {"create": "新建", "update": "修改", "delete": "删除", "restore": "恢复"}
    child_zh = {"water_tests": "水质检测", "inspections": "巡查记录"}
    rows = []
    for at, action, actor, via, child, changed, comment in conn.execute(
        "SELECT at, action, actor, via, child_table, changed, comment FROM asset_history "
        "WHERE asset_id = %s ORDER BY id",
        (rec["id"],),
    ):
        what = action_zh.get(action, action)
        if child:
            what = f"{child_zh.get(child, child)}：{what}"
        rows.append(
            [at.strftime("%Y-%m-%d %H:%M"), what, actor, via, "、".join(changed or []) or (comment or "")]
        )
    return rows


def _outcome(conn: psycopg.Connection, spec: LayerSpec, inspection: dict[str, Any]) -> list[str]:
    """What the inspection changed on the asset and the hazard it raised, in words."""
    out = [
        f"巡查变更：{spec.attr(k).zh} → {_value(spec, k, v)}"
        for k, v in (inspection.get("changes") or {}).items()
        if k in {a.name for a in spec.all_attrs}
    ]
    raised = inspection.get("raised")
    if raised:
        row = conn.execute("SELECT code FROM assets WHERE id = %s", (raised["id"],)).fetchone()
        out.append(f"上报隐患：{row[0] if row else raised['id']}")
    return out


def dossier_pdf(conn: psycopg.Connection, spec: LayerSpec, asset_id: Any, *, data_dir: Path) -> bytes:
    """一患一档: the printable file of one asset (designed for road voids; any layer works)."""
    rec = _record(conn, spec, asset_id)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"一患一档 {rec['code']}",
        author="焦作市城市管理局",
    )
    status = next((c.zh for c in spec.statuses if c.code == rec["status"]), rec["status"])
    story: list[Any] = [
        para(f"一患一档 · {spec.zh} {rec['code']}", "title"),
        para(f"Hazard dossier · {spec.en} · {rec['district_zh']} · 当前状态 {status}", "subtitle"),
        Spacer(1, 3 * mm),
        para("一、位置 Location", "h2"),
        location_map(conn, spec, rec),
        para("二、基本信息 Attributes", "h2"),
    ]
    attrs = [[a.zh, _value(spec, a.name, rec.get(a.name))] for a in spec.all_attrs]
    attrs.insert(1, ["行政区", rec["district_zh"]])
    attrs += [["登记人", rec["created_by"]], ["登记时间", rec["created_at"].strftime("%Y-%m-%d %H:%M")]]
    half = (len(attrs) + 1) // 2
    left, right = attrs[:half], attrs[half:] + [["", ""]] * (half - len(attrs[half:]))
    story.append(
        table(
            ["项目", "内容", "项目", "内容"],
            [a + b for a, b in zip(left, right, strict=True)],
            [28, 62, 28, 62],
        )
    )
    story.append(para("三、处置流程 Lifecycle (排查—确权—整治—销号)", "h2"))
    steps = _lifecycle(conn, spec, rec)
    story.append(
        table(["时间", "环节", "办理人", "说明/证据"], steps, [30, 50, 30, 70])
        if steps
        else para("（无）", "small")
    )
    story.append(para("四、巡查记录 Inspections", "h2"))
    inspections = [
        [
            # the bureau's time (CST), as the inspector noted it
            dt.datetime.fromisoformat(i["inspected_at"]).astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
            i["inspector"],
            i["result_zh"],
            "；".join(filter(None, [i["notes"], *_outcome(conn, spec, i)])),
            len(i["photos"]),
        ]
        for i in list_inspections(conn, spec, rec["id"])
    ]
    story.append(
        table(["巡查时间", "巡查人", "结果", "备注", "照片"], inspections, [32, 26, 24, 84, 14])
        if inspections
        else para("（无巡查记录 no inspections）", "small")
    )
    story.append(para("五、现场照片 Photos", "h2"))
    photos = _photos(conn, rec, data_dir)
    if not photos:
        story.append(para("（无照片 no photos）", "small"))
    for path, name in photos:
        try:
            img = Image(str(path))
            scale = min(85 * mm / img.imageWidth, 60 * mm / img.imageHeight, 1)
            img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
            story += [img, para(name, "small")]
        except Exception:  # an image reportlab cannot read is named, not drawn
            story.append(para(f"{name}（无法显示 cannot be drawn）", "small"))
    story.append(para("六、变更记录 History", "h2"))
    story.append(
        table(["时间", "操作", "操作人", "途径", "变更字段/说明"], _history(conn, rec), [30, 30, 24, 26, 70])
    )
    doc.build(story)
    return buf.getvalue()
