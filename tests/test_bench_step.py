"""benchmarks/bench_step.py runs: the one-call step, the fused step with torch's GEMMs, the torch path and each part against the floor."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_step  # noqa: E402
import pytest  # noqa: E402

from deepnets import _numba  # noqa: E402


@pytest.mark.skipif(not _numba.available(), reason="Numba is off here (DEEPNETS_NO_NUMBA)")
def test_bench_step_prints_every_part_against_the_floor(capsys):
    bench_step.main(["--rounds", "1", "--calls", "2", "--jobs", "digits 64-100-10"])
    out = capsys.readouterr().out
    for part in ("whole step", "step, torch GEMMs", "step, torch path", "gradients", "one-call kernel",
                 "non-finite guard", "Adam (fused)", "matmul floor", "matmul floor, OpenBLAS",
                 "(kernel beyond its GEMMs)", "(the kernel call glue)", "(step overhead)"):
        assert f"  {part} " in out, part
    assert "1.00x floor [1.00-1.00]" in out   # the floor against itself


@pytest.mark.skipif(not _numba.available(), reason="Numba is off here (DEEPNETS_NO_NUMBA)")
def test_the_timed_step_is_the_fused_one_and_its_twin_the_torch_path():
    step, (x, _), _ = bench_step.fit_step([8, 6, 3])
    fused_step, _, _ = bench_step.fit_step([8, 6, 3], whole=False)
    torch_step, _, _ = bench_step.fit_step([8, 6, 3], numba=False)
    assert step.buffered.fused is not None and torch_step.buffered.fused is None
    assert step.buffered.whole_plan(x) is not None and fused_step.buffered.whole_plan(x) is None
