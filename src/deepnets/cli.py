"""The ``deepnets`` command: parses arguments, builds configs, calls the library, prints.

    deepnets train [EXPERIMENT.toml] [--set key=value ...]
    deepnets train --resume RUN
    deepnets evaluate RUN [--data NEW.csv]
    deepnets predict RUN FILE.csv [--proba] [--out PREDICTIONS.csv] [--interval 0.95]
    deepnets relevance RUN [--rounds R] [--inner I] [--method mackay|lecture|evidence] [--hyper A B C D]
    deepnets prune RUN --method obs|obd|magnitude|layerwise [--sparsity S | --max-error-increase E]
    deepnets select EXPERIMENT.toml --hidden 2,4,8,16,32 [--cv K [--blocked] | --bootstrap B] [--out DIR]
    deepnets tune EXPERIMENT.toml [--trials N] [--timeout S] [--sampler tpe|gp|cmaes|nsga2|random]
                  [--storage URL] [--study NAME] [--workers K] [--out DIR]
    deepnets export RUN --onnx OUT.onnx
    deepnets datasets
    deepnets models [NAME ...]
    deepnets report RUN [--out REPORT.html]
    deepnets tour [--quick] [--only NAME,...] [--out DIR]

A user error (a bad key, a malformed file, ...) prints one line ``deepnets: error: ...`` and
exits with status 2. SIGTERM or SIGINT during training finishes the batch, writes a checkpoint
into the run folder, prints ``interrupted at epoch E, step S (SIGTERM); ... continue with:
deepnets train --resume PATH`` and exits with status 75 (EX_TEMPFAIL) for SIGTERM, 130 for
SIGINT; ``deepnets train --resume RUN`` continues exactly where it stopped. Ctrl-C at any other
moment exits with status 130 and one line, no traceback. ``--help`` and ``--version`` import
neither torch nor numpy: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shlex
import signal
import sys

from .errors import (EXIT_CTRL_C, EXIT_INTERRUPTED, ConfigError, DeepnetsError, StoppedAfterTraining,
                     TrainingInterrupted)


def _num(v: float) -> str:
    """4 decimals, or 4 significant digits for small values (a series' MSE of 2e-5 is not 0.0000)."""
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 or v != v else f"{v:.3e}"


def _fmt(metrics: dict) -> str:
    return "  ".join(f"{k} {_num(v)}" for k, v in metrics.items())


def cmd_train(args) -> int:
    from .experiment import experiment_from_file, resume_run, run_experiment

    if args.resume:
        if args.experiment or args.set:
            raise ConfigError("--resume RUN continues a run with its own config: give no experiment file or --set")
        from .experiment.folder import finished_run
        from .experiment.provenance import check_data

        check_data(args.resume, resume=True)  # --resume promises the same data, finished or not
        finished = finished_run(args.resume)
        if finished is not None:  # nothing to continue: say so rather than train its last stretch again
            print(f"{args.resume}: {finished}; nothing to resume (scores again: deepnets evaluate "
                  f"{shlex.quote(args.resume)})")
            return 0
        res = resume_run(args.resume, announce=print)
    else:
        exp = experiment_from_file(args.experiment, args.set)
        if args.costates:
            exp.run.costates = True
        if args.out:
            exp.run.out = args.out
        if args.no_progress:
            exp.run.progress = False
        res = run_experiment(exp, source=args.experiment or "defaults", announce=print)
    s = res.summary
    print(f"{s['dataset']}: {s['n_train']} train / {s['n_val']} val / {s['n_test']} test, "
          f"{s['n_weights']} weights, {s['epochs_run']} epochs in {s['train_seconds']:.2f} s"
          + (f", {s['restarts']} restart(s)" if s["restarts"] else ""))
    if "pretrain" in s:
        pre = s["pretrain"]
        print(f"pretrained {pre['layers']} hidden layer(s) {pre['sizes']} ({pre['kind']}) on {pre['n_examples']} "
              f"unlabelled examples in {pre['seconds']:.2f} s")
    if "starts" in s:
        print("start  seed  val loss\n" + "\n".join(
            f"{r['start']:>5}  {r['seed']:>4}  {r['val_loss']:.5g}" + ("  <- kept" if r["start"] == s["best_start"] else "")
            for r in s["starts"]))
    for split_name, m in s["metrics"].items():
        print(f"{split_name:>5}: {_fmt(m)}")
    if "forecast" in s:
        print("\n".join(_forecast_lines(s["forecast"])))
    key = "accuracy" if "accuracy" in res.test else "rmse"
    where = "test" if "test" in s["metrics"] else "train"
    beside = (f" (R² {res.test['r2']:.4f}; predicting the training mean: rmse {res.test['mean_predictor_rmse']:.4f})"
              if "r2" in res.test else "")
    print(f"{where} {key}: {res.test[key]:.4f}{beside}")
    print(f"run written to {res.path}")
    return 0


def _forecast_lines(report: dict) -> list[str]:
    """The forecast table of a series run: the network beside the AR baseline on the last segment."""
    name = next(n for n in ("file", "test", "val", "train") if n in report["segments"])
    seg, base, h = report["segments"][name], report["baseline"], report["horizon"]
    lines = [f"forecast on the {'file' if name == 'file' else name + ' segment'} (t = {seg['times'][0]}..{seg['times'][1] - 1}); "
             f"NMSE = MSE / {report['normaliser']}",
             f"  {'':<22}{'network MSE':>13}{'NMSE':>11}   {base + ' MSE':>13}{'NMSE':>11}"]
    rows = [("one-step", seg["one_step"])]
    if seg["iterated"] is not None:
        rows.append((f"iterated {h}-step", seg["iterated"]))
    for label, r in rows:
        m, a = r["model"], r["ar"]
        lines.append(f"  {label:<22}{m['mse']:>13.4g}{m['nmse']:>11.4g}   {a['mse']:>13.4g}{a['nmse']:>11.4g}")
    return lines


def cmd_evaluate(args) -> int:
    from .experiment import evaluate_file, reevaluate_run

    if args.data:
        m = evaluate_file(args.run, args.data)
        print(f"{args.data}: " + ("\n".join(_forecast_lines(m["forecast"])) if "forecast" in m else _fmt(m)))
        return 0
    metrics, report = reevaluate_run(args.run)
    for split_name, m in metrics.items():
        print(f"{split_name:>5}: {_fmt(m)}")
    if report is not None:  # a series run: the forecasts beside the AR baseline again
        print("\n".join(_forecast_lines(report)))
    return 0


def cmd_predict(args) -> int:
    from .experiment import predict_run

    if args.out:  # a folder that is not there is said before the predictions are computed
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise ConfigError(f"--out: cannot write the predictions file {args.out}: the folder {folder} "
                              f"{'is a file' if os.path.exists(folder) else 'does not exist'}")
        if os.path.isdir(args.out):
            raise ConfigError(f"--out: cannot write the predictions file {args.out}: it is a folder; name a file")
    if args.interval is not None and args.proba:
        raise ConfigError("--interval gives the moderated class probabilities itself: drop --proba")
    if args.interval is not None:  # the Laplace predictive: its own module
        from .experiment.interval import predict_interval

        header, rows, info = predict_interval(args.run, args.file, args.interval)
        print(f"deepnets: {info['approx']} Laplace posterior on the training split, {info['hyper']}; "
              + ("moderated class probabilities" if info["beta"] is None else f"intervals at level {args.interval}"),
              file=sys.stderr)
    else:
        header, rows = predict_run(args.run, args.file, proba=args.proba)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    if args.out:
        from .atomic import write_atomic

        write_atomic(args.out, buf.getvalue().encode(), what="predictions file")
        print(f"{len(rows)} predictions written to {args.out}")
    else:
        sys.stdout.write(buf.getvalue())
    return 0


def cmd_relevance(args) -> int:
    from .experiment.inspect import relevance_lines, relevance_run

    print("\n".join(relevance_lines(relevance_run(args.run, alpha=args.alpha, rounds=args.rounds, inner=args.inner,
                                                  method=args.method, hyper=tuple(args.hyper)))))
    return 0


def cmd_prune(args) -> int:
    from .experiment.prune_run import prune_run

    r = prune_run(args.run, method=args.method, sparsity=args.sparsity, max_error_increase=args.max_error_increase,
                  out=args.out)
    metric, first, last = r["metric"], r["curve"][0], r["curve"][-1]
    print(f"{r['method']}: {r['removed']} of {r['n_weights']} weights removed ({r['sparsity']:.1%}); "
          f"{metric} {first[metric]:.4f} -> {last[metric]:.4f} on the {r['split']} split")
    for split_name, m in r["metrics"].items():
        print(f"{split_name:>5}: {_fmt(m)}")
    print("compact net: " + ("-".join(map(str, r["compact"])) if r["compact"] else r["compact_note"]))
    print(f"pruned run written to {r['path']}")
    return 0


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--hidden takes comma-separated positive integers such as 2,4,8, got {text!r}") from None
    if not sizes or any(h < 1 for h in sizes):
        raise ConfigError(f"--hidden takes comma-separated positive integers such as 2,4,8, got {text!r}")
    return sizes


def cmd_select(args) -> int:
    import os
    import time

    from .experiment import experiment_from_file, save_selection, select_experiment

    exp = experiment_from_file(args.experiment, args.set)
    rep = select_experiment(exp, _sizes(args.hidden), cv=args.cv, bootstrap=args.bootstrap, sigma2=args.sigma2,
                            blocked=args.blocked)
    name = os.path.splitext(os.path.basename(args.experiment or "digits"))[0]
    out = args.out or os.path.join(exp.run.out, f"select-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    held = rep.heldout
    print(f"{rep.dataset}: {rep.n_train} training samples; sigma_e^2 = {rep.sigma2:.4g} "
          f"({'given' if args.sigma2 is not None else 'residual variance of the largest network'})")
    if rep.target_std is not None:
        print(f"errors of the standardised targets (data.scale_target): × {', '.join(f'{s:.4g}' for s in rep.target_std)}"
              f"² for the target's own units")
    print(f"{'size':>6} {'weights':>8} {'train 2E/N':>12} {held + ' error':>18} {'PE':>12}")
    for r in rep.rows:
        print(f"{r.size:>6} {r.weights:>8} {r.train_error:>12.5g} {r.heldout_error:>18.5g} {r.pe:>12.5g}")
    print(f"least PE: {min(rep.rows, key=lambda r: r.pe).size} hidden units; least {held} error: "
          f"{min(rep.rows, key=lambda r: r.heldout_error).size} hidden units")
    save_selection(rep, out)
    print(f"table and plot written to {out}")
    return 0


def cmd_tune(args) -> int:
    from .experiment.tune import describe, tune_file

    given = {k: getattr(args, k) for k in ("trials", "timeout", "sampler", "storage", "study", "workers")}
    print("\n".join(describe(tune_file(args.experiment, args.set, out_dir=args.out, **given))))
    return 0


def cmd_export(args) -> int:
    from .export import export_run

    r = export_run(args.run, args.onnx)
    print(f"{r['path']}: ONNX graph, input x (batch, {r['inputs']}) raw features, output y (batch, "
          f"{r['outputs']}); scaler in the graph, feature names and labels in its metadata")
    return 0


def cmd_datasets(args) -> int:
    from .data import DATASETS

    width = max(map(len, DATASETS))
    for name, (_, text) in DATASETS.items():
        print(f"{name:<{width}}  {text}")
    return 0


def cmd_models(args) -> int:
    from .zoo import model_table

    rows = model_table(args.names or None)
    print(f"{'model':<22} {'parameters':>13} {'MACs':>16}  input (C, H, W)")
    for name, params, macs, shape in rows:
        print(f"{name:<22} {params:>13,} {macs:>16,}  {tuple(shape)}")
    return 0


def cmd_report(args) -> int:
    from .report.run_report import run_report

    print(f"report written to {run_report(args.run, args.out)}")
    return 0


def cmd_tour(args) -> int:
    from .experiment.tour import run_tour

    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    rows, path = run_tour(out=args.out, quick=args.quick, only=only, examples=args.examples)
    failed = [r.claim.name for r in rows if not r.passed]
    print(f"{len(rows) - len(failed)} of {len(rows)} claims pass; report written to {path}")
    if failed:
        print(f"failing: {', '.join(failed)}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepnets", description="Multilayer perceptrons and deep networks, as the lecture teaches them.")
    p.add_argument("--version", action="version", version=f"deepnets {__import__('deepnets').__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the network an experiment file describes")
    t.add_argument("experiment", nargs="?", help="a TOML experiment file (default: the digits MLP)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one value, e.g. --set train.optimizer.lr=0.01 (repeatable)")
    t.add_argument("--costates", action="store_true", help="plot the per-layer norms of the error signals")
    t.add_argument("--out", help="parent folder of the run folder (default: runs)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its newest good checkpoint")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="evaluate a trained run on its train/val/test splits")
    e.add_argument("run", help="a run folder")
    e.add_argument("--data", metavar="NEW.csv", help="score a new labelled CSV (the run's feature and target columns)")
    e.set_defaults(func=cmd_evaluate)
    pr = sub.add_parser("predict", help="predict for the rows of a CSV file")
    pr.add_argument("run", help="a run folder")
    pr.add_argument("file", help="a CSV with the run's feature columns")
    pr.add_argument("--out", help="write the predictions here instead of standard output")
    pr.add_argument("--proba", action="store_true", help="add each class's probability (classification)")
    pr.add_argument("--interval", type=float, metavar="LEVEL", help="the Laplace predictive: central intervals "
                    "at LEVEL (e.g. 0.95) for regression, moderated probabilities for classification")
    pr.set_defaults(func=cmd_predict)
    r = sub.add_parser("relevance", help="ARD input relevances of a trained run (MacKay's evidence re-estimation)")
    r.add_argument("run", help="a run folder")
    r.add_argument("--rounds", type=int, default=5, help="re-estimation rounds (default 5)")
    r.add_argument("--alpha", type=float, default=1.0, help="initial prior precision of every group (default 1)")
    r.add_argument("--inner", type=int, default=50, help="L-BFGS iterations per round (default 50)")
    r.add_argument("--method", default="mackay", choices=["mackay", "lecture", "evidence"], help="mackay: MacKay's "
                   "re-estimation; lecture / evidence: gradient on the lecture's l(alpha, beta) / the log evidence")
    r.add_argument("--hyper", type=float, nargs=4, default=[1.0, 0.0, 1.0, 0.0], metavar=("A", "B", "C", "D"),
                   help="Gamma hyper-priors alpha ~ Ga(A, B), beta ~ Ga(C, D) (default 1 0 1 0: none)")
    r.set_defaults(func=cmd_relevance)
    pn = sub.add_parser("prune", help="prune a trained run's weights (OBS, OBD, magnitude, layer-wise OBS) "
                        "into a new run folder")
    pn.add_argument("run", help="a run folder")
    pn.add_argument("--method", required=True, choices=["obs", "obd", "magnitude", "layerwise"],
                    help="obs: Optimal Brain Surgeon; obd: Optimal Brain Damage; magnitude: smallest |w|; "
                         "layerwise: OBS per layer (large nets)")
    stop = pn.add_mutually_exclusive_group(required=True)
    stop.add_argument("--sparsity", type=float, metavar="S", help="remove this fraction of the weights, in [0, 1)")
    stop.add_argument("--max-error-increase", type=float, metavar="E",
                      help="stop before the training error (summed over the training split) rises more than E")
    pn.add_argument("--out", help="the new run folder (default: RUN-pruned-METHOD-SPARSITY)")
    pn.set_defaults(func=cmd_prune)
    s = sub.add_parser("select", help="choose the hidden-layer size: training, held-out error and PE per size")
    s.add_argument("experiment", nargs="?", help="a TOML experiment file (default: the digits MLP)")
    s.add_argument("--hidden", required=True, metavar="H1,H2,...", help="hidden-layer sizes to try, e.g. 2,4,8,16,32")
    s.add_argument("--cv", type=int, default=0, metavar="K", help="K-fold cross-validation on the training split "
                   "instead of the validation split")
    s.add_argument("--blocked", action="store_true", help="with --cv K on a time series: blocked (forward-chaining) "
                   "CV, K+1 blocks in time order, fold j trained on the blocks before block j")
    s.add_argument("--bootstrap", type=int, default=0, metavar="B", help="the .632 bootstrap with B replicates on "
                   "the training split instead of the validation split")
    s.add_argument("--sigma2", type=float, help="a known noise variance for PE (default: estimated)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one value (repeatable)")
    s.add_argument("--out", help="folder for select.json and select.png (default: RUN_OUT/select-NAME-TIME)")
    s.set_defaults(func=cmd_select)
    tu = sub.add_parser("tune", help="hyper-parameter search on Optuna over [tune.space] (resumable, many workers)")
    tu.add_argument("experiment", help="a TOML experiment file with [tune] and [tune.space] (the keys searched)")
    tu.add_argument("--trials", type=int, metavar="N", help="finished trials the study should hold")
    tu.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    tu.add_argument("--sampler", metavar="NAME", help="tpe, gp, cmaes, nsga2 (genetic, multi-objective) or random")
    tu.add_argument("--storage", metavar="URL", help="an SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
                    "(default: sqlite in the study folder)")
    tu.add_argument("--study", metavar="NAME", help="the study's name (default: the file's name)")
    tu.add_argument("--workers", type=int, metavar="K", help="worker processes on this machine")
    tu.add_argument("--out", metavar="DIR", help="parent of the study folder DIR/tune-NAME (run.out)")
    tu.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one value (repeatable)")
    tu.set_defaults(func=cmd_tune)
    x = sub.add_parser("export", help="write a run as an ONNX file (scaler in the graph, labels in its metadata)")
    x.add_argument("run", help="a run folder")
    x.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    x.set_defaults(func=cmd_export)
    d = sub.add_parser("datasets", help="list the datasets")
    d.set_defaults(func=cmd_datasets)
    m = sub.add_parser("models", help="list the CNN zoo: parameters and multiply-accumulates at the native input")
    m.add_argument("names", nargs="*", help="only these models")
    m.set_defaults(func=cmd_models)
    rp = sub.add_parser("report", help="write a self-contained HTML report of a run folder")
    rp.add_argument("run", help="a run folder")
    rp.add_argument("--out", help="the HTML file to write (default: RUN/report.html)")
    rp.set_defaults(func=cmd_report)
    tr = sub.add_parser("tour", help="run every lecture claim of examples/ and write one HTML report "
                        "(exit 1 when a claim fails or the README states another figure)")
    tr.add_argument("--quick", action="store_true", help="shortened runs with lower targets (a few minutes); "
                    "not compared with the README")
    tr.add_argument("--only", metavar="NAME,...", help="only these claims")
    tr.add_argument("--out", default="runs/tour", help="folder for the runs, tour.html and tour.json "
                    "(default: runs/tour)")
    tr.add_argument("--examples", help="the examples folder (default: the project's examples/)")
    tr.set_defaults(func=cmd_tour)
    return p


def _format_warning(message, category, filename, lineno, line=None):
    """Warnings as one line each, without the source line (this is a command, not a traceback)."""
    return f"deepnets: warning: {message}\n"


def _exit_now(signum, frame):
    """Ctrl-C outside training: leave at once, status 130, one line. Not a KeyboardInterrupt: one
    that lands inside a C extension's import (numpy's, under ``import torch``) comes out as an
    ImportError, or is swallowed by an optional import and the command goes on. Files are written
    atomically, so leaving mid-way never leaves one half-written."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, RuntimeError, ValueError):  # a write interrupted mid-way, a closed stream
            pass
    os.write(2, b"deepnets: interrupted\n")
    os._exit(EXIT_CTRL_C)


def main(argv=None) -> int:
    import threading
    import warnings

    previous = warnings.formatwarning
    warnings.formatwarning = _format_warning
    # SIGINT quits at once (training's GracefulStop takes it over while it runs); one already ignored stays so
    handler = (signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread()
               else signal.SIG_IGN)
    if handler is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_now)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C where the handler could not be installed (main called from a thread)
        print("deepnets: interrupted", file=sys.stderr)
        return EXIT_CTRL_C
    finally:
        warnings.formatwarning = previous
        if handler is signal.default_int_handler:
            signal.signal(signal.SIGINT, handler)
        distributed = sys.modules.get("deepnets.train.distributed")  # loaded only by a command that trains
        if distributed is not None:
            distributed.shutdown(wait=False)  # a finished run already met its peers (run_experiment ends on a barrier)


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TrainingInterrupted as e:
        print(f"deepnets: {_interrupted(e)}", file=sys.stderr)
        return EXIT_CTRL_C if e.signal == signal.SIGINT else EXIT_INTERRUPTED
    except DeepnetsError as e:
        if isinstance(e, StoppedAfterTraining):  # SIGTERM/SIGINT after training: the run was finished first
            print(f"deepnets: {e}", file=sys.stderr)
            return 128 + e.signal
        msg = " ".join(str(e).split())
        print(f"deepnets: error: {msg}", file=sys.stderr)
        return 2


def _interrupted(e: TrainingInterrupted) -> str:
    """``interrupted at epoch E, step S (SIGTERM); continue with: deepnets train --resume PATH``."""
    where = "" if e.epoch is None else f" at epoch {e.epoch}, step {e.step}"
    if e.run is None:
        return f"interrupted{where} ({e.signal_name})"
    return (f"interrupted{where} ({e.signal_name}); checkpoint written; "
            f"continue with: deepnets train --resume {shlex.quote(e.run)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
