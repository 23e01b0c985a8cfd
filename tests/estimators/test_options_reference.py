"""penalty_factor, bounds and positive, with weights and given folds, in the single-alpha and the CV
estimators, with ``standardize=True`` and ``False``, against an independent reference.

The reference (:mod:`tests.estimators.enet_reference`) standardizes the rows explicitly, minimises the
exact objective with scipy's L-BFGS-B and polishes on the active set; it is itself checked against
scikit-learn where scikit-learn has the option (weights, ``positive``, penalty factors as rescaled
columns) and against the closed form of a ridge with penalty factors.  For the CV estimators every
fold is refitted by the reference on its own training rows at every alpha of dreg's grid: the held-out
errors, the chosen alpha and the final model must agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import linear_model as sklm

import dreg
from tests.estimators.enet_reference import enet_cv, enet_fit

N, P = 160, 5
SK = {"tol": 1e-12, "max_iter": 1_000_000}
INF = np.inf

# per feature: x0 strong positive, x1 negative, x2 noise, x3 positive, x4 weak negative
OPTIONS = {
    "penalty_factor": {"penalty_factor": np.array([0.0, 1.0, 2.5, 0.5, 1.0])},
    "bounds": {
        "lower_bounds": np.array([-INF, -0.25, -INF, -1.0, -INF]),
        "upper_bounds": np.array([0.9, INF, 0.05, INF, 0.0]),
    },
    "positive": {"positive": True},
    "all": {
        "penalty_factor": np.array([0.0, 1.0, 2.5, 0.5, 1.0]),
        "lower_bounds": np.array([-INF, -0.25, -INF, -1.0, -0.1]),
        "upper_bounds": np.array([0.9, INF, 0.05, INF, INF]),
    },
}


def ref_options(opts: dict) -> dict:
    """dreg's parameter names -> the reference's."""
    return {
        "penalty_factor": opts.get("penalty_factor"),
        "lower": opts.get("lower_bounds"),
        "upper": opts.get("upper_bounds"),
        "positive": opts.get("positive", False),
    }


@pytest.fixture
def data(rng):
    X = rng.standard_normal((N, P)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [0.0, 5.0, -1.0, 10.0, 2.0]
    X[:, 3] += 0.4 * X[:, 0]  # correlated columns: bounds and penalties interact
    y = X @ np.array([1.4, -0.6, 0.0, 0.5, -0.3]) + 4.0 + rng.standard_normal(N)
    w = rng.uniform(0.2, 3.0, N)
    folds = rng.permutation(np.arange(N) % 4)
    folds[:10] = -1  # always in training
    return X, y, w, folds


def assert_close(a, b, rtol: float = 1e-8) -> None:
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(float(np.abs(b).max()), 1e-12))


# --------------------------------------------------------------------------- the reference itself


@pytest.mark.parametrize("standardize", [False, True])
def test_reference_equals_sklearn_elastic_net_with_weights(data, standardize):
    X, y, w, _ = data
    Xs = X
    sd = np.ones(P)
    if standardize:
        mean = w @ X / w.sum()
        sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())
        Xs = (X - mean) / sd
    for alpha, l1_ratio in ((0.3, 0.5), (0.05, 1.0)):
        ref = enet_fit(X, y, w, alpha, l1_ratio, standardize=standardize)
        sk = sklm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **SK).fit(Xs, y, sample_weight=w)
        assert_close(ref.coef, sk.coef_ / sd, 1e-9)
        np.testing.assert_allclose(X @ ref.coef + ref.intercept, sk.predict(Xs), rtol=1e-9)


def test_reference_equals_sklearn_positive_on_standardized_columns(data):
    X, y, w, _ = data
    mean = w @ X / w.sum()
    sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())
    ref = enet_fit(X, y, w, 0.05, 0.7, standardize=True, positive=True)
    sk = sklm.ElasticNet(alpha=0.05, l1_ratio=0.7, positive=True, **SK).fit((X - mean) / sd, y, sample_weight=w)
    assert np.any(sk.coef_ == 0) and np.any(sk.coef_ > 0)
    assert_close(ref.coef, sk.coef_ / sd, 1e-9)


def test_reference_equals_sklearn_lasso_on_columns_rescaled_by_the_penalty_factors(data):
    """``pf_j |b_j|`` is ``|c_j|`` with ``c_j = pf_j b_j`` on the column ``x_j / pf_j``."""
    X, y, w, _ = data
    pf = np.array([0.3, 1.0, 2.5, 0.5, 4.0])
    ref = enet_fit(X, y, w, 0.08, 1.0, standardize=False, penalty_factor=pf)
    sk = sklm.Lasso(alpha=0.08, **SK).fit(X / pf, y, sample_weight=w)
    assert np.any(sk.coef_ == 0)
    assert_close(ref.coef, sk.coef_ / pf, 1e-9)


def test_reference_equals_the_closed_form_ridge_with_penalty_factors(data):
    X, y, w, _ = data
    pf = np.array([0.0, 1.0, 2.5, 0.5, 1.0])
    W = w.sum()
    Xc, yc = X - w @ X / W, y - w @ y / W
    closed = np.linalg.solve(Xc.T @ (w[:, None] * Xc) / W + 0.7 * np.diag(pf), Xc.T @ (w * yc) / W)
    assert_close(enet_fit(X, y, w, 0.7, 0.0, standardize=False, penalty_factor=pf).coef, closed, 1e-10)


# --------------------------------------------------------------------------- single-alpha estimators


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize(("cls", "l1_ratio"), [(dreg.Lasso, 1.0), (dreg.ElasticNet, 0.6), (dreg.Ridge, 0.0)])
def test_single_alpha_estimators_match_the_reference(data, cls, l1_ratio, option, standardize):
    X, y, w, _ = data
    opts = OPTIONS[option]
    alpha = 0.05
    params = {"l1_ratio": l1_ratio} if cls is dreg.ElasticNet else {}
    est = cls(alpha=alpha, standardize=standardize, **params, **opts).fit(X, y, sample_weight=w)
    ref = enet_fit(X, y, w, alpha, l1_ratio, standardize=standardize, **ref_options(opts))
    assert_close(est.coef_, ref.coef)
    assert est.intercept_ == pytest.approx(ref.intercept, rel=1e-8, abs=1e-8 * np.abs(y).max())
    lo = np.asarray(opts.get("lower_bounds", -INF)) if not opts.get("positive") else 0.0
    hi = np.asarray(opts.get("upper_bounds", INF))
    assert np.all(est.coef_ >= lo) and np.all(est.coef_ <= hi)


# --------------------------------------------------------------------------- CV estimators


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize(("cls", "l1_ratio"), [(dreg.LassoCV, 1.0), (dreg.ElasticNetCV, 0.6), (dreg.RidgeCV, 0.0)])
def test_cv_estimators_match_per_fold_reference_refits(data, cls, l1_ratio, option, standardize):
    """Weights, user folds (with always-training rows) and the option: every fold's held-out error at
    every alpha, the chosen alpha and the final model equal the reference's per-fold refits."""
    X, y, w, folds = data
    opts = OPTIONS[option]
    params = {"l1_ratio": l1_ratio} if cls is dreg.ElasticNetCV else {}
    est = cls(alphas=8, standardize=standardize, **params, **opts).fit(X, y, sample_weight=w, folds=folds)
    ref = enet_cv(X, y, w, folds, est.alphas_, l1_ratio, standardize=standardize, **ref_options(opts))
    assert est.mse_path_.shape == ref.mse_path.shape == (8, 4)
    np.testing.assert_allclose(est.mse_path_, ref.mse_path, rtol=1e-8)
    assert est.alpha_ == ref.alpha == est.chosen_alpha_
    assert_close(est.coef_, ref.final.coef)
    assert est.intercept_ == pytest.approx(ref.final.intercept, rel=1e-8, abs=1e-8 * np.abs(y).max())


def test_elastic_net_cv_with_a_list_of_l1_ratios_and_named_options(data):
    """A DataFrame with options given by feature name; the l1_ratio and alpha chosen over both
    l1_ratios' grids are the reference's."""
    X, y, w, folds = data
    names = ["a", "b", "c", "d", "e"]
    frame = pd.DataFrame(X, columns=names)
    est = dreg.ElasticNetCV(
        l1_ratio=[0.3, 0.9],
        alphas=6,
        penalty_factor={"a": 0.0, "c": 2.5},
        lower_bounds={"b": -0.25},
        upper_bounds={"a": 0.9},
    ).fit(frame, y, sample_weight=w, folds=folds)
    opts = {
        "penalty_factor": [0.0, 1.0, 2.5, 1.0, 1.0],
        "lower": [-INF, -0.25, -INF, -INF, -INF],
        "upper": [0.9, INF, INF, INF, INF],
        "standardize": True,
    }
    refs = [enet_cv(X, y, w, folds, est.alphas_[i], r, **opts) for i, r in enumerate((0.3, 0.9))]
    for i, ref in enumerate(refs):
        np.testing.assert_allclose(est.mse_path_[i], ref.mse_path, rtol=1e-8)
    best = int(np.argmin([r.mse_path.mean(axis=1).min() for r in refs]))
    assert est.l1_ratio_ == (0.3, 0.9)[best] and est.alpha_ == refs[best].alpha
    assert_close(est.coef_, refs[best].final.coef)
    assert est.coef_[0] <= 0.9 and est.coef_[1] >= -0.25  # the bounds hold (exactly: they are clipped)
