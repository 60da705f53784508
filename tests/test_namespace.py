"""Every package's ``__all__`` lists exactly what its ``__init__`` exports, and the top level's names
from a subpackage are the very objects that subpackage lists (one object, one public path)."""

import ast
import importlib
from pathlib import Path

import pytest

import deepnets

ROOT = Path(deepnets.__file__).parent
PACKAGES = sorted(".".join(("deepnets", *p.parent.relative_to(ROOT).parts)) for p in ROOT.rglob("__init__.py"))


def _init_tree(package: str) -> ast.Module:
    return ast.parse((ROOT.joinpath(*package.split(".")[1:]) / "__init__.py").read_text(encoding="utf-8"))


def _exported(package: str) -> dict[str, str]:
    """Public names the package's ``__init__`` binds, each with the module it comes from: its own
    (non-private) modules' imports, the names its ``_LAZY`` table loads on first use, and its own definitions; helpers from ``_private`` modules, from
    above the package or from outside deepnets are not exports."""
    names = {}
    for node in _init_tree(package).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            source = node.module or ""
            if not source.startswith("_"):
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{package}.{source}" if source else package
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = package
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_LAZY"]:
            for source, lazy in ast.literal_eval(node.value).items():  # names loaded on first use (PEP 562)
                for name in lazy:
                    names[name] = f"{package}.{source}" if source else package
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(target, ast.Name):
                    names[target.id] = package
    return {n: src for n, src in names.items() if not n.startswith("_")}


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_exactly_what_the_package_exports(package):
    module = importlib.import_module(package)
    listed = list(module.__all__)
    assert len(listed) == len(set(listed)), f"{package}.__all__ repeats a name"
    assert [n for n in listed if not hasattr(module, n)] == [], f"{package}.__all__ names what it lacks"
    exported = _exported(package)
    assert sorted(set(exported) - set(listed)) == [], f"{package} exports names missing from __all__"
    assert sorted(set(listed) - set(exported)) == [], f"{package}.__all__ lists names it does not export"


def test_top_level_names_from_a_subpackage_are_that_subpackages_objects():
    subpackages = {p.split(".")[1] for p in PACKAGES if p.count(".") == 1}
    checked = 0
    for name, source in _exported("deepnets").items():
        parts = source.split(".")
        if len(parts) < 2 or parts[1] not in subpackages or source == f"deepnets.{name}":
            continue                                     # a top-level module (losses, errors) or a subpackage itself
        sub = importlib.import_module(f"deepnets.{parts[1]}")
        assert name in sub.__all__, f"deepnets.{name} is not in deepnets.{parts[1]}.__all__"
        assert getattr(deepnets, name) is getattr(sub, name), f"deepnets.{name} is not deepnets.{parts[1]}.{name}"
        checked += 1
    assert checked >= 20


def test_top_level_is_the_lectures_core():
    assert 40 <= len(deepnets.__all__) <= 55
    for name in ("MLP", "fit", "evaluate", "costates", "EarlyStopping", "CheckpointManager", "LMS",
                 "CrossEntropy", "load_dataset", "TrainingInterrupted", "zoo", "nn"):
        assert name in deepnets.__all__
    for moved in ("Captioner", "Transformer", "Laplace", "truncated_bptt", "RecurrentNet"):
        assert not hasattr(deepnets, moved), f"deepnets.{moved} belongs to its subpackage"
