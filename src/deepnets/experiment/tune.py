"""Hyper-parameter search on Optuna: the ``deepnets tune`` command's library half.

A study searches the keys of ``[tune.space]`` (:mod:`.tune_space`); each trial trains the
experiment those values describe and is scored on held-out data (:mod:`.tune_trial`). The
samplers are Optuna's: TPE (Bergstra et al. 2011) and a Gaussian process (Bayesian
optimisation), CMA-ES (Hansen 2016), NSGA-II (Deb et al. 2002: the genetic algorithm, which also
serves a multi-objective search such as validation error against N_W: its answer is the Pareto
front) and random search. Pruners (median, Hyperband: Li et al. 2018) stop bad trials early
from their per-epoch reports.

The study lives in an SQLAlchemy storage: by default ``STUDY/study.db`` (SQLite) in the study
folder, so a killed search (even kill -9) continues where it stopped when run again: the
trials already finished count towards ``trials``. Running trials send a heartbeat; one silent
for twice ``tune.heartbeat`` seconds (its process was killed) is failed and its parameters
tried again. Any other URL (PostgreSQL) lets processes on several machines share one study;
``workers`` K starts K processes on this one.

The study folder gets ``trials.csv``, the plots (``history.png``, ``importances.png``,
``parallel.png``, ``pareto.png``) and, with ``tune.retrain``, the best trial trained again as a
normal run folder (``best-N``).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
import warnings
from dataclasses import dataclass

from ..atomic import write_atomic
from ..config import Experiment, TuneConfig, experiment_from_dict, experiment_from_file, experiment_to_dict
from ..config.read import check_run_name
from ..errors import ConfigError, TrainingDiverged
from .tune_space import Param, decoded, parse_space, suggest, with_params
from .tune_trial import check_data, check_objectives, train_trial

__all__ = ["tune_experiment", "tune_file", "describe", "TuneResult", "study_folder", "SAMPLERS", "PRUNERS"]

SAMPLERS = ("tpe", "gp", "cmaes", "nsga2", "random")
PRUNERS = ("none", "median", "hyperband")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError("deepnets tune needs Optuna: pip install 'deepnets[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats, retries, plots
    return optuna


@dataclass
class TuneResult:
    """What a search left: the study folder, its trials, the best (or Pareto-optimal) trial numbers."""

    folder: str
    study: str
    storage: str
    objectives: list
    n_complete: int
    n_pruned: int
    n_failed: int
    best: list                       # [(number, values, params)]: the best trial, or the Pareto front
    best_run: str | None = None


def study_folder(exp: Experiment, source: str | None) -> tuple[str, str]:
    """``(folder, study name)``: ``run.out/tune-NAME``, NAME = ``tune.study`` or the file's name."""
    name = exp.tune.study or os.path.splitext(os.path.basename(source or "experiment"))[0]
    try:
        check_run_name(f"tune-{name}")
    except ConfigError as e:
        raise ConfigError(f"tune.study {name!r} names the folder tune-NAME inside run.out: {e}") from None
    return os.path.abspath(os.path.join(exp.run.out, f"tune-{name}")), name


def _check(exp: Experiment) -> tuple[list[Param], list[str]]:
    t = exp.tune
    if t is None:
        raise ConfigError("deepnets tune needs a [tune] table with [tune.space] (the keys to search)")
    if t.sampler not in SAMPLERS:
        raise ConfigError(f"tune.sampler must be one of {', '.join(SAMPLERS)}, got {t.sampler!r}")
    if t.pruner not in PRUNERS:
        raise ConfigError(f"tune.pruner must be one of {', '.join(PRUNERS)}, got {t.pruner!r}")
    for key, least in (("trials", 1), ("workers", 1), ("population", 2), ("random_trials", 1)):
        if getattr(t, key) < least:
            raise ConfigError(f"tune.{key} must be >= {least}, got {getattr(t, key)}")
    if t.timeout < 0 or t.heartbeat < 0:
        raise ConfigError(f"tune.timeout and tune.heartbeat must be >= 0, got {t.timeout}, {t.heartbeat}")
    directions = check_objectives(t)
    if exp.data.labelled_fraction != 1 or exp.train.pairs is not None or "data.labelled_fraction" in t.space:
        raise ConfigError(f"a tune trial trains on every training label: data.labelled_fraction = 1 and no "
                          f"[train.pairs] expected, got {exp.data.labelled_fraction} and "
                          f"{'a' if exp.train.pairs is not None else 'no'} [train.pairs]")
    if exp.pretrain is not None:
        raise ConfigError("a tune trial trains from random weights: remove [pretrain] (it is for deepnets train)")
    if exp.train.starts != 1 or "train.starts" in t.space:
        raise ConfigError("a tune trial trains one start: set train.starts = 1 (search \"model.seed\" to vary starts)")
    if len(directions) > 1 and t.sampler == "cmaes":
        raise ConfigError("tune.sampler = \"cmaes\" optimises one objective; for several use nsga2, tpe or random")
    if len(directions) > 1 and t.pruner != "none":
        raise ConfigError("pruning needs a single objective (Optuna cannot prune a multi-objective trial): "
                          "set tune.pruner = \"none\"")
    return parse_space(exp), directions


def _storage(optuna, url: str, heartbeat: int):
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    retry = optuna.storages.RetryFailedTrialCallback(max_retry=1) if heartbeat else None
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat or None,
                                          grace_period=2 * heartbeat if heartbeat else None,
                                          failed_trial_callback=retry)
    except Exception as e:  # a malformed URL, a missing driver, a server that does not answer
        raise ConfigError(f"tune storage {_hidden(url)!r} cannot be opened: {' '.join(str(e).split())[:300]}") from None


def _hidden(url: str) -> str:
    """The URL with its password replaced by ***."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, cred = head.partition("//")
    return f"{scheme}//{cred.split(':', 1)[0]}:***@{tail}"


def _sampler(optuna, t, seed: int):
    if t.sampler == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=t.random_trials, seed=seed)
    if t.sampler == "gp":
        return optuna.samplers.GPSampler(n_startup_trials=t.random_trials, seed=seed)
    if t.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    if t.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=t.population, seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def _pruner(optuna, t, epochs: int):
    if t.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=t.startup_trials, n_warmup_steps=t.warmup_epochs)
    if t.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs))
    return optuna.pruners.NopPruner()


def _open(optuna, exp: Experiment, directions, url: str, name: str, seed: int):
    t = exp.tune
    try:
        return optuna.create_study(storage=_storage(optuna, url, t.heartbeat), study_name=name, load_if_exists=True,
                                   directions=directions, sampler=_sampler(optuna, t, seed),
                                   pruner=_pruner(optuna, t, exp.train.epochs))
    except ValueError as e:  # the stored study has other directions
        raise ConfigError(f"study {name!r}: {e}") from None


def _counts(optuna, study) -> tuple[int, int]:
    """(finished: complete or pruned, running) trials of the study."""
    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False, states=(S.COMPLETE, S.PRUNED, S.RUNNING))
    running = sum(t.state == S.RUNNING for t in trials)
    return len(trials) - running, running


def _line(optuna, study, trial, objectives, out) -> None:
    """One progress line per finished trial: number, state, values, parameters, seconds, best so far."""
    S = optuna.trial.TrialState
    values = ("  ".join(f"{n} {v:.5g}" for n, v in zip(objectives, trial.values)) if trial.values
              else trial.user_attrs.get("error", ""))
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0.0
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
    best = ""
    if len(objectives) == 1:
        try:
            b = study.best_trial
            best = f"; best #{b.number} {b.value:.5g}"
        except ValueError:
            pass
    print(f"trial {trial.number} {S(trial.state).name.lower()}: {values} ({params}) {seconds:.1f} s{best}",
          file=out, flush=True)


def _objective(optuna, exp, params, objectives):
    t = exp.tune

    def objective(trial):
        values = suggest(trial, params)
        run_exp = with_params(exp, values)
        try:
            scores, pruned = train_trial(run_exp, objectives, heldout=t.heldout, folds=t.folds, trial=trial)
        except TrainingDiverged as e:  # a bad learning rate is a result of the search, not an error
            trial.set_user_attr("error", f"diverged: {' '.join(str(e).split())[:200]}")
            return float("nan")  # Optuna records the trial as failed
        if pruned:
            raise optuna.TrialPruned()
        return scores[0] if len(scores) == 1 else tuple(scores)

    return objective


def _work(exp_dict: dict, url: str, name: str, quota: int, worker: int, deadline: float | None, out=None) -> None:
    """One worker: trials until its quota is done, the study holds ``tune.trials`` finished or
    running trials, or the deadline passes."""
    optuna = _optuna()
    out = out or sys.stderr
    exp = experiment_from_dict(exp_dict)
    params, directions = _check(exp)
    objectives = exp.tune.objectives
    study = _open(optuna, exp, directions, url, name, exp.tune.seed + worker)
    objective = _objective(optuna, exp, params, objectives)
    done = 0
    while done < quota and (deadline is None or time.time() < deadline):
        if exp.tune.heartbeat:
            optuna.storages.fail_stale_trials(study)  # a killed process's trial: failed, its parameters retried
        finished, running = _counts(optuna, study)
        if finished + running >= exp.tune.trials:
            break
        study.optimize(objective, n_trials=1, catch=(),
                       callbacks=[lambda s, tr: _line(optuna, s, tr, objectives, out)])
        done += 1


def _worker_main(*args) -> None:  # a spawned worker process: its errors as one line, exit 2
    from ..errors import DeepnetsError

    try:
        _work(*args)
    except DeepnetsError as e:
        print(f"deepnets: error: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
        sys.exit(2)


def tune_experiment(exp: Experiment, *, source: str | None = None, out=None) -> TuneResult:
    """Run (or continue) the study of ``exp.tune`` and write its folder; returns a :class:`TuneResult`.

    ``source``: the experiment file (its name names the study by default); ``out``: where the
    progress lines go (default stderr).
    """
    optuna = _optuna()
    out = out or sys.stderr
    params, directions = _check(exp)
    t = exp.tune
    study_folder(exp, source)  # a bad study name before anything else
    check_data(with_params(exp, {}), t.objectives, t.heldout)  # a mistake here leaves no study behind
    folder, name = study_folder(exp, source)
    os.makedirs(folder, exist_ok=True)
    url = t.storage or f"sqlite:///{os.path.join(folder, 'study.db')}"
    study = _open(optuna, exp, directions, url, name, t.seed)
    finished, running = _counts(optuna, study)
    print(f"study {name!r} in {_hidden(url)}: {finished} trials finished, {running} running; "
          f"searching {len(params)} keys with {t.sampler} up to {t.trials} trials", file=out, flush=True)
    remaining = max(0, t.trials - finished)
    deadline = time.time() + t.timeout if t.timeout else None
    exp_dict = experiment_to_dict(exp)
    k = min(t.workers, remaining) if remaining else 0
    quotas = [remaining // k + (w < remaining % k) for w in range(k)] if k else []
    if k == 1:
        _work(exp_dict, url, name, quotas[0], 0, deadline, out)
    elif k > 1:
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(exp_dict, url, name, q, w, deadline)) for w, q in enumerate(quotas)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        bad = [p.exitcode for p in procs if p.exitcode != 0]
        if bad:
            raise ConfigError(f"{len(bad)} of {k} tune workers failed (exit status {bad}); the study keeps their "
                              f"finished trials: run deepnets tune again to continue")
    return _finish(optuna, exp, params, study, folder, name, url, out)


def tune_file(path, overrides=(), *, out_dir: str | None = None, out=None, **tune) -> TuneResult:
    """``deepnets tune PATH``: the experiment file with its ``--set`` overrides, the ``[tune]``
    settings given as keywords (None: the file's), the study folder's parent ``out_dir`` (None:
    ``run.out``); then :func:`tune_experiment`. A file with no ``[tune]`` gets "[tune.space] is empty"."""
    exp = experiment_from_file(path, overrides)
    given = {k: v for k, v in tune.items() if v is not None}
    exp = dataclasses.replace(exp, tune=dataclasses.replace(exp.tune or TuneConfig(), **given))
    if out_dir is not None:
        exp = dataclasses.replace(exp, run=dataclasses.replace(exp.run, out=out_dir))
    return tune_experiment(exp, source=path, out=out)


def _finish(optuna, exp, params, study, folder, name, url, out) -> TuneResult:
    from .tune_report import best_trials, write_plots, write_trials_csv

    t, S = exp.tune, optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    count = {s: sum(tr.state == s for tr in trials) for s in (S.COMPLETE, S.PRUNED, S.FAIL)}
    write_trials_csv(os.path.join(folder, "trials.csv"), trials, t.objectives)
    best = [(n, v, decoded(params, p)) for n, v, p in best_trials(study, t.objectives)]
    if t.plots:
        write_plots(optuna, study, folder, t.objectives)
    result = TuneResult(folder, name, _hidden(url), list(t.objectives), count[S.COMPLETE], count[S.PRUNED],
                        count[S.FAIL], best)
    if t.retrain and best:
        number, _, values = best[0]
        run_exp = with_params(exp, values)
        run_exp = dataclasses.replace(run_exp, run=dataclasses.replace(run_exp.run, out=folder, name=f"best-{number}"))
        kept = os.path.join(folder, f"best-{number}")
        if os.path.exists(os.path.join(kept, "summary.json")):  # retrained by an earlier run of the study
            result.best_run = kept
        else:
            from .run import run_experiment

            print(f"retraining trial {number} as a run folder", file=out, flush=True)
            result.best_run = run_experiment(run_exp, source=os.path.join(folder, "trials.csv"),
                                             progress_file=out).path
    write_atomic(os.path.join(folder, "best.txt"), "".join(
        f"{n}\t{' '.join(map(repr, v))}\t{p}\n" for n, v, p in best).encode(), what="best trials")
    return result


def _num(v: float) -> str:
    if float(v).is_integer() and abs(v) >= 1:  # N_W
        return str(int(v))
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 or v != v else f"{v:.3e}"


def describe(r: TuneResult) -> list[str]:
    """The lines ``deepnets tune`` prints at the end: counts, the best trial or the Pareto front, the files."""
    lines = [f"{r.n_complete} trials complete, {r.n_pruned} pruned, {r.n_failed} failed; study {r.study!r} in {r.storage}"]
    if len(r.objectives) == 1 and r.best:
        n, v, p = r.best[0]
        lines.append(f"best trial {n}: {r.objectives[0]} {_num(v[0])}  {p}")
    elif r.best:
        lines.append(f"Pareto front ({' vs '.join(r.objectives)}), {len(r.best)} trials:")
        lines += [f"  trial {n}: " + "  ".join(f"{o} {_num(x)}" for o, x in zip(r.objectives, v)) + f"  {p}"
                  for n, v, p in r.best]
    if r.best_run:
        lines.append(f"best trial retrained: {r.best_run}")
    lines.append(f"trials.csv and plots written to {r.folder}")
    return lines
