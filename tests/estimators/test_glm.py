"""LogisticRegression(CV) and PoissonRegressor(CV): scikit-learn API, golden values, input types, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import PoissonRegressor as SkPoisson
from sklearn.metrics import accuracy_score
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

import dreg


def binary(rng, n=300, p=5):
    X = rng.standard_normal((n, p))
    eta = 1.2 * X[:, 0] - 0.8 * X[:, 1] + 0.2
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def counts(rng, n=300, p=5):
    X = rng.standard_normal((n, p))
    return X, rng.poisson(np.exp(0.4 * X[:, 0] - 0.3 * X[:, 2] + 0.1)).astype(float)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_logistic_regression_matches_sklearn_with_string_classes(rng, l1_ratio):
    X, y01 = binary(rng)
    y = np.where(y01 == 1, "churned", "stayed")
    n, C = X.shape[0], 0.5
    m = dreg.LogisticRegression(alpha=1 / (C * n), l1_ratio=l1_ratio, standardize=False).fit(X, y)
    kw = {"solver": "saga", "l1_ratio": l1_ratio} if l1_ratio else {}
    sk = SkLogistic(C=C, tol=1e-12, max_iter=100000, **kw).fit(X, y)
    assert list(m.classes_) == list(sk.classes_)
    assert m.coef_.shape == (1, 5) and m.intercept_.shape == (1,)
    np.testing.assert_allclose(m.coef_, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(m.intercept_, sk.intercept_, atol=1e-6)
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(m.decision_function(X), sk.decision_function(X), atol=1e-5)
    assert (m.predict(X) == sk.predict(X)).mean() > 0.99
    assert m.score(X, y) == pytest.approx(accuracy_score(y, m.predict(X)))
    assert 1 < m.n_passes_ <= 20


def test_poisson_regressor_matches_sklearn_with_weights(rng):
    X, y = counts(rng)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    m = dreg.PoissonRegressor(alpha=0.05, standardize=False).fit(X, y, sample_weight=w)
    sk = SkPoisson(alpha=0.05, tol=1e-12, max_iter=10000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(m.coef_, sk.coef_, atol=1e-6)
    assert m.intercept_ == pytest.approx(sk.intercept_, abs=1e-6)
    np.testing.assert_allclose(m.predict(X), sk.predict(X), rtol=1e-6)
    assert m.score(X, y, sample_weight=w) == pytest.approx(sk.score(X, y, sample_weight=w), abs=1e-6)


def test_logistic_cv_attributes_and_selection(rng):
    X, y = binary(rng, n=400)
    m = dreg.LogisticRegressionCV(alphas=30, cv=4).fit(X, y)
    assert m.deviance_path_.shape == (1, 30, 4)
    assert m.auc_path_.shape == (1, 30, 4) and m.accuracy_path_.shape == (1, 30, 4)
    assert m.deviance_mean_.shape == (1, 30) and m.deviance_se_.shape == (1, 30)
    assert m.alpha_ == m.alphas_[int(np.argmin(m.deviance_mean_[0]))]
    assert m.alpha_1se_ >= m.alpha_
    assert m.l1_ratio_ == 1.0
    assert m.coef_.shape == (1, 5) and m.intercept_.shape == (1,)
    assert 2 <= m.n_passes_ <= 20
    np.testing.assert_array_equal(m.coef_[0], m.coef_path_[m.chosen_alpha_index_])
    one = dreg.LogisticRegressionCV(alphas=30, cv=4, selection="1se").fit(X, y)
    assert one.chosen_alpha_ == one.alpha_1se_
    auc = dreg.LogisticRegressionCV(alphas=30, cv=4, scoring="auc", l1_ratio=[0.5, 1.0]).fit(X, y)
    assert auc.deviance_path_.shape == (2, 30, 4)
    mean = auc.auc_path_.mean(-1)
    li, ai = np.unravel_index(np.argmax(mean), mean.shape)
    assert auc.alpha_ == auc.alphas_[li, ai] and auc.l1_ratio_ == [0.5, 1.0][li]


def test_cv_fold_models_equal_refits_on_the_same_folds(rng):
    X, y = binary(rng, n=300)
    folds = np.arange(300) % 3
    cv = dreg.LogisticRegressionCV(alphas=15, tol=1e-10).fit(X, y, folds=folds)
    for k in range(3):
        tr = folds != k
        one = dreg.LogisticRegression(alpha=cv.chosen_alpha_, l1_ratio=1.0, tol=1e-10).fit(X[tr], y[tr])
        np.testing.assert_allclose(cv.fold_coef_[k], one.coef_[0], atol=1e-6)
    full = dreg.LogisticRegression(alpha=cv.chosen_alpha_, l1_ratio=1.0, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(cv.coef_, full.coef_, atol=1e-6)
    # a scikit-learn splitter gives the same folds as labels
    splits = dreg.LogisticRegressionCV(alphas=15, cv=KFold(3)).fit(X, y)
    labels = dreg.LogisticRegressionCV(alphas=15).fit(X, y, folds=np.repeat([0, 1, 2], 100))
    np.testing.assert_allclose(splits.deviance_path_, labels.deviance_path_, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::dreg.core.glm.GLMWarning")
def test_nearly_separated_folds_with_vanishing_curvature():
    """scikit-learn's check data (21 blobs): in a fold the weights mu(1 - mu)
    underflow and a feature's curvature is 0 after the intercept is profiled
    out; the Newton model keeps a floor on it (this raised ZeroDivisionError in
    coordinate descent).  The chosen model is still the single-alpha fit."""
    from sklearn.datasets import make_blobs

    X, y3 = make_blobs(random_state=0, n_samples=21)
    for y in ((y3 > 0).astype(int), (y3 == 1).astype(int)):
        cv = dreg.LogisticRegressionCV(alphas=5, cv=3, tol=1e-10).fit(X, y)
        assert np.all(np.isfinite(cv.deviance_path_)) and np.all(np.isfinite(cv.coef_))
        one = dreg.LogisticRegression(alpha=cv.chosen_alpha_, l1_ratio=1.0, tol=1e-10).fit(X, y)
        np.testing.assert_allclose(cv.coef_, one.coef_, rtol=1e-5, atol=1e-6)


def test_poisson_cv_and_pandas_input(rng):
    X, y = counts(rng, n=400)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    m = dreg.PoissonRegressorCV(alphas=20).fit(df, pd.Series(y))
    assert list(m.feature_names_in_) == list(df.columns)
    assert m.deviance_path_.shape == (1, 20, 5)
    assert m.coef_.shape == (5,) and isinstance(m.intercept_, float)
    np.testing.assert_allclose(m.predict(df), np.exp(X @ m.coef_ + m.intercept_))
    with pytest.raises(ValueError, match="scoring"):
        dreg.PoissonRegressorCV(scoring="auc").fit(X, y)


def test_errors(rng):
    X, y = binary(rng, n=60)
    with pytest.raises(ValueError, match="exactly 2 classes.*3 classes"):
        dreg.LogisticRegression().fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="exactly 2 classes.*one class"):
        dreg.LogisticRegression().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="y >= 0"):
        dreg.PoissonRegressor().fit(X, -np.ones(60))
    folds = np.repeat([0, 1], 30)
    yy = np.where(folds == 0, 1, 0)
    yy[0] = 0
    yy[1] = 1
    yy[30:] = 0
    with pytest.raises(ValueError, match="one class"):
        dreg.LogisticRegressionCV(alphas=5).fit(X, yy, folds=folds)
    with pytest.raises(ValueError, match="scoring"):
        dreg.LogisticRegressionCV(scoring="r2").fit(X, y)


def test_sample_weight_zero_equals_dropping_rows(rng):
    X, y = binary(rng, n=200)
    w = np.ones(200)
    w[:40] = 0
    a = dreg.LogisticRegression(alpha=0.01, l1_ratio=0.5).fit(X, y, sample_weight=w)
    b = dreg.LogisticRegression(alpha=0.01, l1_ratio=0.5).fit(X[40:], y[40:])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)


@parametrize_with_checks(
    [
        dreg.LogisticRegression(),
        dreg.PoissonRegressor(),
        dreg.LogisticRegressionCV(alphas=5, cv=3),
        dreg.PoissonRegressorCV(alphas=5, cv=3),
    ]
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataConversionWarning")
@pytest.mark.filterwarnings("ignore::dreg.core.glm.GLMWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
