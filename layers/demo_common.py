"""Shared pieces of the demo data generators: the draft row, the district lookup used
for national component codes, people, and the demo marker.

Everything is a pure function of a seeded ``random.Random`` and fixed dates, so the
demo is the same on every run (``date.today()`` is never used).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shapely import prepared
from shapely.geometry.base import BaseGeometry

DEMO_MARK = "演示数据 DEMO"
# The demo describes the bureau's 2025 work as of the end of that year.
AS_OF = dt.date(2025, 12, 31)
YEAR = 2025

# The four urban districts (GB/T 2260); the demo places nothing in the counties.
URBAN_DISTRICTS = {"410802": "解放区", "410803": "中站区", "410804": "马村区", "410811": "山阳区"}


@dataclass(frozen=True)
class Draft:
    """One generated asset before validation: attributes, geometry (lon/lat), extras."""

    layer: str
    props: dict[str, Any]
    geom: BaseGeometry
    extra: dict[str, Any] = field(default_factory=dict)


def note(text: str) -> str:
    """Notes of every demo row start with the demo marker, so nobody mistakes them."""
    return f"{DEMO_MARK}：{text}"


def rng_for(part: str) -> random.Random:
    """An independent, fixed random stream per part, so editing one layer's generator
    does not reshuffle the others (str seeds are hashed with SHA-512: stable)."""
    return random.Random(f"jiaozuo-registry-demo/{part}")


def day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A day between start and end inclusive."""
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def capped(d: dt.date) -> dt.date:
    """A date no later than the demo's as-of date."""
    return min(d, AS_OF)


def exact_mix(rng: random.Random, counts: dict[str, int]) -> list[str]:
    """A shuffled list holding each value exactly ``counts[value]`` times."""
    values = [v for v, n in counts.items() for _ in range(n)]
    rng.shuffle(values)
    return values


class DistrictIndex:
    """Which urban district a geometry falls in, from the ``districts`` table.

    The database derives ``district_code`` itself; this copy is only needed to build
    the national component codes (area code + class + serial) before writing.
    """

    def __init__(self, rows: Iterable[tuple[str, BaseGeometry]]) -> None:
        self._polys = [(code, prepared.prep(g)) for code, g in rows if code in URBAN_DISTRICTS]
        missing = set(URBAN_DISTRICTS) - {code for code, _ in self._polys}
        if missing:
            raise RuntimeError(
                f"districts table lacks urban districts {sorted(missing)}: run `registry migrate`"
            )
        self._serials: dict[str, int] = defaultdict(int)

    def of(self, geom: BaseGeometry) -> str | None:
        """The urban district code covering the geometry's representative point."""
        probe = geom.representative_point()
        return next((code for code, g in self._polys if g.covers(probe)), None)

    def name(self, code: str) -> str:
        """Chinese name of an urban district."""
        return URBAN_DISTRICTS[code]

    def component_code(self, district: str, cls: str) -> str:
        """GB/T 30428.2 style code: 6-digit area + 4-digit class + 6-digit serial,
        serials counted per area and class in generation order (stable across runs)."""
        key = district + cls
        self._serials[key] += 1
        return f"{key}{self._serials[key]:06d}"


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = (
    "建国 志强 海燕 丽娟 国庆 红军 晓东 春梅 卫东 建华 秀英 新民 振华 立新 德明 凤霞 俊杰 "
    "文涛 明辉 玉兰 宏伟 永刚 艳芳 子豪 雪梅 金龙 长青 保国 爱华 军辉"
).split()


def people(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct plausible Chinese full names."""
    pool = [s + g for s in _SURNAMES for g in _GIVEN]
    return rng.sample(pool, n)


def city_unit(district: str) -> str:
    """The district's urban-management bureau, the default responsible unit."""
    return f"焦作市{URBAN_DISTRICTS[district]}城市管理局"
