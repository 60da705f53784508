"""The experiment's tables: one typed dataclass per component, a comment on each default.

A component that is always in use is a field made by ``_table`` (absent from the TOML: its
defaults); a switched one by ``_switch`` (absent: None, off; present: on, its defaults filled in).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _table(cls):
    """A component that is always in use: its table may be left out (then: its defaults)."""
    return field(default_factory=cls, metadata={"table": cls, "switch": False})


def _switch(cls):
    """A component that is on when its table is present (with its defaults filled in), off when absent."""
    return field(default=None, metadata={"table": cls, "switch": True})


# -- [data] ------------------------------------------------------------------------------------

@dataclass
class ViewConfig:
    """``[data.view]``: view each flat row (after scaling) as a sequence or an image."""

    shape: list = field(default_factory=list)      # (C, L) or (C, H, W): required
    resize_to: list = field(default_factory=list)  # then resize (bilinear/linear) to (L,) or (H, W); empty: keep
    pad_to: list = field(default_factory=list)     # then zero-pad centrally to (L,) or (H, W); empty: keep
    shift: int = 0                   # training-only augmentation: move each image up to this many pixels at random


@dataclass
class DataConfig:
    name: str = "digits"             # a registry name (``deepnets datasets``), "csv" or "npz"
    params: dict = field(default_factory=dict)  # the loader's own parameters: path, target, n_bits, ...
    split: list = field(default_factory=lambda: [0.65, 0.10, 0.25])  # train/val/test, the lecture's default (series: by time)
    stratify: bool = True            # keep class proportions in every split
    scale: str = "standard"          # "standard" (zero mean, unit variance), "range", "global_range", or "none"
    scale_range: list = field(default_factory=lambda: [0.15, 0.85])  # for scale = "range" or "global_range"
    scale_target: bool = True        # regression: learn targets standardised on the training part (reported in their units)
    seed: int = 0                    # the split's seed
    horizon: int = 10                # series datasets: steps h of the iterated forecast in the report
    view: ViewConfig | None = _switch(ViewConfig)  # absent: flat rows
    limits: dict = field(default_factory=dict)  # caps on the files read: csv_bytes, npz_bytes, ... (deepnets.data.limits)
    keep_classes: list = field(default_factory=list)  # only these classes (by label), renumbered in this order; empty: all
    labelled_fraction: float = 1.0   # the training part's share that keeps its labels (stratified); < 1: the rest is unlabelled, used by [train.pairs] or left out


# -- [model] -----------------------------------------------------------------------------------

@dataclass
class ModelConfig:
    kind: str = "mlp"                # "mlp", "xor_step" (hand-set threshold nets), "cnn1d", "elman"/"lstm"/"gru", or a zoo name
    hidden: list = field(default_factory=lambda: [100])  # hidden-layer widths
    activation: str = "tanh"         # hidden units: tanh, logistic, lecun_tanh, relu, leaky_relu, elu, ...
    output: str = "auto"             # linear, logistic, softmax, tanh; auto: softmax/logistic or linear (CNNs: logits)
    init: str = "torch"              # torch, lecun_uniform (+-2.4/fan_in), he_normal, xavier, xavier_bias
    dropout: float = 0.0             # mlp: q, probability of DROPPING each hidden unit while training, in [0, 1)
    options: dict = field(default_factory=dict)  # keywords of the kind's builder: channels, kernel_size, variant, ...
    seed: int = 0                    # seed of the initial weights
    init_from: str = ""              # a run folder whose weights initialise the parts in init_parts (transfer)
    init_parts: list = field(default_factory=list)  # name prefixes copied from init_from: ["layers.0"], ...


# -- [train] -----------------------------------------------------------------------------------

@dataclass
class LossConfig:
    """``[train.loss]``: the cost E."""

    name: str = "auto"               # lms, lp, cross_entropy; auto: cross_entropy or lms by task
    coding: str = "auto"             # class targets for lms/lp: one_hot, pm1; auto: pm1 for tanh outputs
    R: float = 1.5                   # the exponent of the lp loss


@dataclass
class OptimizerConfig:
    """``[train.optimizer]``: the weight update."""

    name: str = "adam"               # a name from deepnets.optim.OPTIMIZERS: adam, sgd, quickprop, conjugate_gradient, ...
    lr: float = 0.001                # learning rate eta (ignored by optimizers without one, e.g. scaled CG)
    momentum: float = 0.0            # sgd / rmsprop momentum
    weight_decay: float = 0.0        # the optimizer's L2 decay
    layer_lr: list = field(default_factory=list)  # one rate per layer (empty: lr everywhere)
    options: dict = field(default_factory=dict)   # its own keyword arguments (kappa, mu, max_iter, ...)


@dataclass
class PenaltyConfig:
    """``[train.penalty]``: a regularizer added to E."""

    name: str = "weight_decay"       # weight_decay, weight_elimination, curvature_smoothing
    options: dict = field(default_factory=dict)  # its keyword arguments (gamma, w0, ...)
    adaptive: bool = False           # Weigend et al.'s rule changes gamma (lambda) after every epoch (AdaptiveLambda)
    target_error: float = 0.0        # adaptive: D, the desired training error (data cost, in the loss's units)
    delta_lambda: float = 1e-6       # adaptive: the additive step of lambda (Weigend et al.'s 1e-6)
    cut: float = 0.9                 # adaptive: lambda *= cut when the error rises above its average
    average: float = 0.9             # adaptive: weight of the past in the running average error A_n


@dataclass
class EarlyStoppingConfig:
    """``[train.early_stopping]``: stop when ``monitor`` stops improving (needs a validation split)."""

    monitor: str = "val_loss"        # a log key: val_loss, val_accuracy, ...
    patience: int = 10               # epochs without improvement before stopping
    min_delta: float = 0.0           # the smallest change that counts as an improvement
    restore_best: bool = True        # put back the weights of the best epoch at the end


@dataclass
class RestartsConfig:
    """``[train.restarts]``: new random weights when the loss stalls (the lecture's restarts)."""

    window: int = 200                # epochs over which the loss must fall ...
    min_fall: float = 0.01           # ... by at least this fraction, or the start is restarted
    target: float = 0.0              # no restart once the loss is at or below this
    max: int = 10                    # restarts at most


@dataclass
class HintsConfig:
    """``[train.hints]``: feature columns taken out of the inputs and learnt as extra outputs (MLPs)."""

    columns: list = field(default_factory=list)  # the hint columns' names
    weight: float = 1.0              # gamma: E = E_main + gamma E_hint (LMS on standardised hint columns)


@dataclass
class AdversarialConfig:
    """``[train.adversarial]``: train on a mix of clean and attacked inputs (deepnets.adversarial)."""

    attack: str = "fgsm"             # fgsm (one gradient sign step) or pgd (steps of size alpha, random start)
    epsilon: float = 0.1             # the L-infinity radius of the attack, in the scaled inputs' units
    steps: int = 10                  # pgd: gradient steps
    alpha: float = 0.0               # pgd: step size; 0: 2.5 epsilon / steps
    weight: float = 0.5              # w: E = (1 - w) E(clean) + w E(attacked)
    clip: bool = True                # keep attacked inputs within the training inputs' range, per feature


@dataclass
class PairsConfig:
    """``[train.pairs]``: semi-supervised training on the unlabelled part (data.labelled_fraction < 1)."""

    rule: str = "neighbours"         # the k nearest neighbours in input space are similar, the farthest ones dissimilar
    k: int = 5                       # neighbours per unlabelled example (similar pairs)
    far: float = 0.5                 # a dissimilar partner is drawn from this farthest fraction of the examples
    lam: float = 1.0                 # lambda: J = 1/2 (sum_L E + lambda sum_U L(pair))
    margin: float = 1.0              # M: the dissimilar pairs' margin on the squared output distance
    batch_size: int = 128            # pairs per pair step (labelled steps take train.batch_size)


@dataclass
class CheckpointConfig:
    """``[train.checkpoint]``: saves in RUN/checkpoints (always also on SIGTERM/SIGINT)."""

    every_steps: int = 0             # every this many optimizer steps (0: not mid-epoch)
    every_epochs: int = 10           # every this many epochs (0: only on SIGTERM/SIGINT)
    keep: int = 3                    # the newest checkpoints kept
    background: bool = True          # write on a thread of its own, newest state first (Checkpointer)
    share: float = 0.05              # background: the most of one core its writes take (1: no rest between writes)


@dataclass
class DeviceConfig:
    """``[train.device]``: where and how the arithmetic runs."""

    name: str = ""                   # "", "cpu", "cuda", "cuda:1", ...; "" keeps the CPU
    precision: str = "fp32"          # fp32, or bf16 (autocast forward; float32 weights)
    channels_last: bool = False      # channels-last memory format for 4-D activations
    compile: bool = False            # torch.compile the forward pass
    threads: int = 1                 # torch CPU threads during the run (small nets run best on 1)


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 32             # 1 = online; 0 = full batch
    shuffle: bool = True
    seed: int = 0                    # shuffling and noise
    input_noise: float = 0.0         # variance of Gaussian noise added to training inputs (0: none)
    starts: int = 1                  # multi-start: train this many nets (model.seed, +1, ...), keep the least val_loss
    freeze: list = field(default_factory=list)  # name prefixes of parts kept fixed: ["layers.0"], ... (transfer)
    diverge_factor: float = 5.0      # stop when an epoch's loss exceeds this x the untrained network's (0: never)
    loss: LossConfig = _table(LossConfig)
    optimizer: OptimizerConfig = _table(OptimizerConfig)
    checkpoint: CheckpointConfig = _table(CheckpointConfig)
    device: DeviceConfig = _table(DeviceConfig)
    penalty: PenaltyConfig | None = _switch(PenaltyConfig)
    early_stopping: EarlyStoppingConfig | None = _switch(EarlyStoppingConfig)
    restarts: RestartsConfig | None = _switch(RestartsConfig)
    hints: HintsConfig | None = _switch(HintsConfig)
    adversarial: AdversarialConfig | None = _switch(AdversarialConfig)
    pairs: PairsConfig | None = _switch(PairsConfig)


# -- [tune] ------------------------------------------------------------------------------------

@dataclass
class TuneConfig:
    """``[tune]``: the hyper-parameter search of ``deepnets tune`` (on Optuna); ignored by ``deepnets train``."""

    space: dict = field(default_factory=dict)  # "key" = {low, high, log, step} or {choices = [...]}: what is searched
    objectives: list = field(default_factory=lambda: ["val_loss"])  # val_loss, val_accuracy, val_rmse, val_r2, cv_error, n_weights
    heldout: str = "validation"      # "validation" (the validation split), "cv" (k-fold CV on the training split), "blocked" (forward chaining: series)
    folds: int = 5                   # k of heldout = "cv" or "blocked"
    trials: int = 20                 # finished trials the study should hold (the ones already done count)
    timeout: float = 0.0             # seconds this command searches at most (0: no limit)
    sampler: str = "tpe"             # tpe, gp (Bayesian optimisation), cmaes, nsga2 (genetic algorithm), random
    population: int = 50             # nsga2: the size of a generation (the first is drawn at random)
    random_trials: int = 10          # tpe, gp: trials drawn at random before the model guides the search (Optuna's 10)
    pruner: str = "none"             # none, median, hyperband: stop bad trials early from their per-epoch reports
    startup_trials: int = 5          # median pruner: trials finished before any is pruned
    warmup_epochs: int = 0           # median pruner: epochs of a trial before it may be pruned
    seed: int = 0                    # the sampler's seed (worker w: seed + w)
    study: str = ""                  # the study's name (default: the experiment file's name)
    storage: str = ""                # an SQLAlchemy URL (default: sqlite in the study folder)
    workers: int = 1                 # worker processes on this machine, sharing the study
    heartbeat: int = 30              # seconds between a running trial's heartbeats; one silent 2x as long is failed and retried (0: off)
    retrain: bool = True             # retrain the best trial as a normal run folder in the study folder
    plots: bool = True               # optimisation history, importances, parallel coordinates, Pareto front


# -- [pretrain] --------------------------------------------------------------------------------

@dataclass
class PretrainConfig:
    """``[pretrain]``: greedy layer-wise pretraining of the MLP's hidden layers on unlabelled
    examples before training (deepnets.train.pretrain); ``deepnets train`` only."""

    kind: str = "autoencoder"        # a layer trainer of deepnets.train.PRETRAINERS: autoencoder (rbm where installed)
    layers: int = 0                  # hidden layers pretrained, from the input up; 0: all hidden layers
    epochs: int = 20                 # passes over the unlabelled examples, per layer
    lr: float = 0.0                  # the layer trainer's learning rate; 0: the kind's own (autoencoder 0.005, rbm 0.1)
    batch_size: int = 32             # its minibatch size
    noise: str = "none"              # autoencoder: none, mask (zero each input w.p. noise_level), gaussian (sd noise_level)
    noise_level: float = 0.25        # the denoising autoencoder's corruption level
    source: str = "train"            # "train": the training part's features (labels unused); "csv": the file at path
    path: str = ""                   # source = "csv": a CSV with a header naming the data's feature columns
    options: dict = field(default_factory=dict)  # the kind's own keywords (autoencoder: tied, output, optimizer)


# -- [run] -------------------------------------------------------------------------------------

@dataclass
class RunConfig:
    out: str = "runs"                # parent folder of run folders
    name: str = ""                   # run folder name (default: experiment name + time)
    progress: bool = True            # live progress bar
    plots: bool = True               # learning curve and confusion matrix PNGs
    costates: bool = False           # plot the per-layer norms of the error signals lambda(l), delta(l)


@dataclass
class Experiment:
    data: DataConfig = _table(DataConfig)
    model: ModelConfig = _table(ModelConfig)
    train: TrainConfig = _table(TrainConfig)
    run: RunConfig = _table(RunConfig)
    tune: TuneConfig | None = _switch(TuneConfig)
    pretrain: PretrainConfig | None = _switch(PretrainConfig)


def _paths(cls, prefix: str = "") -> list[str]:
    """Every key of ``cls`` and of its component tables, dotted: ``train.early_stopping.patience``, ..."""
    out = []
    for f in dataclasses.fields(cls):
        out.append(prefix + f.name)
        if "table" in f.metadata:
            out += _paths(f.metadata["table"], f"{prefix}{f.name}.")
    return out


#: every key, dotted, and the keys that are component tables (data, train.optimizer, ...)
KEYS = _paths(Experiment)
TABLES = {k for k in KEYS if any(other.startswith(k + ".") for other in KEYS)}
