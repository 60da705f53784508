"""The lecture's claims that the examples under ``examples/`` reproduce: what `deepnets tour` runs.

Each :class:`Claim` names the lecture's statement, the example that tests it, the figure to read
from the run (a metric of a split, a forecast's NMSE, a count over seeds), its target, and the
pattern that finds the same figure in the README: the tour compares what it measures with what the
README says, so a README figure that the examples no longer give is a failing row.

``quick`` holds the ``--set`` overrides of ``deepnets tour --quick`` (fewer epochs, fewer seeds)
with its own, lower target; quick rows are not compared with the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: README figures in percent are compared with fractions
PERCENT = 0.01


def split_metric(name: str, split: str = "test") -> Callable:
    """The figure ``summary["metrics"][split][name]`` of a run, averaged over the claim's seeds."""
    def measure(summaries: list[dict]) -> float:
        return sum(s["metrics"][split][name] for s in summaries) / len(summaries)
    measure.__doc__ = f"{split} {name}"
    return measure


def forecast_nmse(kind: str) -> Callable:
    """The test NMSE of the ``kind`` forecast (``one_step`` or ``iterated``)."""
    def measure(summaries: list[dict]) -> float:
        return sum(s["forecast"]["segments"]["test"][kind]["model"]["nmse"] for s in summaries) / len(summaries)
    measure.__doc__ = f"test {kind.replace('_', '-')} NMSE"
    return measure


def solved(split: str = "train") -> Callable:
    """How many of the claim's seeds reach 100% accuracy on ``split``."""
    def measure(summaries: list[dict]) -> float:
        return float(sum(s["metrics"][split]["accuracy"] == 1.0 for s in summaries))
    measure.__doc__ = f"seeds with 100% {split} accuracy"
    return measure


def patterns(split: str = "train") -> Callable:
    """How many patterns of ``split`` are classified right (accuracy × count)."""
    def measure(summaries: list[dict]) -> float:
        s = summaries[0]
        return round(s["metrics"][split]["accuracy"] * s[f"n_{split}"])
    measure.__doc__ = f"{split} patterns right"
    return measure


def kept_start_ratio(summaries: list[dict]) -> float:
    """The kept start's test loss over the mean test loss of all starts (< 1: keeping the best helps)."""
    s = summaries[0]
    losses = [r["test_loss"] for r in s["starts"]]
    return losses[s["best_start"]] / (sum(losses) / len(losses))


@dataclass(frozen=True)
class Claim:
    """One row of the tour.

    ``op`` is ``">="`` or ``"<="``: how the figure must compare with ``target``. ``readme`` is a
    regular expression whose first group is the README's figure for this claim, multiplied by
    ``readme_scale`` to be in the measure's units; they agree when they differ by at most
    ``tolerance`` (absolute) or ``rel_tolerance`` (relative), whichever is larger.
    """

    name: str
    statement: str
    example: str
    measure: Callable
    op: str
    target: float
    shown: str  # how the figure is shown: "percent", "count" or "float"
    readme: str | None = None
    readme_scale: float = 1.0
    tolerance: float = 0.0
    rel_tolerance: float = 0.0
    seeds: tuple = (None,)
    prepare: tuple = ()  # arguments of examples/make_sklearn_csv.py, run first when its CSV is missing
    quick: tuple = ()
    quick_target: float | None = None
    quick_seeds: tuple | None = None
    sets: tuple = ("model.seed={seed}", "train.seed={seed}")  # the overrides of one seed


def _pct(name, statement, example, target, readme, **kw) -> Claim:
    return Claim(name, statement, example, split_metric("accuracy"), ">=", target, "percent",
                 readme=readme, readme_scale=PERCENT, tolerance=0.0015, **kw)


CLAIMS: tuple[Claim, ...] = (
    Claim("xor_steps_1", "a two-layer network of step units computes XOR (the slide's first hand-set net)",
          "xor_steps_1", split_metric("accuracy", "train"), ">=", 1.0, "percent"),
    Claim("xor_steps_2", "the slide's second hand-set step-unit XOR network", "xor_steps_2",
          split_metric("accuracy", "train"), ">=", 1.0, "percent"),
    Claim("xor", "a 2-2-1 logistic net learns XOR from random starts (restart when training stalls)", "xor",
          solved(), ">=", 20.0, "count", readme=r"\| `xor` \| (\d+)/20 seeds", seeds=tuple(range(20)),
          quick_seeds=(0, 1, 2, 3), quick_target=4.0),
    Claim("parity4", "one hidden layer computes n-bit parity (n = 4)", "parity4", patterns(), ">=", 16.0, "count",
          readme=r"\| `parity4` \| (\d+)/16 patterns"),
    Claim("sin", "one hidden layer of tanh units approximates a smooth function (universal approximation)", "sin",
          split_metric("rmse"), "<=", 0.01, "float", readme=r"\| `sin` \| test RMSE ([\d.]+)", rel_tolerance=0.10),
    Claim("sin_lm", "Levenberg-Marquardt (damping adapted each step) fits the sin net in 30 full-batch steps",
          "sin_lm", split_metric("rmse"), "<=", 0.01, "float",
          readme=r"\| `sin_lm` \| test RMSE ([\d.]+)", rel_tolerance=0.10),
    Claim("sin_multistart", "restart from new random weights and keep the best start (by validation loss)",
          "sin_multistart", kept_start_ratio, "<=", 1.0, "float",
          readme=r"\| `sin_multistart` \| kept start's test loss ([\d.]+)×", rel_tolerance=0.10),
    _pct("digits", "an MLP trained by back-propagation classifies the 8×8 digits", "digits", 0.975,
         r"\| `digits` \| ([\d.]+)% test accuracy", quick=("train.epochs=40",), quick_target=0.95),
    _pct("mnist1d", "an MLP on MNIST-1D reaches the published MLP figure (68%)", "mnist1d", 0.68,
         r"\| `mnist1d` \| ([\d.]+)% test accuracy", quick=("train.epochs=10",), quick_target=0.40),
    _pct("lenet5_digits", "LeNet-5 (convolution, pooling) beats the MLP on the digits", "lenet5_digits", 0.99,
         r"`examples/lenet5_digits.toml`[^*]*\*\*([\d.]+)%\*\*", quick=("train.epochs=3",), quick_target=0.80),
    _pct("mnist1d_cnn", "a 1-D CNN on MNIST-1D beats the published CNN figure (94%)", "mnist1d_cnn", 0.94,
         r"`examples/mnist1d_cnn.toml`[^*]*\*\*([\d.]+)%\*\*", quick=("train.epochs=3",), quick_target=0.30),
    _pct("mnist1d_gru", "a bidirectional GRU on MNIST-1D reaches the published figure (91%), mean of 3 seeds",
         "mnist1d_gru", 0.91, r"`examples/mnist1d_gru.toml`[^%]*?mean ([\d.]+)%", seeds=(0, 1, 2), quick=("train.epochs=2",), quick_target=0.15,
         quick_seeds=(0,)),
    _pct("digits_elm", "an extreme learning machine (random fixed hidden layer, output weights by ridge "
         "regression with λ by GCV, no gradient training) classifies the 8×8 digits", "digits_elm", 0.97,
         r"`examples/digits_elm.toml`[^%]*?test accuracy ([\d.]+)%"),
    _pct("iris", "1-of-C coding: an MLP classifies a user's CSV whose labels are words (iris)", "iris", 0.9,
         r"`examples/iris.toml`, test accuracy ([\d.]+)%", prepare=("iris",)),
    Claim("diabetes", "with targets standardised, a regression MLP beats predicting the mean (R² > 0; diabetes)",
          "diabetes", split_metric("r2"), ">=", 0.3, "float", readme=r"`examples/diabetes.toml`[^²]*R² ([\d.]+)",
          tolerance=0.005, prepare=("diabetes",)),
    Claim("narma10_one_step", "a NARX MLP with weight elimination forecasts NARMA-10 one step ahead "
          "far better than the linear ARX(10, 10) (NMSE 0.09)", "narma10", forecast_nmse("one_step"), "<=", 0.01,
          "float", readme=r"`examples/narma10.toml`[^*]*\*\*([\d.]+)\*\*", rel_tolerance=0.10),
    Claim("narma10_iterated", "... and iterated 10 steps (ARX 0.13)", "narma10", forecast_nmse("iterated"), "<=",
          0.02, "float", readme=r"`examples/narma10.toml`[^*]*\*\*[\d.]+\*\*[^*]*\*\*([\d.]+)\*\*",
          rel_tolerance=0.10),
    Claim("henon", "an MLP over two delay taps learns the Hénon map (AR(2): NMSE 0.96)", "henon",
          forecast_nmse("one_step"), "<=", 1e-3, "float", readme=r"`examples/henon.toml`: one-step ([\d.e-]+)",
          rel_tolerance=0.10),
)


#: examples that are not lecture claims, and why
NOT_CLAIMS = {
    "series_csv": "shows a user's own CSV series (the NARMA-10 model of narma10.toml read from a file)",
    "digits_adversarial": "shows [train.adversarial]; its robustness table is benchmarks/bench_adversarial.py's",
    "digits_semisupervised": "shows data.labelled_fraction and [train.pairs]; its table is "
                             "benchmarks/bench_semisupervised.py's",
    "digits_pretrain": "shows [pretrain] (greedy layer-wise pretraining on the unlabelled images); its table "
                       "over seeds and label fractions is benchmarks/bench_pretrain.py's",
    "tune_sin": "a search space for deepnets tune (a study, not one run)",
    "tune_mnist1d": "a search space for deepnets tune (a study, not one run); its figures are "
                    "benchmarks/tune_mnist1d.py's",
    "digits_pretrain_rbm": "shows [pretrain] kind = \"rbm\"; the table with and without pretraining is "
                           "benchmarks/bench_pretrain.py's",
    "transfer_source": "step 1 of the transfer example (MNIST-1D classes 0-4); its comparison with training "
                       "from scratch is benchmarks/bench_transfer.py --data mnist1d's table",
    "transfer_target": "step 2 of the transfer example: it reads the run folder transfer_source.toml writes "
                       "(runs/transfer_source), which the tour's own run folders do not provide",
}


def claim_names() -> list[str]:
    return [c.name for c in CLAIMS]
