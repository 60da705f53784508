"""`python -m deepnets._warm` (run by `make install`) compiles or loads the kernels, or says Numba is off."""

from deepnets import _numba, _warm


def test_warm_makes_the_first_calls_and_says_how_long(capsys, monkeypatch):
    assert _warm.main() == 0
    out = capsys.readouterr().out
    if _numba.available():
        assert "kernels compiled or loaded in" in out
        from deepnets.train.costate_whole_kernels import WHOLE
        assert all(k.dispatcher().signatures for k in WHOLE.values())  # each terminal's step compiled
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    assert _warm.main() == 0
    assert "nothing to compile" in capsys.readouterr().out
