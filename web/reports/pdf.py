"""PDF building blocks with a font that draws Chinese.

reportlab (BSD) writes PDFs in pure Python and embeds a subset of a TrueType font, so
the report opens on any machine and its text can be searched and extracted. The font
is WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``, the .ttc the set-up installs);
without it, reportlab's built-in Adobe CID font STSong-Light is used, which needs no
file but relies on the PDF reader's own Chinese fonts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, Table, TableStyle

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)


@functools.cache
def chinese_font() -> str:
    """The registered name of a font that draws Chinese (see the module docstring)."""
    for path in FONT_CANDIDATES:
        if path.exists():
            pdfmetrics.registerFont(TTFont("RegistryCJK", str(path), subfontIndex=0))
            return "RegistryCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    """Title, heading, body and small styles in the Chinese font."""
    font = chinese_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=17, leading=23, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=14, textColor=colors.grey),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11),
        "small": ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, textColor=colors.grey),
    }


def para(text: Any, style: str = "body") -> Paragraph:
    """A paragraph of plain text (escaped: record values never become markup)."""
    return Paragraph(escape("" if text is None else str(text)), styles()[style])


def table(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    """A bordered table with a shaded header row; cells wrap."""
    data = [[para(h, "cell") for h in header]] + [[para(v, "cell") for v in row] for row in rows]
    t = Table(data, colWidths=[w * mm for w in widths] if widths else None, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return t


def number(v: float) -> str:
    """A count without a trailing .0; other numbers with up to two decimals."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"
