"""CQL2 filters (OGC API – Features Part 3) to parameterised SQL.

pygeofilter parses CQL2 text and JSON into an AST; this module walks that AST and
composes ``psycopg.sql`` with every literal bound and every property name checked
against the layer's whitelist (``registry.properties``). Nothing from the filter
text is ever pasted into SQL.

pygeofilter's CQL2-text grammar lacks ``S_DWITHIN`` (it came back in later CQL2
drafts), so the grammar is extended here with that one predicate.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import shapely.geometry
from lark import Lark, v_args
from lark.exceptions import LarkError
from psycopg import sql
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text import parser as text_parser

from registry.crs import ApiCrs, to_storage
from registry.errors import InvalidParameter
from registry.properties import Prop, coerce, lookup
from registry.spec import LayerSpec
from registry.sqlparams import Params

GEOMETRY_NAMES = ("geometry", "geom")
_UNITS = {
    "m": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "metre": 1.0,
    "metres": 1.0,
    "km": 1000.0,
    "kilometers": 1000.0,
}


@v_args(meta=False, inline=True)
class _Transformer(text_parser.CQLTransformer):
    def SINGLE_QUOTED(self, token: Any) -> str:
        # CQL2 escapes a quote inside a string by doubling it.
        return str(token)[1:-1].replace("''", "'")

    def s_dwithin(self, lhs: Any, rhs: Any, distance: Any, units: Any = "meters") -> ast.Node:
        return ast.DistanceWithin(lhs, rhs, distance, str(units).strip("'\""))


@cache
def _text_parser() -> Lark:
    grammar_dir = os.path.dirname(text_parser.__file__)
    with open(os.path.join(grammar_dir, "grammar.lark"), encoding="utf-8") as f:
        grammar = f.read()
    rule = (
        '?spatial_predicate: "S_DWITHIN"i "(" expression "," expression "," full_number '
        '["," (SINGLE_QUOTED | DWITHIN_UNITS)] ")" -> s_dwithin\n                  |'
    )
    grammar = grammar.replace("?spatial_predicate:", rule, 1)
    grammar = grammar.replace('SINGLE_QUOTED: "\'" /.*?/ "\'"', "SINGLE_QUOTED: /'(?:[^']|'')*'/", 1)
    grammar += "\nDWITHIN_UNITS: /(meters|metres|meter|metre|kilometers|km|m)/i\n"
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[os.path.dirname(grammar_dir)],
    )


def _json_walk(node: Any) -> Any:
    """pygeofilter's CQL2-JSON walker plus ``s_dwithin`` (absent from it)."""
    if isinstance(node, dict) and node.get("op") == "s_dwithin":
        args = node.get("args") or []
        if len(args) != 3:
            raise ValueError("s_dwithin takes a property, a geometry and a distance in metres")
        return ast.DistanceWithin(_json_walk(args[0]), _json_walk(args[1]), args[2], "meters")
    if isinstance(node, dict) and node.get("op") in ("and", "or", "not"):
        args = [_json_walk(a) for a in node.get("args") or []]
        if node["op"] == "not":
            return ast.Not(args[0])
        return (ast.And if node["op"] == "and" else ast.Or).from_items(*args)
    return walk_cql_json(node)


def parse_filter(text: str, lang: str | None) -> ast.Node:
    """Parse ``filter`` in ``cql2-text`` (default) or ``cql2-json``; 400 on a syntax error."""
    lang = (lang or "cql2-text").strip().lower()
    try:
        if lang == "cql2-text":
            return _text_parser().parse(text)
        if lang == "cql2-json":
            return _json_walk(json.loads(text))
    except (LarkError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InvalidParameter("filter", f"cannot parse {lang} filter: {reason}") from None
    raise InvalidParameter("filter-lang", f"unsupported filter-lang {lang!r}; use cql2-text or cql2-json")


_COMPARISONS = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}


class FilterCompiler:
    """Compile one AST for one layer; literals go to ``params``."""

    def __init__(self, spec: LayerSpec, params: Params, filter_crs: ApiCrs) -> None:
        self.spec = spec
        self.params = params
        self.crs = filter_crs

    def compile(self, node: Any) -> sql.Composable:
        """SQL boolean expression for ``node`` over the table aliased ``t``."""
        if isinstance(node, ast.And | ast.Or):
            op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
            return sql.SQL("({})").format(op.join([self.compile(node.lhs), self.compile(node.rhs)]))
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self.compile(node.sub_node))
        if isinstance(node, bool):
            return sql.SQL("TRUE" if node else "FALSE")
        if isinstance(node, ast.Include):
            return sql.SQL("FALSE" if node.not_ else "TRUE")
        for cls, op in _COMPARISONS.items():
            if type(node) is cls:
                lhs, rhs = self._pair(node.lhs, node.rhs)
                return sql.SQL("({} {} {})").format(lhs, sql.SQL(op), rhs)
        if isinstance(node, ast.Between):
            prop = self._prop_of(node.lhs)
            return sql.SQL("({} {}BETWEEN {} AND {})").format(
                self._operand(node.lhs),
                sql.SQL("NOT " if node.not_ else ""),
                self._value(node.low, prop),
                self._value(node.high, prop),
            )
        if isinstance(node, ast.Like):
            if not isinstance(node.pattern, str):
                raise InvalidParameter("filter", "LIKE needs a text pattern")
            return sql.SQL("({}::text {}LIKE {})").format(
                self._operand(node.lhs), sql.SQL("NOT " if node.not_ else ""), self.params.add(node.pattern)
            )
        if isinstance(node, ast.In):
            prop = self._prop_of(node.lhs)
            items = sql.SQL(", ").join([self._value(v, prop) for v in node.sub_nodes])
            return sql.SQL("({} {}IN ({}))").format(
                self._operand(node.lhs), sql.SQL("NOT " if node.not_ else ""), items
            )
        if isinstance(node, ast.IsNull):
            return sql.SQL("({} IS {}NULL)").format(
                self._operand(node.lhs), sql.SQL("NOT " if node.not_ else "")
            )
        if type(node) in _SPATIAL:
            lhs, rhs = self._geometry(node.lhs), self._geometry(node.rhs)
            return sql.SQL("{}({}, {})").format(sql.SQL(_SPATIAL[type(node)]), lhs, rhs)
        if isinstance(node, ast.DistanceWithin):
            return self._dwithin(node)
        if isinstance(node, ast.BBox):
            # Envelope fields are used positionally as (minx, miny, maxx, maxy), the
            # order of CQL2-JSON ``{"bbox": [...]}`` and of ENVELOPE(...) as written.
            env = values.Envelope(node.minx, node.miny, node.maxx, node.maxy)
            return sql.SQL("ST_Intersects({}, {})").format(self._geometry(node.lhs), self._geometry(env))
        name = type(node).__name__
        raise InvalidParameter("filter", f"filter operation {name} is not supported")

    # -- operands ---------------------------------------------------------------------

    def _is_geometry_attr(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) and node.name in GEOMETRY_NAMES

    def _prop_of(self, node: Any) -> Prop | None:
        if isinstance(node, ast.Attribute):
            if self._is_geometry_attr(node):
                raise InvalidParameter("filter", "the geometry can only be used in spatial operators")
            return lookup(self.spec, node.name, "filter")
        if isinstance(node, ast.Function) and node.name.lower() == "lower" and node.arguments:
            return self._prop_of(node.arguments[0])
        return None

    def _operand(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            prop = self._prop_of(node)
            assert prop is not None
            return prop.column
        if isinstance(node, ast.Function):
            if node.name.lower() in ("lower", "casei") and len(node.arguments) == 1:
                return sql.SQL("lower({}::text)").format(self._operand(node.arguments[0]))
            raise InvalidParameter("filter", f"function {node.name!r} is not supported")
        if isinstance(node, ast.Node):
            raise InvalidParameter("filter", f"{type(node).__name__} is not supported as an operand")
        return self._value(node, None)

    def _value(self, value: Any, prop: Prop | None) -> sql.Composable:
        if isinstance(value, ast.Node):
            return self._operand(value)
        if isinstance(value, values.Geometry | values.Envelope):
            raise InvalidParameter("filter", "geometries can only be used in spatial operators")
        if prop is not None:
            value = coerce(prop, value, "filter")
        elif isinstance(value, list | dict):
            raise InvalidParameter("filter", f"unsupported literal {value!r}")
        return self.params.add(value)

    def _pair(self, lhs: Any, rhs: Any) -> tuple[sql.Composable, sql.Composable]:
        prop = self._prop_of(lhs) or self._prop_of(rhs)
        return self._value(lhs, prop), self._value(rhs, prop)

    def _geometry(self, node: Any) -> sql.Composable:
        """Geometry attribute, or a literal in ``filter-crs`` moved to storage CRS."""
        if self._is_geometry_attr(node):
            return sql.SQL("t.geom")
        if isinstance(node, values.Envelope):
            literal = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, {})").format(
                *(self.params.add(float(v)) for v in (node.x1, node.x2, node.y1, node.y2)),
                self.params.add(self.crs.srid),
            )
        elif isinstance(node, values.Geometry):
            try:
                shape = shapely.geometry.shape(node.geometry)
            except Exception as exc:
                raise InvalidParameter("filter", f"invalid geometry literal: {exc}") from None
            if shape.is_empty:
                raise InvalidParameter("filter", "empty geometry literal")
            literal = sql.SQL("ST_GeomFromWKB({}, {})").format(
                self.params.add(shape.wkb), self.params.add(self.crs.srid)
            )
        else:
            raise InvalidParameter("filter", "spatial operators compare the geometry with a geometry literal")
        if self.crs.swap_axes:
            literal = sql.SQL("ST_FlipCoordinates({})").format(literal)
        return to_storage(literal, self.crs.srid)

    def _dwithin(self, node: ast.DistanceWithin) -> sql.Composable:
        try:
            factor = _UNITS[str(node.units or "meters").lower()]
            metres = float(node.distance) * factor
        except (KeyError, TypeError, ValueError):
            raise InvalidParameter("filter", "S_DWITHIN distance must be a number of metres") from None
        if metres < 0:
            raise InvalidParameter("filter", "S_DWITHIN distance must not be negative")
        geom_attr, other = (node.lhs, node.rhs) if self._is_geometry_attr(node.lhs) else (node.rhs, node.lhs)
        target = self._geometry(other)
        d = self.params.add(metres)
        # `&&` against a box in degrees lets the GiST index on geom work; the exact
        # distance is then measured on the spheroid.
        return sql.SQL(
            "({g} && registry_dwithin_box({t}, {d}) AND ST_DWithin({g}::geography, {t}::geography, {d}))"
        ).format(g=self._geometry(geom_attr), t=target, d=d)


def compile_filter(
    spec: LayerSpec, params: Params, text: str, lang: str | None, filter_crs: ApiCrs
) -> sql.Composable:
    """Parse and compile a ``filter`` query parameter for one layer."""
    return FilterCompiler(spec, params, filter_crs).compile(parse_filter(text, lang))
