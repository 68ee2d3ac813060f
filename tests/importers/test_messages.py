"""Every message code has its Chinese and English template, every code the code uses is
in the table, and every layer's attributes and choices are labelled in both languages."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest

from layers import ALL_LAYERS
from registry.messages import MESSAGES, params_of, render
from registry.settings import PROJECT_ROOT

_CJK = re.compile(r"[\u4e00-\u9fff]")
_USES = re.compile(
    r"""(?:\bproblem\(\s*[^,()]+,\s*|\.of\(\s*|\b(?:render|nested|say|tell|_damaged|_too_complex)\(\s*"""
    r"""|\.with_message\(\s*|TileFileError\(\s*|error_entry\(\s*[^,()]+,\s*)"([a-z0-9_]+)\""""
)
# a message string written in both languages: Chinese, then " / " (or "）/ ") and English
_BOTH = re.compile(r"[\u4e00-\u9fff][^\n]*?[\s\u3000-\u303f\uff00-\uffef]/ +[A-Za-z{]")
# (the CLI's ``tell("db_started" if started else "db_already_running", …)`` too)
_CONDITIONAL = re.compile(r'(?:code = |\btell\(\s*)"([a-z0-9_]+)" if .* else "([a-z0-9_]+)"')


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_code_renders_in_both_languages(code: str) -> None:
    zh, en = MESSAGES[code]
    assert zh.strip() and en.strip()
    assert _CJK.search(zh), f"{code}: the Chinese template has no Chinese"
    params = {p: f"<{p}>" for p in params_of(code)}
    for lang in ("zh", "en"):
        text = render(code, params, lang)
        assert "{" not in text and "}" not in text, (code, lang, text)
    assert not _CJK.search(render(code, params, "en").replace("是/否", "")), f"{code}: Chinese in English"


def test_every_code_used_in_the_code_is_in_the_table() -> None:
    used: dict[str, str] = {}
    # (web/ has RFC 9457 problem() helpers of its own: not these codes)
    for folder in ("registry", "importers", "layers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for m in _USES.finditer(text):
                used.setdefault(m.group(1), str(path.relative_to(PROJECT_ROOT)))
            for m in _CONDITIONAL.finditer(text):
                for code in m.groups():
                    used.setdefault(code, str(path.relative_to(PROJECT_ROOT)))
    # web/ has problem() helpers of its own, but its errors name codes of the table
    # (.of, .with_message, render, nested, the CLI's say and tell)
    for path in (PROJECT_ROOT / "web").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for m in _USES.finditer(text):
            if not m.group(0).startswith("problem("):
                used.setdefault(m.group(1), str(path.relative_to(PROJECT_ROOT)))
        for m in _CONDITIONAL.finditer(text):
            for code in m.groups():
                used.setdefault(code, str(path.relative_to(PROJECT_ROOT)))
    assert len(used) > 200  # (the scan finds the calls)
    missing = {c: where for c, where in used.items() if c not in MESSAGES}
    assert not missing, f"message codes without a translation: {missing}"


def test_file_level_import_errors_are_codes_from_the_table_not_written_by_hand() -> None:
    """Every file-level error the importers raise is ``SomeError.of(code, **params)``: one
    table renders it for the API, the CLI (--lang en) and the upload page, never a
    Chinese/English pair written at the raise."""
    import importers.errors as errors_mod

    classes = {
        name
        for name, obj in vars(errors_mod).items()
        if isinstance(obj, type) and issubclass(obj, errors_mod.ImportFileError)
    }
    by_hand: list[str] = []
    for folder in ("importers", "web"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes:
                    by_hand.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.func.id}(…)")
    assert not by_hand, f"file-level errors written by hand instead of .of(code): {by_hand}"


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=[s.name for s in ALL_LAYERS])
def test_every_attribute_and_choice_is_labelled_in_both_languages(spec) -> None:
    assert _CJK.search(spec.zh) and spec.en.strip()
    for attr in spec.all_attrs:
        assert _CJK.search(attr.zh), f"{spec.name}.{attr.name}: no Chinese label"
        assert attr.en.strip() and not _CJK.search(attr.en), f"{spec.name}.{attr.name}: no English label"
        zh_seen: set[str] = set()
        for c in attr.choices:
            assert c.zh.strip() and c.en.strip(), f"{spec.name}.{attr.name}={c.code}: a label is missing"
            assert _CJK.search(c.zh) or c.zh.isupper(), f"{spec.name}.{attr.name}={c.code}: zh label {c.zh!r}"
            folded = unicodedata.normalize("NFKC", c.zh)
            # (an export writes the Chinese label; the importer must map it back to one code)
            assert folded not in zh_seen, f"{spec.name}.{attr.name}: zh label {c.zh!r} twice"
            zh_seen.add(folded)
    zh_headers = [a.zh for a in spec.all_attrs]
    assert len(zh_headers) == len(set(zh_headers)), f"{spec.name}: two attributes share a Chinese header"


def test_report_renders_from_codes_not_from_english_text(tmp_path: Path) -> None:
    from importers.report import ImportReport, ReportRow
    from registry.messages import problem

    rep = ImportReport(layer="manholes", file_name="a.csv")
    rep.add(
        ReportRow.of(2, problem("kind", "not_allowed_did_you_mean", "雨水井", suggestion="雨水", allowed="x"))
    )
    zh, en = rep.as_dict("zh")["rows"][0], rep.as_dict("en")["rows"][0]
    assert "您是不是要填“雨水”" in zh["reason"] and "did you mean '雨水'" in en["reason"]
    assert zh["msg"] == "not_allowed_did_you_mean" and zh["params"]["suggestion"] == "雨水"


def _strings_outside_docstrings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal and f-string (its literal parts) of a module but docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    out = []
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inner:
            continue
        text = _literal_text(node)
        if text is not None:
            out.append((node.lineno, text))
    return out


def _literal_text(node: ast.AST) -> str | None:
    """A string literal's text, or an f-string's with ``{}`` for each value; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def test_no_message_is_written_as_chinese_slash_english() -> None:
    """Every word a user reads comes from the table in ONE language, the reader's: a
    "中文 / English" string in the registry, the API or the importers (what the API once
    cut in two at " / ") fails here. Messages are codes with parameters instead."""
    both: list[str] = []
    for folder in ("registry", "web", "importers", "layers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path.name == "messages.py":
                continue
            for line, text in _strings_outside_docstrings(ast.parse(path.read_text(encoding="utf-8"))):
                if _BOTH.search(text):
                    both.append(f"{path.relative_to(PROJECT_ROOT)}:{line} {text[:80]!r}")
    assert not both, f"messages written in both languages instead of a code of the table: {both}"


def test_the_check_finds_a_chinese_slash_english_message() -> None:
    tree = ast.parse(
        'raise X(f"没有名为 {n} 的底图 / no basemap named {n}")\n'
        'raise Y("上报隐患时结果应为「发现隐患」/ raising needs result=hazard")\n'
        'ok = "WGS84 / CGCS2000"\nalso_ok = "应为 是/否"\n'
    )
    found = [text for _, text in _strings_outside_docstrings(tree) if _BOTH.search(text)]
    assert len(found) == 2


def test_a_registry_error_says_its_message_in_one_language_only() -> None:
    """An error names a code of the table; there is no splitting of a combined text left."""
    import registry.messages as messages
    from registry.basemaps import BasemapNotFound

    assert not hasattr(messages, "one_language")
    err = BasemapNotFound("").with_message("basemap_not_found", name="osm")
    assert err.text("zh") == "没有名为“osm”的底图" and err.text("en") == "no basemap named 'osm'"
    assert str(err) == "no basemap named 'osm'"


# Lines the operator CLI prints as data for scripts (ids, status codes, counts, tables):
# literal text in them is not a message for a person and stays as it is.
_CLI_DATA_LINES = {"import {}: {} {}", "  {}: {}", "{}:", "  {}\t{}\t{}\t{}\t{}", "{}\t{}\t{}"}
_CLI_MODULES = ("web/cli.py", "web/cli_campaigns.py", "web/cli_places.py")


def _printed_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """The first argument of every ``typer.echo/secho/prompt`` and ``print`` call that is
    written as a literal (a string or an f-string), as text with ``{}`` for each field."""
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if name not in ("echo", "secho", "prompt", "print"):
            continue
        text = _literal_text(node.args[0])
        if text is not None:
            out.append((node.lineno, text))
    return out


def test_the_cli_prints_no_words_but_through_the_message_table() -> None:
    """Every progress, result and error line of ``registry`` is a code of the table said
    in the CLI's language (``cli_lang.tell``): an English-only (or Chinese-only) literal
    handed to typer.echo fails here; data lines for scripts are listed above."""
    written: list[str] = []
    for name in _CLI_MODULES:
        path = PROJECT_ROOT / name
        for line, text in _printed_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if text not in _CLI_DATA_LINES and re.search(r"[A-Za-z\u4e00-\u9fff]", text):
                written.append(f"{name}:{line} {text!r}")
    assert not written, f"CLI lines written by hand instead of tell(code): {written}"


def test_the_cli_check_finds_a_hand_written_line() -> None:
    tree = ast.parse(
        'typer.echo(f"database {state} on {port}")\ntyper.echo("removed 已删除")\n'
        'typer.echo(f"{source}\\t{kind}\\t{n}")\ntell("db_stopped")\n'
    )
    found = [t for _, t in _printed_literals(tree) if re.search(r"[A-Za-z\u4e00-\u9fff]", t)]
    assert found == ["database {} on {}", "removed 已删除"]
