"""scikit-learn estimators over :func:`deepnets.fit`: every option of the lecture as a parameter.

:class:`MLPClassifier` and :class:`MLPRegressor` follow the estimator contract (``get_params`` /
``set_params``, fitted attributes ending in ``_``, ``partial_fit``, ``random_state``) and pass
scikit-learn's own estimator checks; they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``. Beyond scikit-learn's MLPs: the lecture's activations (LeCun's tanh), inits
and optimizers (delta-bar-delta, quickprop, conjugate gradients, the extended Kalman filter, any
name in :data:`deepnets.optim.OPTIMIZERS`), weight elimination, multi-start, training with hints,
the Laplace predictive standard deviation of a regression and probit-moderated probabilities.
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
