"""Penalized binomial and Poisson GLMs (dreg.core.glm): golden values, CV, properties, edge cases.

References: scikit-learn's LogisticRegression / PoissonRegressor (standardize=False,
alpha = 1/(C n) and alpha = a) and an independent smooth reformulation solved by
scipy's L-BFGS-B (the L1 term split into positive and negative parts).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from dreg.core.datafit import Binomial, Poisson
from dreg.core.folds import fold_ids
from dreg.core.glm import GLMWarning, glm_fit, in_memory_pass
from dreg.core.penalty import Penalty
from dreg.core.stats import block_stats

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, PoissonRegressor  # noqa: E402


def make(rng, n=300, p=6, family="binomial", shift=0.0):
    X = rng.standard_normal((n, p)) + shift
    beta = np.zeros(p)
    beta[: min(p, 3)] = [1.0, -0.7, 0.4][: min(p, 3)]
    eta = (X - shift) @ beta - 0.3
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    return X, y


def fit(X, y, family, l1_ratio, alphas, w=None, fold=None, folds=None, **kw):
    stats = block_stats(X, y, w, fold)
    pen = kw.pop("penalty", None) or Penalty.make(X.shape[1], l1_ratio)
    return glm_fit(stats, family, pen, in_memory_pass(X, y, w, fold, block_rows=kw.pop("block_rows", 65536)),
                   alphas=alphas, folds=folds, **kw)


def objective(X, y, w, coef, b, alpha, pen, family, scale):
    eta = X @ coef + b
    nll = np.logaddexp(0, eta) - y * eta if family == "binomial" else np.exp(eta) - y * eta
    u = coef * scale
    pf = pen.penalty_factor
    return w @ nll / w.sum() + alpha * (pen.l1_ratio * pf @ np.abs(u) + 0.5 * (1 - pen.l1_ratio) * pf @ (u * u))


def reference(X, y, w, alpha, pen, family, standardize):
    """L-BFGS-B on the split variables (b, u+, u-) of the smooth reformulation."""
    n, p = X.shape
    mean = w @ X / w.sum()
    scale = np.sqrt(w @ (X - mean) ** 2 / w.sum()) if standardize else np.ones(p)
    Z = X / scale
    r, pf = pen.l1_ratio, pen.penalty_factor

    def f(v):
        b, up, um = v[0], v[1 : p + 1], v[p + 1 :]
        u = up - um
        eta = Z @ u + b
        if family == "binomial":
            nll = np.logaddexp(0, eta) - y * eta
            res = 1 / (1 + np.exp(-eta)) - y
        else:
            mu = np.exp(eta)
            nll, res = mu - y * eta, mu - y
        W = w.sum()
        val = w @ nll / W + alpha * (r * pf @ (up + um) + 0.5 * (1 - r) * pf @ (u * u))
        gu = Z.T @ (w * res) / W + alpha * (1 - r) * pf * u
        g = np.concatenate([[w @ res / W], gu + alpha * r * pf, -gu + alpha * r * pf])
        return val, g

    v0 = np.zeros(2 * p + 1)
    bounds = [(None, None)] + [(0, None)] * (2 * p)
    out = minimize(f, v0, jac=True, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 20000})
    u = out.x[1 : p + 1] - out.x[p + 1 :]
    return u / scale, out.x[0]


# --------------------------------------------------------------------------- golden: scikit-learn
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0, 0.5])
def test_logistic_matches_sklearn(rng, l1_ratio):
    X, y = make(rng)
    n = X.shape[0]
    C = 0.3
    res = fit(X, y, "binomial", l1_ratio, [1 / (C * n)], standardize=False, tol=1e-10)
    if l1_ratio == 0.0:
        sk = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    else:
        sk = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(res.coef[0, 0], sk.coef_[0], atol=1e-6)
    np.testing.assert_allclose(res.intercept[0, 0], sk.intercept_[0], atol=1e-6)
    assert res.converged.all()


@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_poisson_matches_sklearn(rng, alpha):
    X, y = make(rng, family="poisson")
    res = fit(X, y, "poisson", 0.0, [alpha], standardize=False, tol=1e-10)
    sk = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(res.coef[0, 0], sk.coef_, atol=1e-6)
    np.testing.assert_allclose(res.intercept[0, 0], sk.intercept_, atol=1e-6)


# --------------------------------------------------------------------------- golden: own reference
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_matches_lbfgs_reference_weights_standardize_penalty_factor(rng, family):
    X, y = make(rng, n=250, p=5, family=family)
    X[:, 1] *= 4.0
    w = rng.uniform(0.2, 2.0, X.shape[0])
    pen = Penalty.make(5, 0.5, penalty_factor=[1.0, 0.5, 2.0, 0.0, 1.0])
    alpha = 0.02
    res = fit(X, y, family, 0.5, [alpha], w=w, penalty=pen, standardize=True, tol=1e-10)
    coef, b = reference(X, y, w, alpha, pen, family, standardize=True)
    np.testing.assert_allclose(res.coef[0, 0], coef, atol=1e-6)
    np.testing.assert_allclose(res.intercept[0, 0], b, atol=1e-6)


def test_path_matches_single_alpha_fits(rng):
    X, y = make(rng)
    res = fit(X, y, "binomial", 1.0, 20, tol=1e-10)
    for ai in (3, 10, 19):
        one = fit(X, y, "binomial", 1.0, [res.alphas[0, ai]], tol=1e-10)
        np.testing.assert_allclose(res.coef[0, ai], one.coef[0, 0], atol=1e-7)


# --------------------------------------------------------------------------- cross-validation
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_cv_equals_per_fold_refits(rng, family):
    X, y = make(rng, n=400, family=family)
    fold = fold_ids(0, X.shape[0], 4, 3)
    cv = fit(X, y, family, 1.0, 25, fold=fold, folds=np.arange(4), tol=1e-10)
    grid = cv.alphas[0]
    dev = np.zeros((grid.size, 4))
    for k in range(4):
        tr = fold != k
        one = fit(X[tr], y[tr], family, 1.0, grid, tol=1e-10)
        np.testing.assert_allclose(cv.fold_coef[0, :, k], one.coef[0], atol=1e-6)
        eta = X[~tr] @ one.coef[0].T + one.intercept[0]
        yk = y[~tr][:, None]
        fam = Binomial() if family == "binomial" else Poisson()
        dev[:, k] = 2 * (fam.pointwise(eta, yk)[0] - fam.saturated(yk)).mean(axis=0)
    np.testing.assert_allclose(cv.deviance_path[0], dev, rtol=1e-6, atol=1e-9)
    assert int(np.argmin(cv.deviance_path[0].mean(-1))) == int(np.argmin(dev.mean(-1)))


def test_cv_100_alphas_5_folds_in_at_most_20_passes(rng):
    X, y = make(rng, n=2000, p=10)
    fold = fold_ids(0, X.shape[0], 5, 0)
    res = fit(X, y, "binomial", 1.0, 100, fold=fold, folds=np.arange(5), auc=True)
    assert res.n_passes + 1 <= 20  # pass 0 included
    assert res.converged.all()
    # AUC from the histograms agrees with the exact AUC of the held-out scores
    from sklearn.metrics import roc_auc_score

    for ai in (30, 60, 99):
        for k in range(5):
            m = fold == k
            eta = X[m] @ res.fold_coef[0, ai, k] + res.fold_intercept[0, ai, k]
            exact = roc_auc_score(y[m], eta)
            assert abs(res.auc_path[0, ai, k] - exact) <= res.auc_error[0, ai, k] + 1e-12
            assert res.auc_error[0, ai, k] < 2e-3


# --------------------------------------------------------------------------- properties
def _kkt(X, y, coef, b, alpha, l1_ratio, family):
    eta = X @ coef + b
    res = 1 / (1 + np.exp(-eta)) - y if family == "binomial" else np.exp(eta) - y
    g = X.T @ res / X.shape[0] + alpha * (1 - l1_ratio) * coef
    t = alpha * l1_ratio
    v = np.where(coef != 0, np.abs(g + t * np.sign(coef)), np.maximum(np.abs(g) - t, 0))
    return max(v.max(), abs(res.mean()))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), l1_ratio=st.sampled_from([0.0, 0.5, 1.0]), family=st.sampled_from(["binomial", "poisson"]))
def test_kkt_at_solution_and_zero_at_alpha_max(seed, l1_ratio, family):
    rng = np.random.default_rng(seed)
    X, y = make(rng, n=200, p=4, family=family)
    res = fit(X, y, family, l1_ratio, 8, standardize=False, tol=1e-10)
    for ai in range(8):
        assert _kkt(X, y, res.coef[0, ai], res.intercept[0, ai], res.alphas[0, ai], l1_ratio, family) < 1e-7
    if l1_ratio > 0:
        assert np.all(res.coef[0, 0] == 0.0)
        assert not np.all(res.coef[0, 1] == 0.0)


@settings(max_examples=5, deadline=None)
@given(rows=st.integers(7, 150), seed=st.integers(0, 100))
def test_invariant_to_chunking(rows, seed):
    rng = np.random.default_rng(seed)
    X, y = make(rng, n=240, p=4)
    fold = fold_ids(0, 240, 3, 1)
    a = fit(X, y, "binomial", 1.0, 10, fold=fold, folds=np.arange(3), tol=1e-10)
    b = fit(X, y, "binomial", 1.0, 10, fold=fold, folds=np.arange(3), tol=1e-10, block_rows=rows)
    np.testing.assert_allclose(a.fold_coef, b.fold_coef, atol=1e-8)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)


# --------------------------------------------------------------------------- edge cases
def test_separable_data_stops_with_warning_and_finite(rng):
    X = rng.standard_normal((100, 3))
    y = (X[:, 0] > 0).astype(float)
    with pytest.warns(GLMWarning, match="separable"):
        res = fit(X, y, "binomial", 1.0, 60, eps=1e-5)
    assert np.all(np.isfinite(res.coef)) and np.all(np.isfinite(res.intercept))
    assert res.stopped.any()
    assert res.dev_ratio.max() >= 0.999


def test_one_class_training_fold_raises(rng):
    X = rng.standard_normal((40, 2))
    y = np.zeros(40)
    fold = np.repeat([0, 1], 20)
    y[fold == 0] = 1.0  # fold 1's training rows (fold 0) hold one class
    with pytest.raises(ValueError, match="one class"):
        fit(X, y, "binomial", 1.0, 5, fold=fold, folds=[0, 1])


def test_poisson_all_zero_raises(rng):
    X = rng.standard_normal((30, 2))
    with pytest.raises(ValueError, match="zero"):
        fit(X, np.zeros(30), "poisson", 1.0, 5)


def test_constant_columns_large_means_zero_weights(rng):
    X, y = make(rng, n=300, p=4)
    Xc = np.column_stack([X + 1e6, np.full(300, 3.0)])
    w = np.ones(300)
    w[:50] = 0.0
    a = fit(Xc, y, "binomial", 0.5, [0.01], w=w, tol=1e-10)
    b = fit(X[50:], y[50:], "binomial", 0.5, [0.01], tol=1e-10)
    np.testing.assert_allclose(a.coef[0, 0, :4], b.coef[0, 0], atol=1e-6)
    assert a.coef[0, 0, 4] == 0.0
    np.testing.assert_allclose(a.intercept[0, 0] + 1e6 * a.coef[0, 0, :4].sum(), b.intercept[0, 0], atol=1e-4)


def test_bounds_and_positive(rng):
    X, y = make(rng, n=300, p=3)
    pen = Penalty.make(3, 0.0, lower=0.0, upper=[np.inf, np.inf, 0.1])
    res = fit(X, y, "binomial", 0.0, [0.01], penalty=pen, standardize=False, tol=1e-10)
    coef, b = res.coef[0, 0], res.intercept[0, 0]
    assert np.all(coef >= 0) and coef[2] <= 0.1 + 1e-12
    assert coef[1] == 0.0  # the true coefficient is negative
    # no feasible point nearby has a lower objective
    w = np.ones(300)
    f0 = objective(X, y, w, coef, b, 0.01, pen, "binomial", np.ones(3))
    for d in np.eye(3) * 1e-4:
        for s in (1, -1):
            c = np.clip(coef + s * d, pen.lower, pen.upper)
            assert objective(X, y, w, c, b, 0.01, pen, "binomial", np.ones(3)) >= f0 - 1e-12


def test_not_converged_is_reported(rng):
    X, y = make(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fit(X, y, "binomial", 1.0, 10, max_passes=1)
    assert not res.converged.all()
    assert np.all(np.isfinite(res.coef))
