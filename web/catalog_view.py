"""The layer catalogue as JSON for the map page: the page never keeps its own list of
layers, labels, choices or colours, so adding a layer needs no JavaScript change."""

from __future__ import annotations

from typing import Any

from registry.catalog import LayerCatalog
from registry.spec import Attr, AttrType, Choice, LayerSpec
from registry.workflow_store import workflow_json


def _choice(c: Choice) -> dict[str, str]:
    return {"code": c.code, "zh": c.zh, "en": c.en}


def _attr(a: Attr) -> dict[str, Any]:
    return {
        "name": a.name,
        "type": str(a.type),
        "zh": a.zh,
        "en": a.en,
        "required": a.required,
        "unit": a.unit,
        "min": a.min,
        "max": a.max,
        # longest text the API and the importer accept (None for other types)
        "max_length": a.max_length if a.type is AttrType.TEXT else None,
        "computed": a.computed,
        "choices": [_choice(c) for c in a.choices],
    }


def layer_json(spec: LayerSpec) -> dict[str, Any]:
    """One layer: titles, geometry types, attributes (common first), statuses, style."""
    style = spec.style
    return {
        "name": spec.name,
        "zh": spec.zh,
        "en": spec.en,
        "geometry_types": list(spec.geometry_types),
        "code_prefix": spec.code_prefix,
        "statuses": [_choice(c) for c in spec.statuses],
        # what a role with only the LIFECYCLE right may change (the map's edit form)
        "lifecycle_fields": sorted(spec.lifecycle_fields),
        # the campaign's steps (the file's "next step" action; None without a workflow)
        "workflow": workflow_json(spec),
        "attrs": [_attr(a) for a in spec.all_attrs],
        # the everyday questions the layer declares (search box, filters, map labels)
        "text_search": list(spec.text_search_attrs),
        "filters": list(spec.filter_attrs),
        # its yes/no questions (LayerSpec.flags: ``<name>=true`` in /api/search, the map's
        # filter panel), beside the workflow's overdue and deadline range
        "flags": [{"name": f.name, "zh": f.zh, "en": f.en, "deadline": f.deadline} for f in spec.flags],
        "tile_attrs": list(spec.tile_attrs),
        "style": {
            "by": style.by,
            "colors": dict(style.colors),
            "default": style.default,
            "radius": style.radius,
            "label": style.label,
            "due": style.due,
            "due_color": style.due_color,
        },
        "children": [
            {"name": c.name, "zh": c.zh, "en": c.en, "attrs": [_attr(a) for a in c.attrs]}
            for c in spec.children
        ],
    }


def catalog_json(catalog: LayerCatalog) -> dict[str, Any]:
    """Every layer, in registration order."""
    return {"layers": [layer_json(spec) for spec in catalog]}
