"""What the zoo's families share: argument checks and lookup by name."""

from __future__ import annotations

from ..errors import ConfigError


def check_sizes(**sizes) -> None:
    """Raise ConfigError naming each argument that is not a positive int (num_classes=0 ...)."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def pick(registry: dict, name: str, what: str):
    """registry[name], or a ConfigError that lists the names on offer."""
    if name not in registry:
        raise ConfigError(f"unknown {what} {name!r}; expected one of {sorted(registry)}")
    return registry[name]


