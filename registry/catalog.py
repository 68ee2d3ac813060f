"""The catalogue of registered layers: immutable, built once by the composition root."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from registry.errors import LayerNotFound
from registry.permissions import check_grants
from registry.spec import LayerSpec


@dataclass(frozen=True)
class LayerCatalog:
    """Layers by name; ``register`` returns a new catalogue and refuses duplicates."""

    layers: dict[str, LayerSpec] = field(default_factory=dict)

    def register(self, *specs: LayerSpec) -> LayerCatalog:
        """A catalogue with these layers added."""
        merged = dict(self.layers)
        for spec in specs:
            check_grants(spec)
            if spec.name in merged:
                raise ValueError(f"layer {spec.name!r} is registered twice")
            merged[spec.name] = spec
        return LayerCatalog(merged)

    def get(self, name: str) -> LayerSpec:
        """The layer, or LayerNotFound naming the known ones."""
        try:
            return self.layers[name]
        except KeyError:
            known = ", ".join(self.layers)
            raise LayerNotFound("").with_message("layer_unknown", name=name, known=known) from None

    def names(self) -> list[str]:
        """Layer names in registration order."""
        return list(self.layers)

    def filter_attrs(self) -> list[str]:
        """Every attribute some layer offers as a value filter, in declaration order."""
        return list(dict.fromkeys(a for spec in self for a in spec.filter_attrs))

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self.layers.values())

    def __len__(self) -> int:
        return len(self.layers)
