"""The model at any alpha of a CV path (issue 17, item 5): ``coef_at``, ``intercept_at``, ``predict(X, alpha=)``.

On a grid point it is that row of ``coef_path_``; between grid points an exact
refit from the fit's statistics (never an interpolation): it must equal the
single-alpha estimator fitted at that alpha, and scikit-learn's ``ElasticNet``
with ``standardize=False``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet

import dreg
from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict


def data(rng: np.random.Generator, n: int = 300, p: int = 8):
    X = rng.standard_normal((n, p))
    X[:, 1] += 0.7 * X[:, 0]
    beta = np.array([1.5, -1.0, 0.0, 0.5, 0.0, 0.0, 0.25, 0.0])[:p]
    return X, X @ beta + 0.5 * rng.standard_normal(n)


def between(grid: np.ndarray, k: int) -> float:
    """The geometric midpoint of grid points k and k + 1 (off the grid)."""
    return float(np.sqrt(grid[k] * grid[k + 1]))


@pytest.mark.parametrize(
    "cv_est, single",
    [
        (lambda: dreg.LassoCV(alphas=20, tol=1e-10), lambda a, r: dreg.Lasso(alpha=a, tol=1e-10)),
        (
            lambda: dreg.ElasticNetCV(l1_ratio=[0.3, 0.8], alphas=20, tol=1e-10),
            lambda a, r: dreg.ElasticNet(alpha=a, l1_ratio=r, tol=1e-10),
        ),
        (lambda: dreg.RidgeCV(alphas=20, tol=1e-10), lambda a, r: dreg.Ridge(alpha=a, tol=1e-10)),
    ],
    ids=["lasso", "enet", "ridge"],
)
def test_any_alpha_equals_the_single_alpha_fit(rng, cv_est, single) -> None:
    X, y = data(rng)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    est = cv_est().fit(X, y, sample_weight=w)
    grid = np.atleast_2d(est.alphas_)[list(np.atleast_1d(est._l1_ratios())).index(est.l1_ratio_)]
    # on the grid: the stored path, exactly
    for k in (0, 7, grid.size - 1):
        np.testing.assert_array_equal(est.coef_at(grid[k]), est.coef_path_[k])
        assert est.intercept_at(grid[k]) == est.intercept_path_[k]
    np.testing.assert_array_equal(est.predict(X, alpha=est.chosen_alpha_), est.predict(X))
    # between grid points, and beyond the smallest: the fit at that alpha
    for a in (between(grid, 3), between(grid, 11), grid[-1] / 3.0):
        ref = single(a, est.l1_ratio_).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(est.coef_at(a), ref.coef_, rtol=1e-8, atol=1e-10)
        assert est.intercept_at(a) == pytest.approx(ref.intercept_, rel=1e-8, abs=1e-10)
        np.testing.assert_allclose(est.predict(X, alpha=a), ref.predict(X), rtol=1e-8, atol=1e-9)
        assert not any(np.allclose(est.coef_at(a), c) for c in est.coef_path_)  # not a grid model
    # above alpha_max every penalized coefficient is 0
    if est.l1_ratio_ > 0:
        assert np.all(est.coef_at(2 * grid[0]) == 0.0)


def test_between_grid_points_matches_scikit_learn(rng) -> None:
    """``standardize=False``: the objective is scikit-learn's ElasticNet's."""
    X, y = data(rng, n=400)
    est = dreg.ElasticNetCV(l1_ratio=0.6, alphas=25, standardize=False, tol=1e-12).fit(X, y)
    for k in (2, 9, 17):
        a = between(est.alphas_, k)
        sk = SkElasticNet(alpha=a, l1_ratio=0.6, tol=1e-14, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(est.coef_at(a), sk.coef_, rtol=1e-7, atol=1e-9)
        assert est.intercept_at(a) == pytest.approx(sk.intercept_, rel=1e-7, abs=1e-9)


def test_pandas_and_dask_inputs_predict_at_alpha(rng) -> None:
    import dask.array as da
    import pandas as pd

    X, y = data(rng)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    est = dreg.LassoCV(alphas=15).fit(df, y)
    a = between(est.alphas_, 5)
    want = X @ est.coef_at(a) + est.intercept_at(a)
    np.testing.assert_allclose(est.predict(df, alpha=a), want, rtol=1e-12)
    np.testing.assert_allclose(est.predict(da.from_array(X, chunks=(100, -1)), alpha=a).compute(), want, rtol=1e-12)


def test_bad_alphas_and_loaded_models(rng) -> None:
    X, y = data(rng)
    est = dreg.LassoCV(alphas=15).fit(X, y)
    for bad in (-1.0, float("nan"), float("inf"), "big", None):
        if bad is None:
            continue  # predict(X, alpha=None) is the chosen model
        with pytest.raises(ValueError, match="alpha must be"):
            est.coef_at(bad)
    # a model read back from model.json has the path but not the statistics
    loaded = estimator_from_dict(json.loads(json.dumps(estimator_to_dict(est))))
    np.testing.assert_array_equal(loaded.coef_at(est.alphas_[4]), est.coef_path_[4])
    np.testing.assert_allclose(loaded.predict(X, alpha=est.alphas_[4]), est.predict(X, alpha=est.alphas_[4]), rtol=1e-15)
    with pytest.raises(ValueError, match=r"not on the grid of this model .* use a grid alpha, or fit again"):
        loaded.coef_at(between(est.alphas_, 4))
    with pytest.raises(Exception, match="not fitted"):
        dreg.LassoCV().coef_at(0.1)


# --------------------------------------------------------------------------- binomial and Poisson
@pytest.mark.parametrize("family", ["binomial", "poisson"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, [0.2, 0.9]])
def test_glm_any_alpha_equals_the_single_alpha_fit(rng, family: str, l1_ratio) -> None:
    """LogisticRegressionCV / PoissonRegressorCV: a grid alpha is its coef_path_ row; between grid
    points the model is a refit with passes over the training rows, equal to the single-alpha
    estimator's fit (not an interpolation of the path)."""
    n = 1500
    X = rng.standard_normal((n, 6))
    eta = X @ np.array([0.8, -0.6, 0.0, 0.3, 0.0, 0.0])
    if family == "binomial":
        y = (eta + rng.logistic(size=n) > 0).astype(int)
        cv_cls, single_cls = dreg.LogisticRegressionCV, dreg.LogisticRegression
    else:
        y = rng.poisson(np.exp(0.5 * eta))
        cv_cls, single_cls = dreg.PoissonRegressorCV, dreg.PoissonRegressor
    cv = cv_cls(l1_ratio=l1_ratio, alphas=10, cv=3).fit(X, y)
    grid = np.asarray(cv.alphas_)
    grid = grid if grid.ndim == 1 else grid[int(np.argmin(np.abs(np.atleast_1d(l1_ratio) - cv.l1_ratio_)))]
    np.testing.assert_array_equal(cv.coef_at(grid[4]), np.asarray(cv.coef_path_)[4].reshape(-1))
    for a in (float(np.sqrt(grid[3] * grid[4])), float(grid[-1] / 3)):  # between points, below the grid
        single = single_cls(alpha=a, l1_ratio=cv.l1_ratio_).fit(X, y)
        np.testing.assert_allclose(cv.coef_at(a), np.ravel(single.coef_), rtol=1e-9, atol=1e-11)
        assert cv.intercept_at(a) == pytest.approx(float(np.ravel(single.intercept_)[0]), rel=1e-9, abs=1e-11)
        if family == "binomial":
            np.testing.assert_allclose(cv.predict_proba(X, alpha=a), single.predict_proba(X), rtol=1e-9)
            np.testing.assert_array_equal(cv.predict(X, alpha=a), single.predict(X))
        else:
            np.testing.assert_allclose(cv.predict(X, alpha=a), single.predict(X), rtol=1e-9)
    loaded = estimator_from_dict(json.loads(json.dumps(estimator_to_dict(cv))))
    np.testing.assert_array_equal(loaded.coef_at(grid[2]), cv.coef_at(grid[2]))
    with pytest.raises(ValueError, match="not on the grid.*loaded from model.json"):
        loaded.coef_at(float(np.sqrt(grid[3] * grid[4])))
    with pytest.raises(ValueError, match="fitted at one alpha"):
        single_cls(alpha=0.1).fit(X, y).predict(X, alpha=0.2)
