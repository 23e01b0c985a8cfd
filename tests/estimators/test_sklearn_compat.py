"""scikit-learn's own estimator checks on all six estimators (clone, params, input
validation messages, sample weights, pandas, n_features_in_, ...)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import dreg

ESTIMATORS = [
    dreg.Lasso(alpha=0.1),
    dreg.Ridge(),
    dreg.ElasticNet(alpha=0.1),
    dreg.LassoCV(alphas=20),
    dreg.RidgeCV(alphas=20),
    dreg.ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=20),
]


@parametrize_with_checks(ESTIMATORS)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataConversionWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
