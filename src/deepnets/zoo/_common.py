"""What the zoo's families share: argument checks and lookup by name."""

from __future__ import annotations

from .._registry import check_positive_int, lookup


def check_sizes(**sizes) -> None:
    """Raise ConfigError naming each argument that is not a positive int (num_classes=0 ...)."""
    for name, value in sizes.items():
        check_positive_int(name, value)


def pick(registry: dict, name: str, what: str):
    """registry[name], or a ConfigError that lists the names on offer and suggests the nearest."""
    return lookup(name, registry, what=what)


