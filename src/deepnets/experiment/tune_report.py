"""What a study leaves in its folder: ``trials.csv``, the best trial or the Pareto front, the plots.

The plots are Optuna's own (``optuna.visualization.matplotlib``: optimisation history,
parameter importances (fANOVA, Hutter et al. 2014), parallel coordinates, the Pareto front of
a multi-objective study), each written atomically through :func:`deepnets.report.figure.save_png`.
"""

from __future__ import annotations

import csv
import io
import os
import warnings

from ..atomic import write_atomic
from ..report.figure import save_png

__all__ = ["write_trials_csv", "best_trials", "pareto_front", "write_plots"]


def write_trials_csv(path: str, trials, objectives: list[str]) -> None:
    """One row per trial: number, state, the objective values, seconds, each parameter."""
    keys = sorted({k for t in trials for k in t.params})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["number", "state", *objectives, "seconds", *keys])
    for t in trials:
        values = list(t.values) if t.values else [""] * len(objectives)
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else ""
        w.writerow([t.number, t.state.name, *values, seconds, *(t.params.get(k, "") for k in keys)])
    write_atomic(path, buf.getvalue().encode(), what="trials table")


def pareto_front(points: list[tuple], directions: list[str]) -> list[int]:
    """Indices of the points no other point dominates (at least as good in every objective and
    better in one), ``directions`` "minimize"/"maximize" per objective."""
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]
    keyed = [tuple(s * v for s, v in zip(signs, p)) for p in points]

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [i for i, p in enumerate(keyed) if not any(dominates(q, p) for q in keyed)]


def best_trials(study, objectives: list[str]) -> list[tuple]:
    """``[(number, values, params)]``: the best complete trial, or with several objectives the
    Pareto front ordered by the first objective (Optuna's ``best_trials``)."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return []
    if len(objectives) == 1:
        b = study.best_trial
        return [(b.number, list(b.values), dict(b.params))]
    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else -1.0
    front = sorted(study.best_trials, key=lambda t: (sign * t.values[0], t.number))
    return [(t.number, list(t.values), dict(t.params)) for t in front]


def write_plots(optuna, study, folder: str, objectives: list[str]) -> list[str]:
    """Write the study's plots into ``folder``; returns the files written (a plot that needs more
    finished trials than there are, e.g. importances with one parameter, is left out)."""
    import matplotlib
    from matplotlib import pyplot as plt
    from optuna.visualization import matplotlib as ov

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    single = len(objectives) == 1
    target = None if single else (lambda t: t.values[0])
    name = objectives[0]
    plots = {"history.png": lambda: ov.plot_optimization_history(study, target=target, target_name=name),
             "parallel.png": lambda: ov.plot_parallel_coordinate(study, target=target, target_name=name)}
    if len({k for t in done for k in t.params}) >= 2 and len(done) >= 2:
        plots["importances.png"] = lambda: ov.plot_param_importances(study, target=target, target_name=name)
    if not single and len(objectives) <= 3:
        plots["pareto.png"] = lambda: ov.plot_pareto_front(study, target_names=list(objectives))
    written = []
    if not done:
        return written
    for file, draw in plots.items():
        with warnings.catch_warnings(), matplotlib.rc_context():  # Optuna's plots set a pyplot style: put it back
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            ax = draw()
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        try:
            save_png(fig, os.path.join(folder, file))
            written.append(file)
        finally:
            plt.close(fig)
    return written
