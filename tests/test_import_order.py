"""Every package and top-level module of deepnets imports first, in a fresh interpreter: no import cycle that only one
import order reveals (``from deepnets.sklearn import MLPClassifier`` as a script's first line once
failed on train.step -> regularizers -> adaptive_lambda -> train)."""

import importlib.util
import os
import pkgutil
import subprocess
import sys
import textwrap

# a parent with torch, NumPy and SciPy loaded (the slow part), deepnets not: a child forked for each
# module imports it first, as a user's script would
SCRIPT = textwrap.dedent('''
    import importlib, os, sys, traceback
    import numpy, scipy, torch  # noqa: F401
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
            failed.append(name)
    print("FAILED", failed)
''')


def _modules() -> list[str]:
    """deepnets, its top-level modules and every package (a package imports its modules), found
    on disk without importing deepnets."""
    root = importlib.util.find_spec("deepnets").submodule_search_locations
    names = ["deepnets"]
    for m in pkgutil.walk_packages(root, "deepnets."):
        if (m.ispkg or m.name.count(".") == 1) and not m.name.endswith("__main__"):  # (__main__ runs the CLI)
            names.append(m.name)
    return names


def test_every_package_imports_first_in_a_fresh_interpreter():
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        import pytest
        pytest.skip("needs os.fork")
    names = _modules()
    assert len(names) > 30
    r = subprocess.run([sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("FAILED []"), r.stderr[-3000:]
