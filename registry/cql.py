"""CQL2 filters (OGC API – Features Part 3) to parameterised SQL.

pygeofilter parses CQL2 text and JSON into an AST; this module walks that AST and
composes ``psycopg.sql`` with every literal bound and every property name checked
against the layer's whitelist (``registry.properties``). Nothing from the filter
text is ever pasted into SQL.

pygeofilter's CQL2-text grammar lacks ``S_DWITHIN`` (it came back in later CQL2
drafts), so the grammar is extended here with that one predicate. Temporal literals
are parsed strictly as RFC 3339 here (pygeofilter's fuzzy date parser would take
"yesterday"), and a filter's size is bounded (``MAX_FILTER_TERMS`` conditions,
``MAX_FILTER_DEPTH`` levels of nesting), checked without recursion, so a huge or deep
filter is a 400 and never a RecursionError.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from functools import cache
from typing import Any

import shapely.geometry
from lark import Lark, v_args
from lark.exceptions import LarkError
from psycopg import sql
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json.parser import walk_cql_json
from pygeofilter.parsers.cql2_text import parser as text_parser

from registry.crs import ApiCrs, check_inside, to_storage
from registry.errors import InvalidParameter, shown
from registry.messages import nested
from registry.properties import Prop, coerce, lookup, parse_instant
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
# Bounds on one filter: conditions (comparisons, spatial tests…) joined by AND/OR/NOT,
# levels of nesting (a chain of the same operator is one level), and nodes in all
# (IN lists, function arguments). A JSON filter nested deeper than MAX_JSON_DEPTH is
# refused before it is walked.
MAX_FILTER_TERMS = 100
MAX_FILTER_DEPTH = 20
MAX_FILTER_NODES = 2000
MAX_JSON_DEPTH = 2 * MAX_FILTER_DEPTH + 10
MAX_DWITHIN_M = 1_000_000.0
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _timestamp(value: Any) -> dt.datetime:
    """A CQL2 timestamp literal: an RFC 3339 date-time (China Standard Time when it has no offset)."""
    if isinstance(value, str) and _RFC3339.match(value.strip()):
        try:
            return parse_instant(value)
        except ValueError:
            pass
    raise InvalidParameter("filter", "").with_message("cql_timestamp", value=shown(value))


def _date(value: Any) -> dt.date:
    """A CQL2 date literal: YYYY-MM-DD."""
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidParameter("filter", "").with_message("cql_date", value=shown(value))


def _too_complex(code: str, limit: int) -> InvalidParameter:
    return InvalidParameter("filter", "").with_message("cql_too_complex", reason=nested(code, {"max": limit}))


@v_args(meta=False, inline=True)
class _Transformer(text_parser.CQLTransformer):
    def SINGLE_QUOTED(self, token: Any) -> str:
        # CQL2 escapes a quote inside a string by doubling it.
        return str(token)[1:-1].replace("''", "'")

    def s_dwithin(self, lhs: Any, rhs: Any, distance: Any, units: Any = "meters") -> ast.Node:
        return ast.DistanceWithin(lhs, rhs, distance, str(units).strip("'\""))

    def DATETIME(self, token: Any) -> dt.datetime:
        return _timestamp(str(token))

    def DATE(self, token: Any) -> dt.date:
        return _date(str(token))


def _patch(grammar: str, old: str, new: str) -> str:
    """Replace one rule of pygeofilter's grammar, loudly: a new pygeofilter release
    that reworded the rule must fail here (and in tests/test_ogc_filter.py), not
    silently lose S_DWITHIN or quoted-quote handling. pygeofilter is pinned."""
    if old not in grammar:
        raise RuntimeError(f"pygeofilter's CQL2 grammar changed: {old!r} not found; update registry/cql.py")
    return grammar.replace(old, new, 1)


@cache
def _text_parser() -> Lark:
    grammar_dir = os.path.dirname(text_parser.__file__)
    with open(os.path.join(grammar_dir, "grammar.lark"), encoding="utf-8") as f:
        grammar = f.read()
    rule = (
        '?spatial_predicate: "S_DWITHIN"i "(" expression "," expression "," full_number '
        '["," (SINGLE_QUOTED | DWITHIN_UNITS)] ")" -> s_dwithin\n                  |'
    )
    grammar = _patch(grammar, "?spatial_predicate:", rule)
    grammar = _patch(grammar, 'SINGLE_QUOTED: "\'" /.*?/ "\'"', "SINGLE_QUOTED: /'(?:[^']|'')*'/")
    grammar += "\nDWITHIN_UNITS: /(meters|metres|meter|metre|kilometers|km|m)/i\n"
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[os.path.dirname(grammar_dir)],
    )


def _prepare_json(doc: Any) -> Any:
    """Bound the nesting and read temporal literals strictly, without recursion.

    ``{"timestamp": …}``, ``{"date": …}`` and ``{"interval": […]}`` become Python values,
    which pygeofilter's walker passes through as they are.
    """
    holder = [doc]
    stack: list[tuple[Any, Any, int]] = [(holder, 0, 0)]
    while stack:
        parent, key, depth = stack.pop()
        node = parent[key]
        if depth > MAX_JSON_DEPTH:
            raise _too_complex("cql_json_too_deep", MAX_JSON_DEPTH)
        if isinstance(node, dict):
            if "type" in node and "coordinates" in node:
                continue  # a geometry: shapely reads it
            if "timestamp" in node:
                parent[key] = _timestamp(node["timestamp"])
            elif "date" in node:
                parent[key] = _date(node["date"])
            elif "interval" in node:
                ends = node["interval"]
                if not isinstance(ends, list) or len(ends) != 2:
                    raise InvalidParameter("filter", "").with_message("cql_interval_form")
                parent[key] = values.Interval(
                    *(
                        None
                        if e == ".."
                        else _date(e)
                        if isinstance(e, str) and _DATE.match(e)
                        else _timestamp(e)
                        for e in ends
                    )
                )
            else:
                stack.extend((node, k, depth + 1) for k in node)
        elif isinstance(node, list):
            stack.extend((node, i, depth + 1) for i in range(len(node)))
    return holder[0]


def _check_size(root: Any) -> None:
    """Refuse a filter over the bounds (see ``MAX_FILTER_*``), walking it without recursion."""
    terms = nodes = 0
    # (node, nesting depth, whether it is a condition: the root or an operand of AND/OR/NOT)
    stack: list[tuple[Any, int, bool]] = [(root, 0, True)]
    while stack:
        node, depth, condition = stack.pop()
        nodes += 1
        if nodes > MAX_FILTER_NODES:
            raise _too_complex("cql_too_many_nodes", MAX_FILTER_NODES)
        if depth > MAX_FILTER_DEPTH:
            raise _too_complex("cql_too_deep", MAX_FILTER_DEPTH)
        if isinstance(node, ast.And | ast.Or):
            # a chain of the same operator (a AND b AND c) is one level
            stack.extend(
                (c, depth if type(c) is type(node) else depth + 1, True) for c in (node.lhs, node.rhs)
            )
            continue
        if isinstance(node, ast.Not):
            stack.append((node.sub_node, depth + 1, True))
            continue
        if condition:
            terms += 1
            if terms > MAX_FILTER_TERMS:
                raise _too_complex("cql_too_many_terms", MAX_FILTER_TERMS)
        if isinstance(node, ast.Node):
            stack.extend((c, depth + 1, False) for c in node.get_sub_nodes())
        elif isinstance(node, list | tuple):
            stack.extend((c, depth + 1, False) for c in node)


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
            node = _text_parser().parse(text)
        elif lang == "cql2-json":
            try:
                doc = json.loads(text)
            except RecursionError:
                raise _too_complex("cql_json_too_deep", MAX_JSON_DEPTH) from None
            node = _json_walk(_prepare_json(doc))
        else:
            raise InvalidParameter("filter-lang", "").with_message("cql_lang_unsupported", value=shown(lang))
    except LarkError as exc:
        # an error raised by a transformer callback (a bad timestamp) arrives wrapped
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, InvalidParameter):
            raise inner from None
        raise _cannot_parse(lang, exc) from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _cannot_parse(lang, exc) from None
    _check_size(node)
    return node


def _cannot_parse(lang: str, exc: Exception) -> InvalidParameter:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return InvalidParameter("filter", "").with_message("cql_unparsable", lang=lang, reason=reason)


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
            # CQL2 text builds a AND b AND c as ((a AND b) AND c): joined flat, so the
            # recursion (here and in psycopg's composition) does not grow with its length
            parts, chain = [], [node]
            while chain:
                item = chain.pop()
                if type(item) is type(node):
                    chain.extend((item.rhs, item.lhs))
                else:
                    parts.append(self.compile(item))
            op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
            return sql.SQL("({})").format(op.join(parts))
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
            prop = self._needs_prop(node.lhs, "BETWEEN")
            return sql.SQL("({} {}BETWEEN {} AND {})").format(
                self._operand(node.lhs),
                sql.SQL("NOT " if node.not_ else ""),
                self._value(node.low, prop),
                self._value(node.high, prop),
            )
        if isinstance(node, ast.Like):
            if not isinstance(node.pattern, str):
                raise InvalidParameter("filter", "").with_message("cql_like_text")
            return sql.SQL("({}::text {}LIKE {})").format(
                self._operand(node.lhs), sql.SQL("NOT " if node.not_ else ""), self.params.add(node.pattern)
            )
        if isinstance(node, ast.In):
            prop = self._needs_prop(node.lhs, "IN")
            items = sql.SQL(", ").join([self._value(v, prop) for v in node.sub_nodes])
            return sql.SQL("({} {}IN ({}))").format(
                self._operand(node.lhs), sql.SQL("NOT " if node.not_ else ""), items
            )
        if isinstance(node, ast.IsNull):
            self._needs_prop(node.lhs, "IS NULL")
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
        raise InvalidParameter("filter", "").with_message("cql_op_unsupported", name=name)

    # -- operands ---------------------------------------------------------------------

    def _is_geometry_attr(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) and node.name in GEOMETRY_NAMES

    def _prop_of(self, node: Any) -> Prop | None:
        if isinstance(node, ast.Attribute):
            if self._is_geometry_attr(node):
                raise InvalidParameter("filter", "").with_message("cql_geometry_outside_spatial")
            return lookup(self.spec, node.name, "filter")
        if isinstance(node, ast.Function) and node.name.lower() in ("lower", "casei") and node.arguments:
            inner = self._prop_of(node.arguments[0])
            # lower(x) is text whatever x is, and so is what it is compared with
            return None if inner is None else dataclasses.replace(inner, kind="text", choices=())
        return None

    def _needs_prop(self, node: Any, what: str) -> Prop:
        """The property on the left of ``what``: a literal there has no type to compare in."""
        prop = self._prop_of(node)
        if prop is None:
            raise InvalidParameter("filter", "").with_message("cql_left_property", what=what)
        return prop

    def _operand(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            prop = self._prop_of(node)
            assert prop is not None
            return prop.column
        if isinstance(node, ast.Function):
            if node.name.lower() in ("lower", "casei") and len(node.arguments) == 1:
                return sql.SQL("lower({}::text)").format(self._operand(node.arguments[0]))
            raise InvalidParameter("filter", "").with_message(
                "cql_function_unsupported", name=repr(node.name)
            )
        if isinstance(node, ast.Node):
            raise InvalidParameter("filter", "").with_message(
                "cql_operand_unsupported", kind=type(node).__name__
            )
        return self._value(node, None)

    def _value(self, value: Any, prop: Prop | None) -> sql.Composable:
        if isinstance(value, ast.Node):
            return self._operand(value)
        if isinstance(value, values.Geometry | values.Envelope):
            raise InvalidParameter("filter", "").with_message("cql_geometry_outside_spatial")
        if prop is not None:
            value = coerce(prop, value, "filter")
        elif isinstance(value, list | dict):
            raise InvalidParameter("filter", "").with_message("cql_literal_unsupported", value=shown(value))
        return self.params.add(value)

    def _pair(self, lhs: Any, rhs: Any) -> tuple[sql.Composable, sql.Composable]:
        left, right = self._prop_of(lhs), self._prop_of(rhs)
        if left is None and right is None:
            raise InvalidParameter("filter", "").with_message("cql_side_property")
        if left is not None and right is not None and _family(left) != _family(right):
            raise InvalidParameter("filter", "").with_message(
                "cql_incomparable",
                left=left.name,
                left_kind=left.kind,
                right=right.name,
                right_kind=right.kind,
            )
        prop = left or right
        return self._value(lhs, prop), self._value(rhs, prop)

    def _geometry(self, node: Any) -> sql.Composable:
        """Geometry attribute, or a literal in ``filter-crs`` moved to storage CRS."""
        if self._is_geometry_attr(node):
            return sql.SQL("t.geom")
        if isinstance(node, values.Envelope):
            try:
                corners = [float(v) for v in (node.x1, node.x2, node.y1, node.y2)]
            except (TypeError, ValueError):
                raise InvalidParameter("filter", "").with_message("cql_envelope_four") from None
            x0, y0, x1, y1 = corners
            if self.crs.swap_axes:
                x0, y0, x1, y1 = y0, x0, y1, x1
            check_inside(self.crs, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), "filter")
            literal = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, {})").format(
                *(self.params.add(v) for v in corners), self.params.add(self.crs.srid)
            )
        elif isinstance(node, values.Geometry):
            try:
                shape = shapely.geometry.shape(node.geometry)
            except Exception as exc:
                raise InvalidParameter("filter", "").with_message(
                    "cql_geometry_invalid", reason=str(exc)
                ) from None
            if shape.is_empty:
                raise InvalidParameter("filter", "").with_message("cql_geometry_empty")
            x0, y0, x1, y1 = shape.bounds
            if self.crs.swap_axes:
                x0, y0, x1, y1 = y0, x0, y1, x1
            check_inside(self.crs, (x0, y0, x1, y1), "filter")
            literal = sql.SQL("ST_GeomFromWKB({}, {})").format(
                self.params.add(shape.wkb), self.params.add(self.crs.srid)
            )
        else:
            raise InvalidParameter("filter", "").with_message("cql_spatial_literal")
        if self.crs.swap_axes:
            literal = sql.SQL("ST_FlipCoordinates({})").format(literal)
        return to_storage(literal, self.crs.srid)

    def _dwithin(self, node: ast.DistanceWithin) -> sql.Composable:
        try:
            factor = _UNITS[str(node.units or "meters").lower()]
            metres = float(node.distance) * factor
        except (KeyError, TypeError, ValueError):
            raise InvalidParameter("filter", "").with_message("cql_dwithin_number") from None
        if not 0 <= metres <= MAX_DWITHIN_M:
            raise InvalidParameter("filter", "").with_message("cql_dwithin_range", max=f"{MAX_DWITHIN_M:.0f}")
        geom_attr, other = (node.lhs, node.rhs) if self._is_geometry_attr(node.lhs) else (node.rhs, node.lhs)
        target = self._geometry(other)
        d = self.params.add(metres)
        # `&&` against a box in degrees lets the GiST index on geom work; the exact
        # distance is then measured on the spheroid.
        return sql.SQL(
            "({g} && registry_dwithin_box({t}, {d}) AND ST_DWithin({g}::geography, {t}::geography, {d}))"
        ).format(g=self._geometry(geom_attr), t=target, d=d)


def _family(prop: Prop) -> str:
    """Kinds that compare with each other: numbers with numbers, instants with instants."""
    return {"integer": "number", "numeric": "number", "date": "time", "timestamptz": "time"}.get(
        prop.kind, prop.kind
    )


def compile_filter(
    spec: LayerSpec, params: Params, text: str, lang: str | None, filter_crs: ApiCrs
) -> sql.Composable:
    """Parse and compile a ``filter`` query parameter for one layer."""
    return FilterCompiler(spec, params, filter_crs).compile(parse_filter(text, lang))
