"""TOML text in and out: parse errors as ConfigError, and the writer of a run's resolved config.

An experiment file is read with its size, nesting depth, dotted-key length and string lengths
capped (``deepnets.data.limits.LIMITS``: toml_bytes, toml_depth, toml_string_chars) before and
after ``tomllib`` sees it: tomllib recurses once per level of nesting (3000 levels: a
RecursionError) and builds a dotted key part by part in quadratic time (a header a million parts
deep runs for hours).
"""

from __future__ import annotations

import json
import os
import re

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from ..data.limits import LIMITS, raise_hint
from ..errors import ConfigError


#: tokens of TOML text for the pre-check: strings and comments (skipped whole), brackets, separators
_TOKEN = re.compile(r"""
    (?P<skip> \"\"\"(?:[^\\]|\\.)*?\"\"\" | '''.*?''' | "(?:[^"\\\n]|\\.)*" | '[^'\n]*' | \#[^\n]* )
  | (?P<open>[\[{]) | (?P<close>[\]}]) | (?P<dot>\.) | (?P<sep>[=,\n])
""", re.X | re.S)


def _check_shape(text: str, source: str) -> None:
    """ConfigError if brackets nest, or a key has dotted parts, beyond ``LIMITS.toml_depth``.

    A run of dots not broken by ``=``, ``,``, a bracket or a new line is one dotted key (a
    number has one dot); strings and comments are skipped whole.
    """
    cap, depth, dots = LIMITS.toml_depth, 0, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "open":
            depth, dots = depth + 1, 0
            if depth > cap:
                raise ConfigError(f"{source}: line {text.count(chr(10), 0, m.start()) + 1}: tables or arrays "
                                  f"nested deeper than {cap} levels (toml_depth; {raise_hint('toml_depth')})")
        elif kind == "close":
            depth, dots = max(depth - 1, 0), 0
        elif kind == "dot":
            dots += 1
            if dots >= cap:
                raise ConfigError(f"{source}: line {text.count(chr(10), 0, m.start()) + 1}: a dotted key of "
                                  f"more than {cap} parts (toml_depth; {raise_hint('toml_depth')})")
        elif kind == "sep":
            dots = 0


def _check_strings(d: dict, source: str) -> None:
    """ConfigError naming the key of the first string (value or key) longer than the cap."""
    cap, stack = LIMITS.toml_string_chars, [("", d)]
    while stack:
        where, node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            key = (f"{where}.{k}" if where else k) if isinstance(node, dict) else f"{where}[{k}]"
            if isinstance(k, str) and len(k) > cap:
                raise ConfigError(f"{source}: a key of {len(k)} characters in {where or 'the top table'}, above "
                                  f"the cap of {cap} (toml_string_chars; {raise_hint('toml_string_chars')})")
            if isinstance(v, str) and len(v) > cap:
                raise ConfigError(f"{source}: {key} is a string of {len(v)} characters, above the cap of {cap} "
                                  f"(toml_string_chars; {raise_hint('toml_string_chars')})")
            if isinstance(v, (dict, list)):
                stack.append((key, v))


def loads_toml(text: str, source: str = "<string>") -> dict:
    """Parse TOML text (ConfigError naming ``source`` for invalid text or a cap passed)."""
    _check_shape(text, source)
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
    except RecursionError:  # a second line of defence behind _check_shape
        raise ConfigError(f"{source}: not valid TOML (nested too deeply)") from None
    _check_strings(d, source)
    return d


def load_toml(path) -> dict:
    """Read an experiment file: at most ``LIMITS.toml_bytes`` (1 MiB) of UTF-8 TOML."""
    try:
        size = os.path.getsize(path)
        if size > LIMITS.toml_bytes:
            raise ConfigError(f"{path}: {size} bytes, above the cap of {LIMITS.toml_bytes} for an experiment "
                              f"file (toml_bytes; {raise_hint('toml_bytes')})")
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
