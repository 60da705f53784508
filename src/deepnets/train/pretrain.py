"""Greedy layer-wise pretraining: train one layer on unlabelled inputs, encode them, train the
next layer on the codes, and so on; then copy the layers into an MLP that :func:`deepnets.fit`
fine-tunes with the labels (the lecture's "early methods of training deep networks").

    h(0) = x;  for l = 1..L:  (W(l), w_0(l)) = trainer(h(l−1), M(l)),  h(l) = g_l(W(l) h(l−1) + w_0(l))

A layer trainer is found by ``kind`` in :data:`PRETRAINERS`, a plain dict, so a new kind is one
entry. Every trainer honours one contract::

    trainer(x, n_hidden, *, activation, seed, epochs, lr, batch_size, **own_options)
        -> (weight, bias, codes)

- ``x``: (N, n_in) float tensor, the layer's inputs (the data, then the previous layer's codes);
- ``n_hidden``: M(l), the width of the layer to train;
- ``activation``: the :class:`~deepnets.activations.Activation` g_l of the MLP layer the weights
  are for; a trainer whose model assumes another unit (an RBM's logistic) raises ConfigError;
- ``seed``: an int that fixes every random draw of the trainer;
- ``epochs``, ``lr``, ``batch_size``: passes over x, the learning rate, the minibatch size;
- ``own_options``: the kind's other keywords (an unknown one is a ConfigError naming it);
- returns ``weight`` (n_hidden, n_in) and ``bias`` (n_hidden,), laid out as ``nn.Linear(n_in,
  n_hidden)`` holds them, and ``codes`` (N, n_hidden) = g_l(x weightᵀ + bias), detached: the next
  layer's inputs, exactly what the MLP's layer l computes.

Kinds: ``"autoencoder"`` (:func:`autoencoder_layer`: a one-layer, possibly denoising, tied
autoencoder trained by ``fit`` on the reconstruction cost); ``"rbm"``
(:func:`deepnets.train.rbm.rbm_layer`: a Bernoulli RBM trained by CD-k or PCD, for logistic
layers on inputs in [0, 1]).

References: Hinton, Osindero & Teh 2006 (greedy layer-wise training of a deep belief net with
RBMs); Bengio, Lamblin, Popovici & Larochelle 2007 (the same with autoencoders); Vincent et al.
2008 (stacked denoising autoencoders); Erhan et al. 2010 (why unsupervised pretraining helps).
"""

from __future__ import annotations

import inspect
import time
import warnings

import torch
from torch import Tensor

from .._registry import check_positive_int, lookup
from ..activations import get_activation
from ..errors import ConfigError
from ..nn.mlp import MLP
from ..zoo.autoencoder import Autoencoder
from .loop import fit
from .rbm import rbm_layer
from .setup import FewExamplesWarning


def autoencoder_layer(x: Tensor, n_hidden: int, *, activation="logistic", seed: int = 0, epochs: int = 20,
                      lr: float = 0.01, batch_size: int = 32, optimizer: str = "adam", tied: bool = True,
                      output: str = "linear", noise: str = "none", noise_level: float = 0.25):
    """Train one autoencoder layer h = g(Wx + w_0), x̂ = g_d(Wᵀh + v_0) (tied, or V of its own) on
    ``x`` by :func:`deepnets.fit` with E = ½‖x − x̂‖², and return ``(W, w_0, codes)``.

    Args:
        x: (N, n_in) inputs. n_hidden: the code units M.
        activation: g, the code units (the MLP layer's). Default ``"logistic"``.
        seed: the initial weights, the batch order and the corruption. Default 0.
        epochs, lr, batch_size, optimizer: as :func:`deepnets.fit` takes them (Adam, η = 0.01, 32).
        tied: V = Wᵀ (default) or a decoder of its own. output: g_d (default ``"linear"``).
        noise, noise_level: the denoising variant's corruption (:func:`deepnets.zoo.autoencoder.corrupt`).
    """
    ae = Autoencoder(x.shape[1], n_hidden, activation, output, tied=tied, noise=noise, noise_level=noise_level,
                     seed=seed, dtype=x.dtype)
    with warnings.catch_warnings():  # a start for fine-tuning, not a model of new data: overfitting is not the question
        warnings.simplefilter("ignore", FewExamplesWarning)
        fit(ae, (x, x), loss="lms", optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    enc = ae.encoders[0]
    with torch.no_grad():
        codes = ae.f_e(enc(x))  # (N, M) from the clean inputs
    return enc.weight.detach().clone(), enc.bias.detach().clone(), codes


#: kind -> layer trainer honouring the module's contract
PRETRAINERS = {"autoencoder": autoencoder_layer, "rbm": rbm_layer}


def check_pretrainer(kind: str, **options):
    """The trainer of ``kind``, after checking that it takes ``options`` (ConfigError naming the
    first it does not): a mistake is reported before any layer trains."""
    trainer = lookup(kind, PRETRAINERS, what="pretraining kind")
    try:
        inspect.signature(trainer).bind(None, 1, **options)
    except TypeError as e:
        raise ConfigError(f"pretraining kind {kind!r}: {e}") from None
    return trainer


def greedy_pretrain(x: Tensor, sizes, kind: str = "autoencoder", *, activation="logistic", seed: int = 0,
                    **options) -> list[tuple[Tensor, Tensor]]:
    """Train len(sizes) layers one at a time on the unlabelled ``x`` and return their
    ``[(W(1), w_0(1)), ...]``, W(l) of shape (sizes[l], sizes[l−1]) with sizes[−1] = x's columns.

    Layer l trains on the codes h(l−1) of the layers below it (h(0) = x), with seed ``seed + l − 1``.

    Args:
        x: (N, p) unlabelled examples (float).
        sizes: the widths M(1), ..., M(L) of the layers to train.
        kind: a key of :data:`PRETRAINERS`. Default ``"autoencoder"``.
        activation: g of every layer, or a list with one per layer. Default ``"logistic"``.
        seed: the first layer's seed. Default 0.
        options: the trainer's keywords (``epochs``, ``lr``, ``batch_size``, its own).

    >>> layers = greedy_pretrain(torch.rand(50, 6), [4, 3], epochs=2)
    >>> [tuple(W.shape) for W, b in layers]
    [(4, 6), (3, 4)]
    """
    trainer = check_pretrainer(kind, activation=None, seed=seed, **options)
    sizes = list(sizes)
    for m in sizes:
        check_positive_int("a pretrained layer's width", m)
    if not sizes:
        raise ConfigError("greedy_pretrain needs at least one layer width, got []")
    acts = list(activation) if isinstance(activation, (list, tuple)) else [activation] * len(sizes)
    if len(acts) != len(sizes):
        raise ConfigError(f"activation lists one per layer: expected {len(sizes)}, got {len(acts)}")
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point() or len(x) < 2:
        raise ConfigError(f"pretraining takes a float tensor (N, p) of N >= 2 examples, got "
                          f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    h, layers = x.detach(), []
    for l, (m, g) in enumerate(zip(sizes, acts)):
        n_in = h.shape[1]
        W, b, h = trainer(h, m, activation=get_activation(g), seed=seed + l, **options)
        if tuple(W.shape) != (m, n_in) or tuple(b.shape) != (m,) or tuple(h.shape) != (len(x), m):
            raise ConfigError(f"pretraining kind {kind!r} broke its contract: weight {tuple(W.shape)}, bias "
                              f"{tuple(b.shape)}, codes {tuple(h.shape)} for a layer of {n_in} -> {m} units")
        layers.append((W, b))
    return layers


def pretrain_mlp(mlp: MLP, x: Tensor, kind: str = "autoencoder", *, layers: int | None = None, seed: int = 0,
                 **options) -> dict:
    """Pretrain the first ``layers`` hidden layers of ``mlp`` greedily on the unlabelled ``x``
    (:func:`greedy_pretrain` with the MLP's own hidden units) and copy W(l), w_0(l) into them;
    the output layer keeps its initial weights. Then ``fit(mlp, ...)`` fine-tunes every layer.

    Args:
        mlp: a :class:`~deepnets.MLP` with at least one hidden layer and biases.
        x: (N, M(0)) unlabelled examples, scaled as the labelled ones will be.
        kind: a key of :data:`PRETRAINERS`. Default ``"autoencoder"``.
        layers: how many hidden layers, from the input up. Default None: all of them.
        seed: the first layer's seed. Default 0.
        options: the trainer's keywords (``epochs``, ``lr``, ``batch_size``, its own).

    Returns ``{"kind", "layers", "sizes", "n_examples", "seconds"}``, what a run folder records.
    """
    if not isinstance(mlp, MLP):
        raise ConfigError(f"pretrain_mlp takes a deepnets MLP, got {type(mlp).__name__}")
    n_hidden = len(mlp.sizes) - 2
    if n_hidden < 1:
        raise ConfigError(f"pretraining needs an MLP with a hidden layer, got sizes {mlp.sizes}")
    layers = n_hidden if layers is None else layers
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= n_hidden:
        raise ConfigError(f"layers must be an integer from 1 to the MLP's {n_hidden} hidden layer(s), got {layers!r}")
    if any(mlp.layers[l].bias is None for l in range(layers)):
        raise ConfigError("pretraining fills the hidden layers' biases: build the MLP with bias=True")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != mlp.sizes[0]:
        raise ConfigError(f"pretraining examples must have shape (N, {mlp.sizes[0]}) as the MLP's inputs, got "
                          f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    dtype = mlp.layers[0].weight.dtype
    start = time.perf_counter()
    pairs = greedy_pretrain(x.to(dtype), mlp.sizes[1:layers + 1], kind, activation=mlp.activations[:layers],
                            seed=seed, **options)
    with torch.no_grad():
        for layer, (W, b) in zip(mlp.layers, pairs):
            layer.weight.copy_(W)
            layer.bias.copy_(b)
    return {"kind": kind, "layers": layers, "sizes": mlp.sizes[:layers + 1], "n_examples": len(x),
            "seconds": round(time.perf_counter() - start, 3)}


__all__ = ["PRETRAINERS", "autoencoder_layer", "check_pretrainer", "greedy_pretrain", "pretrain_mlp"]
