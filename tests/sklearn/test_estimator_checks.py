"""scikit-learn's own estimator checks on both estimators (small, fast instances): every check
passes, none is marked as an expected failure."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepnets.sklearn import MLPClassifier, MLPRegressor

# the checks fit on 20-150 samples: fewer than the lecture's 10 per weight, which fit warns about
pytestmark = pytest.mark.filterwarnings("ignore::deepnets.train.setup.FewExamplesWarning")

CHECKED = [MLPClassifier((8,), max_iter=40, batch_size=None, learning_rate=0.05, random_state=0),
           MLPRegressor((8,), max_iter=40, batch_size=None, learning_rate=0.05, random_state=0)]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
