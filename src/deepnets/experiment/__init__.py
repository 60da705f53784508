"""The command line's library half: what turns a TOML experiment into a run folder.

- :mod:`.build` -- the network of ``model.kind`` and the cost it trains with
- :mod:`.prepare` -- the data: loaded, split, scaled, hint columns taken out
- :mod:`.run` -- :func:`run_experiment`, :func:`resume_run`; ``[train]`` -> fit's arguments and callbacks
- :mod:`.folder` -- the run folder's files and :func:`load_run`
- :mod:`.starts` -- multi-start runs (``train.starts = k``)
- :mod:`.select` -- hidden-layer size selection (``deepnets select``)
- :mod:`.tune` -- hyper-parameter search on Optuna (``deepnets tune``; :mod:`.tune_space`, :mod:`.tune_trial`,
  :mod:`.tune_report`)
- :mod:`.forecast` -- the forecast report of a series run beside the AR baseline
- :mod:`.inspect` -- evaluate, predict and ARD relevances of a finished run
- :mod:`.targets` -- a regression target standardised for training, scored in its units beside the mean
- :mod:`.provenance` -- the data file's absolute path and SHA-256 in ``RUN/data.json``
"""

from .build import MODEL_KINDS, build_model
from .folder import RunResult, load_run
from .forecast import forecast_report
from .inspect import evaluate_file, evaluate_run, predict_run, reevaluate_run, relevance_run
from .run import experiment_from_file, resume_run, run_experiment
from .select import SelectionReport, save_selection, select_experiment
from .tune import TuneResult, tune_experiment

__all__ = [
    "experiment_from_file", "run_experiment", "resume_run", "RunResult", "load_run",
    "evaluate_run", "reevaluate_run", "evaluate_file", "predict_run", "relevance_run",
    "select_experiment", "SelectionReport", "save_selection", "tune_experiment", "TuneResult",
    "MODEL_KINDS", "build_model", "forecast_report",
]
