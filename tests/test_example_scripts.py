"""The Python examples under examples/ run as a user runs them and print what their docstrings promise."""

import os
import re
import subprocess
import sys
from pathlib import Path

import deepnets

ROOT = Path(__file__).resolve().parent.parent
SRC = str(Path(deepnets.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def _run(name, *args):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                       env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_perceptron_rule_converges_on_and_or_cycles_on_xor_within_novikoffs_bound():
    out = _run("perceptron_rule.py")
    assert re.search(r"AND: converged .* outputs \[-1, -1, -1, 1\]", out)
    assert re.search(r"OR : converged .* outputs \[-1, 1, 1, 1\]", out)
    assert "XOR: cycles" in out
    m = re.search(r"converged True, (\d+) mistakes \(Novikoff's bound \(R/γ\)² = (\d+)\)", out)
    assert m and int(m.group(1)) <= int(m.group(2))


def test_ard_example_ranks_the_inputs_by_sensitivity():
    out = _run("ard_relevance.py")
    rows = re.findall(r"^(MacKay's re-estimation|lecture's l.*?priors)\s+\S+, \S+, \S+\s+([\d.]+), ([\d.]+), ([\d.]+)$",
                      out, flags=re.M)
    assert len(rows) == 2, out
    for _, s0, s1, s2 in rows:  # the noise input has the least effect; the sin input the largest
        assert float(s2) < float(s0) < float(s1)


def test_inception_v4_example_counts_the_parameters_and_runs_a_pass():
    out = _run("inception_v4.py", "--size", "75", "--classes", "10", "--batch", "2")
    # 42,679,816 at 1000 classes, less the 1536 x 1000 + 1000 head, plus a 1536 x 10 + 10 one
    assert f"{42_679_816 - 1_537_000 + 15_370:,} parameters" in out
    assert "logits (2, 10)" in out
