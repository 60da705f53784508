"""scikit-learn estimators over :func:`deepnets.fit`: every option of the lecture as a parameter.

:class:`MLPClassifier` and :class:`MLPRegressor` follow the estimator contract (``get_params`` /
``set_params``, fitted attributes ending in ``_``, ``partial_fit``, ``random_state``) and pass
scikit-learn's own estimator checks; they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``. Beyond scikit-learn's MLPs: the lecture's activations (LeCun's tanh), inits
and optimizers (delta-bar-delta, quickprop, conjugate gradients, the extended Kalman filter, any
name in :data:`deepnets.optim.OPTIMIZERS`), weight elimination, multi-start, training with hints,
the Laplace predictive standard deviation of a regression and probit-moderated probabilities.

:class:`ELMClassifier` and :class:`ELMRegressor` wrap the extreme learning machine
(:class:`deepnets.zoo.ELM`): random fixed hidden units, output weights solved in closed form.
"""

from .classifier import MLPClassifier
from .elm import ELMClassifier, ELMRegressor
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "ELMClassifier", "ELMRegressor"]
