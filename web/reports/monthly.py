"""The monthly report (月报) as XLSX and PDF, in Chinese (English in the headings):
targets against done, the month's and the year's figures, overdue and failing assets,
asset counts per layer and status, and the hazards opened and closed in the month.

Both formats lay out the same dict, :func:`registry.dashboard.monthly_report`.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from web.reports.pdf import number, para, table


class Labels:
    """Chinese names of the layers, statuses and districts in a report's data."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.layers = {layer["name"]: layer["zh"] for layer in data["layers"]}
        self.statuses = {
            (layer["name"], s["code"]): s["zh"] for layer in data["layers"] for s in layer["statuses"]
        }
        self.districts = {d["code"]: d["zh"] for d in data["districts"]}

    def layer(self, name: str) -> str:
        """Layer name in Chinese."""
        return self.layers.get(name, name)

    def status(self, layer: str, code: str) -> str:
        """Status label in Chinese."""
        return self.statuses.get((layer, code), code)

    def district(self, code: str | None) -> str:
        """District name, 全市 for the whole city."""
        return "全市" if not code else self.districts.get(code, code)


def title(data: dict[str, Any]) -> str:
    """``焦作市城市管理专项整治月报（2026年11月）``."""
    year, month = data["month"].split("-")
    return f"焦作市城市管理专项整治月报（{int(year)}年{int(month)}月）"


def _sections(data: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table of the report: title → (header, rows), shared by XLSX and PDF."""
    lab = Labels(data)
    targets = [
        [
            lab.layer(t["layer"]),
            t["zh"],
            lab.district(t["district"]),
            t["target"],
            t["done"],
            f"{t['percent']}%",
        ]
        for t in data["targets"]
    ]
    # 备注, when a figure leaves assets out for want of their date (bays in use with no
    # opening date): the reader must not take the smaller number for less work done
    notes = [r["note"]["zh"] if r.get("note") else "" for r in data["trend"]]
    figures = [
        [lab.layer(r["layer"]), r["zh"], r["month"], r["year_to_date"], r["unit_zh"]]
        + ([note] if any(notes) else [])
        for r, note in zip(data["trend"], notes, strict=True)
    ]
    flags = [
        [
            lab.layer(f["layer"]),
            f["zh"],
            f["total"],
            "；".join(f"{lab.district(d)} {n}" for d, n in sorted(f["by_district"].items())),
        ]
        for f in data["flags"]
    ]
    per_status: dict[tuple[str, str], int] = defaultdict(int)
    for c in data["counts"]:
        per_status[(c["layer"], c["status"])] += c["n"]
    counts = [[lab.layer(layer), lab.status(layer, status), n] for (layer, status), n in per_status.items()]
    per_district = [
        [lab.layer(c["layer"]), lab.district(c["district"]), lab.status(c["layer"], c["status"]), c["n"]]
        for c in data["counts"]
    ]
    hz = data["hazard_layer"]["name"]
    grades = data["hazard_layer"].get("choices", {}).get("risk_grade", {})

    def hazards(rows: list[dict[str, Any]]) -> list[list[Any]]:
        return [
            [
                r["code"],
                lab.district(r["district_code"]),
                r.get("road_name") or "",
                # the short label (Ⅰ级, without its gloss) fits the column
                grades.get(r.get("risk_grade") or "", r.get("risk_grade") or "").split("（")[0],
                lab.status(hz, r["status"]),
                r.get("found_on") or "",
                r.get("closed_on") or "",
                r.get("responsible_unit") or "",
            ]
            for r in rows
        ]

    hazard_header = ["编号", "行政区", "道路", "风险等级", "状态", "排查日期", "销号日期", "责任单位"]
    return {
        "一、年度目标完成情况 Targets and completion": (
            ["图层", "指标", "范围", "目标", "完成", "完成率"],
            targets,
        ),
        "二、本月及年度累计 This month and year to date": (
            ["图层", "指标", "本月", "年度累计", "单位"] + (["备注"] if any(notes) else []),
            figures,
        ),
        "三、逾期与不合格 Overdue and failing": (["图层", "事项", "数量", "分区"], flags),
        "四、资产状态统计 Assets by status": (["图层", "状态", "数量"], counts),
        "五、本月新发现隐患 Hazards opened this month": (hazard_header, hazards(data["opened"])),
        "六、本月销号隐患 Hazards closed this month": (hazard_header, hazards(data["closed"])),
        "附：分区资产统计 Assets by district and status": (["图层", "行政区", "状态", "数量"], per_district),
    }


def to_xlsx(data: dict[str, Any]) -> bytes:
    """One workbook: a summary sheet (title and the first three tables) and a sheet
    per remaining table."""
    wb = Workbook()
    summary = wb.active
    summary.title = "月报概览"
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="E8EEF5")
    summary.append([title(data)])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([f"统计截至 As of {data['as_of']}；年度 Year {data['year']}"])
    sections = _sections(data)
    for i, (name, (header, rows)) in enumerate(sections.items()):
        if i < 3:
            ws = summary
            ws.append([])
            ws.append([name])
            ws.cell(ws.max_row, 1).font = bold
        else:
            ws = wb.create_sheet(name.split(" ")[0].split("、")[-1].replace("：", "")[:31])
            ws.append([name])
            ws.cell(1, 1).font = bold
        ws.append(header)
        for c in range(1, len(header) + 1):
            ws.cell(ws.max_row, c).font = bold
            ws.cell(ws.max_row, c).fill = head_fill
        for row in rows:
            ws.append(row)
    for ws in wb.worksheets:
        for col in ws.columns:
            width = max(
                (
                    len(str(c.value)) * (2 if any(ord(ch) > 255 for ch in str(c.value)) else 1)
                    for c in col
                    if c.value is not None and c.row > 1
                ),
                default=8,
            )
            ws.column_dimensions[col[0].column_letter].width = min(max(width + 2, 8), 48)
            for c in col:
                c.alignment = Alignment(vertical="top", wrap_text=False)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_pdf(data: dict[str, Any]) -> bytes:
    """A4 portrait, the same tables as the workbook."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title(data),
        author="焦作市城市管理局 Jiaozuo urban management bureau",
    )
    year, month = data["month"].split("-")
    story: list[Any] = [
        para(title(data), "title"),
        para(
            f"统计截至 {data['as_of']} · Jiaozuo urban management campaigns, monthly report {year}-{month}",
            "subtitle",
        ),
        Spacer(1, 4 * mm),
    ]
    widths = {
        0: [30, 52, 22, 24, 24, 22],
        1: [34, 70, 24, 26, 20],
        2: [30, 40, 18, 86],
        3: [60, 60, 40],
        4: [26, 16, 30, 14, 16, 20, 20, 40],
        5: [26, 16, 30, 14, 16, 20, 20, 40],
        6: [50, 40, 50, 30],
    }
    for i, (name, (header, rows)) in enumerate(_sections(data).items()):
        story.append(para(name, "h2"))
        if not rows:
            story.append(para("（无 none）", "small"))
            continue
        shown = [[number(v) if isinstance(v, int | float) else v for v in r] for r in rows]
        # the figures with their 备注 column: narrower figures, room for the notes
        width = [30, 48, 18, 22, 14, 50] if len(header) == 6 and i == 1 else widths.get(i)
        story.append(table(header, shown, width))
    doc.build(story)
    return buf.getvalue()
