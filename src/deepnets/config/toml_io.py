"""TOML text in and out: parse errors as ConfigError, and the writer of a run's resolved config."""

from __future__ import annotations

import json
import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from ..errors import ConfigError


def loads_toml(text: str, source: str = "<string>") -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None


def load_toml(path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such experiment file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the experiment file ({e})") from None
    return loads_toml(text, str(path))


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(k: str) -> str:
    return k if _BARE_KEY.fullmatch(k) else _toml_value(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ConfigError(f"cannot write {v!r} to TOML")


def dumps_toml(d: dict) -> str:
    """Write nested dicts (the resolved config of a run) to TOML: each non-empty dict below the top
    becomes a table ``[a.b]`` after the plain keys of its parent; an empty one is written ``{}``."""
    lines = []

    def table(path: list[str], values: dict) -> None:
        plain = {k: v for k, v in values.items() if not (isinstance(v, dict) and v)}
        if plain:
            if path:
                lines.append(f"[{'.'.join(map(_toml_key, path))}]")
            lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in plain.items())
            lines.append("")
        for k, v in values.items():
            if isinstance(v, dict) and v:
                table(path + [k], v)

    table([], d)
    return "\n".join(lines)
