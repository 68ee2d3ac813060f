"""The import report: one line per row that needs attention (and per written row, up to
a cap), with the row number, field, value and reason, plus the summary counts.

Reasons are produced in English by the validators and translated here; Chinese is
the default language of reports. Unknown (layer-specific) reasons are shown as they are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# Rows listed individually even when they are fine: enough for any survey file, bounded
# for million-row loads (every problem row is always listed).
MAX_OK_ROWS = 5000

_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^required field is missing$"), "必填字段缺失"),
    (re.compile(r"^required field is empty$"), "必填字段为空"),
    (re.compile(r"^expected a whole number$"), "应为整数"),
    (re.compile(r"^expected a whole number between (\S+) and (\S+)$"), r"应为 \1 到 \2 之间的整数"),
    (re.compile(r"^expected text, not a JSON object or list$"), "应为文本，而非 JSON 对象或数组"),
    (re.compile(r"^expected a finite number$"), "应为有限数值"),
    (re.compile(r"^expected a number$"), "应为数字"),
    (re.compile(r"^expected a date such as (.+)$"), r"应为日期，例如 \1"),
    (re.compile(r"^expected yes/no \(是/否\)$"), "应为 是/否"),
    (re.compile(r"^unreadable value$"), "无法识别的值"),
    (re.compile(r"^not an allowed value; allowed: (.+)$"), r"不是允许的取值；允许：\1"),
    (re.compile(r"^must be ≥ (.+)$"), r"必须 ≥ \1"),
    (re.compile(r"^must be ≤ (.+)$"), r"必须 ≤ \1"),
    (re.compile(r"^geometry is missing or empty$"), "几何缺失或为空"),
    (re.compile(r"^(\w+) not allowed in this layer; expected (.+)$"), r"本图层不允许 \1 几何；应为 \2"),
    (re.compile(r"^invalid geometry: (.+)$"), r"几何无效：\1（可使用“修复几何”选项）"),
    (re.compile(r"^duplicate code in the file \(rows (.+)\)$"), r"文件内编号重复（第 \1 行）"),
    (
        re.compile(r"^within (.+) m of existing asset (.+) of this layer$"),
        r"与本图层已有资产 \2 相距不足 \1 米，可能重复",
    ),
    (
        re.compile(r"^outside Jiaozuo \(no district within 2 km\)(.*)$"),
        r"位于焦作市范围之外（2 公里内无区县）\1",
    ),
    (re.compile(r"^; swapping x and y would put it inside$"), "；交换 x/y 后位于市内"),
    (re.compile(r"^geometry repaired: (.+)$"), r"几何已修复：\1"),
    (re.compile(r"^not a number: (.+)$"), r"不是数字：\1"),
    (re.compile(r"^unreadable WKT: (.+)$"), r"无法解析的 WKT：\1"),
    (re.compile(r"^photo (.+) not found in the archive$"), r"压缩包中找不到照片 \1"),
    (re.compile(r"^photo name (.+) is not a safe file name$"), r"照片名 \1 不是安全的文件名"),
]
_HINTS = [
    ("; swapping x and y would put it inside", "；交换 x/y 后即位于市内"),
    ("; with --crs ", "；若使用 --crs "),
    (" it would be inside", " 则位于市内"),
]


def translate(reason: str, lang: str = "zh") -> str:
    """The reason in the report language (English text is the source)."""
    if lang != "zh":
        return reason
    head, sep, tail = reason.partition("; ")
    for pattern, repl in _ZH:
        if pattern.match(reason):
            out = pattern.sub(repl, reason)
            for en, zh in _HINTS:
                out = out.replace(en, zh)
            return out
        if sep and pattern.match(head):
            out = pattern.sub(repl, head) + "; " + tail
            for en, zh in _HINTS:
                out = out.replace(en, zh)
            return out
    return reason


@dataclass
class ReportRow:
    """One finding (or one written row): ``level`` is ok, warning or error."""

    row: int
    level: str
    field: str = ""
    value: Any = None
    reason: str = ""
    code: str | None = None
    action: str | None = None  # created / updated / unchanged / rejected


@dataclass
class ImportReport:
    """Everything the user needs to fix a file and re-import it."""

    layer: str
    file_name: str
    import_id: str | None = None
    crs: str | None = None
    dry_run: bool = False
    status: str = "running"
    rows: list[ReportRow] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    mapping: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    ok_rows_listed: int = 0

    def add(self, row: ReportRow) -> None:
        """Record a finding; ok rows only up to ``MAX_OK_ROWS``."""
        if row.level == "ok":
            if self.ok_rows_listed >= MAX_OK_ROWS:
                return
            self.ok_rows_listed += 1
        self.rows.append(row)

    @property
    def error_rows(self) -> set[int]:
        """Row numbers with at least one error."""
        return {r.row for r in self.rows if r.level == "error"}

    @property
    def has_errors(self) -> bool:
        """True when any row has an error."""
        return any(r.level == "error" for r in self.rows)

    def summary(self) -> dict[str, int]:
        """created / updated / unchanged / rejected / warnings, always all keys."""
        keys = ("created", "updated", "unchanged", "rejected", "warnings", "photos")
        return {k: int(self.counts.get(k, 0)) for k in keys} | {"rows": self.rows_read}

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """JSON-ready report, reasons in ``lang``."""
        rows = []
        for r in sorted(self.rows, key=lambda r: (r.row, r.level != "error")):
            d = asdict(r)
            d["reason"] = translate(r.reason, lang)
            d["value"] = _jsonable(r.value)
            rows.append(d)
        return {
            "import_id": self.import_id,
            "layer": self.layer,
            "file_name": self.file_name,
            "crs": self.crs,
            "dry_run": self.dry_run,
            "status": self.status,
            "summary": self.summary(),
            "mapping": self.mapping,
            "extra_columns": self.extra_columns,
            "rows": rows,
            "lang": lang,
        }

    def to_json(self, lang: str = "zh") -> str:
        """The report as JSON text."""
        return json.dumps(self.as_dict(lang), ensure_ascii=False, indent=1)

    def to_csv(self, lang: str = "zh") -> str:
        """The row findings as CSV (UTF-8 with BOM so Excel shows Chinese)."""
        return rows_to_csv(self.as_dict(lang)["rows"], lang)


_CSV_HEADERS = {
    "zh": ["行号", "级别", "编号", "字段", "值", "原因", "处理"],
    "en": ["row", "level", "code", "field", "value", "reason", "action"],
}
_LEVEL_ZH = {"ok": "正常", "warning": "警告", "error": "错误"}
_ACTION_ZH = {"created": "新增", "updated": "更新", "unchanged": "未变", "rejected": "拒绝"}


def rows_to_csv(rows: list[dict[str, Any]], lang: str = "zh") -> str:
    """Report rows (as in ``as_dict``) → CSV text with a BOM."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(_CSV_HEADERS["zh" if lang == "zh" else "en"])
    for r in rows:
        level, action = r["level"], r.get("action") or ""
        if lang == "zh":
            level, action = _LEVEL_ZH.get(level, level), _ACTION_ZH.get(action, action)
        value = r["value"]
        w.writerow(
            [
                r["row"],
                level,
                r.get("code") or "",
                r["field"],
                "" if value is None else value,
                r["reason"],
                action,
            ]
        )
    return "\ufeff" + buf.getvalue()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value if value == value else None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return str(value)
