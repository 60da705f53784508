"""The one loss / likelihood vocabulary: fit, evaluate, the pruners, the Laplace posteriors, the
evidence and the curvature module take these names and mean the same thing by each.

Costs E(ẑ, z), each averaged over the samples of a batch (:func:`deepnets.fit`):

- ``"lms"`` (alias ``"mse"``): E = ½ Σ_i (z_i − ẑ_i)²; terminal co-state λ(L) = ẑ(L) − z.
- ``"lp"``: E = (1/R) Σ_i |z_i − ẑ_i|^R, 1 ≤ R ≤ 2 (the 1/R makes R = 2 the LMS cost);
  λ(L) = sign(ẑ − z)|ẑ − z|^(R−1).
- ``"cross_entropy"``: the deviance of the class probabilities p. Over C > 1 outputs
  E = −Σ_i z_i ln p_i with p = softmax(a); on one output E = −[z ln p + (1 − z) ln(1 − p)] with
  p = σ(a). On a model that outputs scores a (logits) -- every zoo network, a sequence classifier,
  a user's ``nn.Sequential`` ending in ``nn.Linear`` -- this is torch's ``cross_entropy`` (and
  ``binary_cross_entropy_with_logits`` for one output). A deepnets MLP whose output unit is the
  softmax (C > 1) or the logistic of slope 1 (C = 1) outputs p itself; the same name then takes p
  as it is, with the same values and gradients, and with the matching output unit the co-state
  recursion starts from δ(L) = ẑ − z: "the gradient does not have g'" (the lecture's deviance
  slide).

What a model's outputs are is decided here, once, by :func:`output_kind`: probabilities for a
model that says so through ``output_unit`` (the deepnets MLP; it offers its logits through
``logit_view()``), logits for any other module. Where that cannot be told -- a module that ends
in ``nn.Softmax``, ``nn.Sigmoid`` or ``nn.LogSoftmax``, an MLP whose output is tanh or a logistic
of slope ≠ 1 -- a :class:`~deepnets.errors.ConfigError` asks instead of guessing.
:func:`get_loss` with ``model=`` resolves a name for a model; :func:`deepnets.fit` and
:func:`deepnets.evaluate` do that for you.

Likelihoods (OBS, the Laplace posterior, the evidence, the Gauss-Newton curvature) take the same
names, on the activations a that enter them (:func:`likelihood_model`: the outputs for ``"lms"``,
the logits for ``"cross_entropy"``), with E_D summed over the data and the output Hessian Λ_n of
the outer-product curvature Σ_n G_n Λ_n G_nᵀ:

- ``"lms"``: Gaussian noise of precision β_i on output i, E_D = ½ Σ_n Σ_i β_i (z_i − a_i)²,
  Λ_n = diag(β);
- ``"cross_entropy"``: p = softmax(a), Λ_n = diag(p) − p pᵀ; one output, p = σ(a), Λ_n = p(1 − p).

``"lp"`` has no Gauss-Newton curvature. The names of the older vocabularies are aliases, resolved
in :data:`ALIASES` only: ``"mse"`` and ``"regression"`` are ``"lms"``; ``"bce"`` and ``"binary"``
are ``"cross_entropy"`` on one output, ``"multiclass"`` is ``"cross_entropy"`` on C > 1 outputs
(used with another number of outputs, they are an error, never a second meaning).

Targets: a float tensor of exactly the prediction's shape, or class labels (an integer tensor of
shape (N,)) that the loss codes itself: one-hot for cross-entropy, and for LMS/Lp the coding
chosen (``"one_hot"`` 0/1, or ``"pm1"``: the lecture's [−1 −1 … +1 … −1] for tanh outputs).
Anything else is an error, never a silent broadcast: a (N, 1) prediction with a (N,) float target
raises, batch size 1 included.

The pair loss of semi-supervised learning, :class:`ContrastiveLoss`, is not a cost E(ẑ, z) of a
sample and its target but of two samples' outputs and their side information S_nm; it is used
through :class:`deepnets.train.SemiSupervisedLoss`.

Reference: Widrow & Hoff 1960 (LMS); Bishop 1995, sections 6.7-6.9 (cross-entropy with the
matching output unit, δ = ẑ − z); MacKay 1992 (the likelihoods of the evidence framework).

>>> import torch
>>> LMS()(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
tensor(2.5000)
>>> LMS(coding="pm1").code(torch.tensor([1]), 3)
tensor([[-1.,  1., -1.]])
>>> get_loss("cross_entropy", model=torch.nn.Linear(4, 3))
CrossEntropy(outputs='logits')
"""

from .contrastive import ContrastiveLoss
from .costs import CrossEntropy, LMS, Loss, Lp
from .likelihoods import LIKELIHOODS, likelihood_model, likelihood_name, output_hessian_factor, summed_error
from .names import ALIASES, LOSSES, get_loss, loss_name
from .outputs import OUTPUT_KINDS, infer_likelihood, logit_model, output_kind, unit_outputs
from .targets import CODINGS, code_targets

__all__ = [
    # the costs and their names
    "Loss", "LMS", "Lp", "CrossEntropy", "LOSSES", "ALIASES", "get_loss", "loss_name",
    # the pair loss of semi-supervised learning (similar / dissimilar pairs, margin M)
    "ContrastiveLoss",
    # targets: class labels coded as vectors
    "CODINGS", "code_targets",
    # what a model outputs (logits or probabilities), decided once
    "OUTPUT_KINDS", "output_kind", "unit_outputs", "logit_model", "infer_likelihood",
    # likelihoods for OBS, Laplace, the evidence and the Gauss-Newton curvature
    "LIKELIHOODS", "likelihood_name", "likelihood_model", "summed_error", "output_hessian_factor",
]
