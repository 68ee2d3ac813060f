"""Issue 11: every word a user reads is in the UI's language. A walk through the map
page (layer panel, the filters of every layer, a search with results, an asset file with
its history and workflow, a save the server refuses), the upload page with a dry-run
report with errors, and the dashboard collects every visible text and every attribute
people read (title, placeholder, aria-label, alt): in the Chinese UI no Latin-letter
message text may remain outside codes and proper names (asset codes, units, EPSG,
GCJ-02, file formats, user names, the map's attribution); in the English UI no Chinese
outside proper names (districts, roads, asset names and the other values of the data).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import expect
from psycopg import sql

from layers import default_catalog
from registry.permissions import Role
from registry.spec import AttrType
from tests.browser.conftest import M_LAT, M_LON, LiveServer, MapPage, open_page
from tests.factories import CENTRE, make_json_properties

pytestmark = pytest.mark.browser

# Every visible text node and the attributes people read of every visible element (a
# <select>'s options too, which have no box of their own), with where it was found.
# The map's attribution (Leaflet, OpenStreetMap) is a proper name as a whole.
COLLECT = """() => {
  const out = [];
  const shown = (el) => {
    if (!el || el.closest('.leaflet-control-attribution')) return false;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    return el.getClientRects().length > 0 || el.tagName === 'OPTION';
  };
  const where = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/)[0] : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const text = n.nodeValue.trim();
    if (!text || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    const owner = el.tagName === 'OPTION' ? el.closest('select') : el;
    if (shown(owner) && shown(el.tagName === 'OPTION' ? owner : el)) out.push([where(el), text]);
  }
  for (const el of document.body.querySelectorAll('[title], [placeholder], [aria-label], img[alt]')) {
    if (!shown(el)) continue;
    for (const a of ['title', 'placeholder', 'aria-label', 'alt']) {
      const v = el.getAttribute(a);
      if (v && v.trim()) out.push([where(el) + '@' + a, v.trim()]);
    }
  }
  out.push(['title', document.title]);
  return out;
}"""

# What may stay Latin in the Chinese UI: codes and proper names, never words.
ALLOWED_LATIN = [
    r"\b[A-Z]{1,4}(?:-[A-Z0-9]+)+\b",  # asset codes: TC-2025-0001, KD-TEST-0001, JG-UP-0003
    r"\bEPSG(?::\d+)?\b",
    r"\bGCJ-02\b",
    r"\bBD-09\b",
    r"\bWGS ?84\b",
    r"\bCGCS ?2000\b",
    r"\bOGC\b",
    r"\bGB(?:/T)?\b",  # standards: GB 5749-2022
    r"\b(?:CSV|XLSX|GeoJSON|GeoPackage|GPKG|KML|KMZ|Shapefile|SHP|WKT|PDF|PNG|JPEG|HEIC|zip|ZIP|Excel)\b",
    r"\b(?:Leaflet|OpenStreetMap|ECharts|Web Mercator)\b",
    r"\b(?:GBK|GB18030|GB2312|UTF-8)\b",  # text encodings
    r"\b(?:Shift|Ctrl)\b",  # keys
    r"\bHTTP\b",
    r"\bAPI\b",
    r"\bEnglish\b",  # the language switch names the other language in that language
    r"\S+\.(?:geojson|csv|xlsx|zip|gpkg|kml|kmz|png|jpe?g)\b",  # file names
    r"(?<![A-Za-z])(?:km|m|m²|m³|mg/L|NTU|CFU/mL|MPN|pH|MB|kB|h)(?![A-Za-z])",  # units
    r"(?<=[\d″'\"°])\s?[NSEW]\b",  # hemispheres: 35°12′55″N, 114°E
    r"\b[XYxy]\b",  # coordinate axes: 交换 X/Y
]


def latin_words(text: str, names: set[str]) -> list[str]:
    """The Latin-letter words left in ``text`` once codes, units and ``names`` are taken out."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    for pattern in ALLOWED_LATIN:
        text = re.sub(pattern, " ", text)
    return re.findall(r"[A-Za-z][A-Za-z_]*", text)


_CJK = re.compile(r"[\u3400-\u9fff]+")


def chinese_words(text: str, names: set[str]) -> list[str]:
    """The Chinese left in ``text`` once the data's proper names are taken out."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return _CJK.findall(text)


def _file_values(path: Path) -> set[str]:
    """The text values of a GeoJSON survey file: the surveyor's own words, which the
    report shows as they were written (a bad value among them)."""
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return {v for f in features for v in f["properties"].values() if isinstance(v, str)}


def _survey_file(tmp_path: Path) -> Path:
    """Three manholes; the second has a condition that is not allowed, the third no position."""
    spec = default_catalog().get("manholes")
    features = []
    for n in range(1, 4):
        props = make_json_properties(spec, n)
        props["code"] = f"JG-LANG-{n:04d}"
        if n == 2:
            props["condition"] = "exploded"
        geometry = None if n == 3 else {"type": "Point", "coordinates": [CENTRE[0] + n * 0.0004, CENTRE[1]]}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    path = tmp_path / "井盖排查.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def _data_names(live: LiveServer) -> set[str]:
    """The proper names in the data: the free-text values of every asset and child record
    (roads, places, units, names — never an enumeration's code, which the UI must show
    by its label), district names and user names. Words of the data, not of the UI."""
    names: set[str] = set()
    assert live.settings.database_url
    with psycopg.connect(live.settings.database_url) as conn:
        for zh, en in conn.execute("SELECT name_zh, name_en FROM districts"):
            names |= {zh, en}
        names |= {r[0] for r in conn.execute("SELECT username FROM users")}
        names |= {r[0] for r in conn.execute("SELECT DISTINCT actor FROM asset_history")}
        names |= {r[0] for r in conn.execute("SELECT display_name FROM users WHERE display_name IS NOT NULL")}
        for spec in default_catalog():
            tables = [(spec.name, spec.all_attrs)] + [(c.name, c.attrs) for c in spec.children]
            for table, attrs in tables:
                free = [a.name for a in attrs if a.type == AttrType.TEXT and not a.choices]
                for name in free:
                    query = sql.SQL("SELECT DISTINCT {}::text FROM {}").format(
                        sql.Identifier(name), sql.Identifier(table)
                    )
                    names |= {r[0] for r in conn.execute(query) if r[0]}
    return {n for n in names if n}


class Sweep:
    """Texts collected on the walk, per step."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def collect(self, mp: MapPage, step: str) -> None:
        for where, text in mp.page.evaluate(COLLECT):
            self.seen.append((step, where, text))

    def offending(self, judge: Any, names: set[str]) -> list[str]:
        found: dict[tuple[str, str], str] = {}
        for step, where, text in self.seen:
            words = judge(text, names)
            if words and (where, text) not in found:
                found[where, text] = f"[{step}] {where}: {text[:160]!r} → {sorted(set(words))}"
        return list(found.values())


def _walk(browser: Any, live: LiveServer, lang: str, survey: Path) -> Sweep:
    sweep = Sweep()
    seeded = live.seeded
    # the map, the layer panel and the filters of every layer
    mp = open_page(browser, live, lang=lang)
    page = mp.page
    page.wait_for_selector("#layer-list input")
    sweep.collect(mp, "map")
    layers = page.evaluate("[...document.querySelectorAll('#filter-layer option')].map((o) => o.value)")
    for layer in layers:
        page.select_option("#filter-layer", layer)
        sweep.collect(mp, f"filters {layer or 'all'}")
    page.select_option("#filter-layer", layers[0])
    # a search with results
    page.fill("#radius", "500")
    page.fill("#coord", f"{CENTRE[0] + 40 * M_LON}, {CENTRE[1] + 15 * M_LAT}")
    page.click("#coord-form button[type='submit']")
    page.wait_for_selector("#result-list li")
    sweep.collect(mp, "search results")
    page.context.close()

    # on a phone the layer panel is behind the menu button
    mp = open_page(browser, live, lang=lang, width=390, height=844)
    mp.page.click("#menu-btn")
    expect(mp.page.locator("#menu-btn")).to_have_attribute("aria-expanded", "true")
    sweep.collect(mp, "phone layer panel")
    mp.page.context.close()

    # an asset file with its history and workflow, and a save the server refuses
    void = live.asset_id("road_voids", seeded["road_voids"][2])
    mp = open_page(browser, live, f"/#asset=road_voids/{void}", lang=lang, role=Role.OFFICER)
    page = mp.page
    page.wait_for_selector("#file-history li")
    page.wait_for_selector("#next-step")
    sweep.collect(mp, "road void file")
    page.context.close()
    market = live.asset_id("markets", seeded["markets"][0])
    mp = open_page(browser, live, f"/#asset=markets/{market}", lang=lang, role=Role.ADMIN)
    page = mp.page
    page.wait_for_selector("#file-history li")
    page.click("#file-edit")
    page.fill("#edit-form [name='valid_from']", "2025-03-01")
    page.fill("#edit-form [name='valid_to']", "2025-02-01")  # the season ends before it starts
    page.click("#edit-form button[type='submit']")
    expect(page.locator("#edit-form .problems")).not_to_be_empty()
    sweep.collect(mp, "save refused")
    page.context.close()

    # the upload page with a dry-run report with errors
    mp = open_page(browser, live, "/upload", lang=lang, role=Role.SURVEYOR)
    page = mp.page
    page.set_input_files("#up-file", str(survey))
    page.select_option("#up-layer", "manholes")
    page.click("#up-dry")
    page.wait_for_selector("#report-table tbody tr.bad")
    sweep.collect(mp, "upload report")
    # the good rows imported (the bad one skipped): the summary of the import, then undone
    page.check("#up-skip")
    page.click("#up-confirm")
    page.wait_for_selector("#up-status[data-status='committed']", timeout=30000)
    sweep.collect(mp, "upload summary")
    page.click("#up-undo")
    page.wait_for_selector("#up-undone")
    page.context.close()

    # the dashboard
    mp = open_page(browser, live, f"/dashboard?year={dt.date.today().year}", lang=lang)
    sweep.collect(mp, "dashboard")
    mp.page.context.close()
    return sweep


@pytest.fixture
def names(live_server: LiveServer) -> Iterator[set[str]]:
    yield _data_names(live_server)


def test_the_chinese_ui_shows_no_latin_words_outside_codes_and_names(
    browser: Any, live_server: LiveServer, tmp_path: Path, names: set[str]
) -> None:
    survey = _survey_file(tmp_path)
    sweep = _walk(browser, live_server, "zh", survey)
    assert len(sweep.seen) > 300, "the walk collected the page's texts"
    bad = sweep.offending(latin_words, names | _file_values(survey))
    assert not bad, f"{len(bad)} texts with Latin words in the Chinese UI:\n" + "\n".join(bad)


def test_the_english_ui_shows_no_chinese_outside_proper_names(
    browser: Any, live_server: LiveServer, tmp_path: Path, names: set[str]
) -> None:
    survey = _survey_file(tmp_path)
    sweep = _walk(browser, live_server, "en", survey)
    # (the language switch names the other language in it; the file is the surveyor's)
    bad = sweep.offending(chinese_words, names | _file_values(survey) | {"中文", survey.name})
    assert not bad, f"{len(bad)} texts with Chinese in the English UI:\n" + "\n".join(bad)
