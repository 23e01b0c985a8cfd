"""Golden comparisons against scikit-learn at tight tolerance.

scikit-learn is run with ``tol=1e-12`` and a large ``max_iter`` so that its
coordinate descent is accurate to far below the tolerances asserted here; dreg
polishes its solutions to rounding accuracy.  The scalings compared:

* ``Lasso``/``ElasticNet``: identical objectives (``1/(2 sum(w))`` loss), so
  identical ``alpha``; scikit-learn rescales ``sample_weight`` to sum to
  ``n_samples``, which is the same normalisation.
* ``Ridge``: scikit-learn's loss is unscaled, ``alpha_sklearn = sum(w) * alpha``.
* ``standardize=True``: scikit-learn on features standardized by their
  (weighted) mean and population standard deviation (``ddof=0``), coefficients
  divided by the standard deviations afterwards.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
from sklearn import linear_model as sklm
from sklearn.model_selection import PredefinedSplit

import dreg
from dreg.core.path import enet_path
from dreg.core.penalty import Penalty
from dreg.core.problem import make_problem
from dreg.core.stats import block_stats

SK_TOL = 1e-12
SK_ITER = 1_000_000
N, P = 200, 8  # N divisible by 5: every training fold has the same size
N_ALPHAS = 30


@pytest.fixture
def data(rng):
    X = rng.standard_normal((N, P)) @ rng.standard_normal((P, P)) * 0.5 + rng.uniform(-3, 3, P)
    beta = np.array([2.0, -1.5, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0])
    y = X @ beta + 3.0 + rng.standard_normal(N)
    w = rng.uniform(0.2, 3.0, N)
    return X, y, w


def assert_coef_close(a, b, rtol):
    """Relative to the size of the coefficient vector (zeros compare absolutely)."""
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-12))


def weighted_standardize(X, w=None):
    w = np.ones(X.shape[0]) if w is None else w
    mean = w @ X / w.sum()
    sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())  # population (ddof=0)
    return (X - mean) / sd, mean, sd


def test_sklearn_version_is_the_golden_one():
    assert sklearn.__version__.startswith("1.9")


# --------------------------------------------------------------------------- single alpha
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha_frac", [0.3, 0.05, 0.002])
@pytest.mark.parametrize("solver", ["cd", "admm"])
def test_lasso_matches_sklearn(data, weighted, alpha_frac, solver):
    X, y, w = data
    sw = w if weighted else None
    top = np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / N
    alpha = alpha_frac * top
    ours = dreg.Lasso(alpha=alpha, standardize=False, solver=solver).fit(X, y, sample_weight=sw)
    ref = sklm.Lasso(alpha=alpha, tol=SK_TOL, max_iter=SK_ITER).fit(X, y, sample_weight=sw)
    assert_coef_close(ours.coef_, ref.coef_, 1e-8)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)  # same support


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l1_ratio", [0.9, 0.5, 0.1])
def test_elastic_net_matches_sklearn(data, weighted, l1_ratio):
    X, y, w = data
    sw = w if weighted else None
    for alpha in (0.5, 0.05, 0.005):
        ours = dreg.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, standardize=False).fit(
            X, y, sample_weight=sw
        )
        ref = sklm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=SK_TOL, max_iter=SK_ITER).fit(
            X, y, sample_weight=sw
        )
        assert_coef_close(ours.coef_, ref.coef_, 1e-8)
        assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-8)


def test_sample_weight_normalisation_is_sum_of_weights(data):
    """Scaling all weights leaves both fits unchanged; integer weights equal repeated rows."""
    X, y, w = data
    a = dreg.Lasso(alpha=0.05, standardize=False).fit(X, y, sample_weight=w)
    b = dreg.Lasso(alpha=0.05, standardize=False).fit(X, y, sample_weight=7.5 * w)
    assert_coef_close(a.coef_, b.coef_, 1e-10)
    reps = (np.arange(N) % 3) + 1
    c = dreg.Lasso(alpha=0.05, standardize=False).fit(X, y, sample_weight=reps)
    d = dreg.Lasso(alpha=0.05, standardize=False).fit(np.repeat(X, reps, 0), np.repeat(y, reps))
    ref = sklm.Lasso(alpha=0.05, tol=SK_TOL, max_iter=SK_ITER).fit(
        np.repeat(X, reps, 0), np.repeat(y, reps)
    )
    assert_coef_close(c.coef_, d.coef_, 1e-10)
    assert_coef_close(c.coef_, ref.coef_, 1e-8)


def test_no_intercept_matches_sklearn(data):
    X, y, w = data
    for est, ref in (
        (
            dreg.Lasso(alpha=0.05, fit_intercept=False, standardize=False),
            sklm.Lasso(alpha=0.05, fit_intercept=False, tol=SK_TOL, max_iter=SK_ITER),
        ),
        (
            dreg.ElasticNet(alpha=0.05, l1_ratio=0.3, fit_intercept=False, standardize=False),
            sklm.ElasticNet(
                alpha=0.05, l1_ratio=0.3, fit_intercept=False, tol=SK_TOL, max_iter=SK_ITER
            ),
        ),
    ):
        est.fit(X, y, sample_weight=w)
        ref.fit(X, y, sample_weight=w)
        assert_coef_close(est.coef_, ref.coef_, 1e-8)
        assert est.intercept_ == 0.0


def test_positive_lasso_matches_sklearn(data):
    X, y, _ = data
    ours = dreg.Lasso(alpha=0.02, standardize=False, positive=True).fit(X, y)
    ref = sklm.Lasso(alpha=0.02, positive=True, tol=SK_TOL, max_iter=SK_ITER).fit(X, y)
    assert np.all(ours.coef_ >= 0)
    assert_coef_close(ours.coef_, ref.coef_, 1e-8)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_standardize_equals_sklearn_on_standardized_features(data, weighted, l1_ratio):
    X, y, w = data
    sw = w if weighted else None
    Xs, mean, sd = weighted_standardize(X, sw)
    for alpha in (0.2, 0.02):
        ours = dreg.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, standardize=True).fit(
            X, y, sample_weight=sw
        )
        ref = sklm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=SK_TOL, max_iter=SK_ITER).fit(
            Xs, y, sample_weight=sw
        )
        assert_coef_close(ours.coef_, ref.coef_ / sd, 1e-8)
        assert ours.intercept_ == pytest.approx(ref.intercept_ - (ref.coef_ / sd) @ mean, rel=1e-8)
        # predictions agree on the original scale
        np.testing.assert_allclose(
            ours.predict(X), ref.predict(Xs), rtol=1e-8, atol=1e-8 * np.abs(y).max()
        )


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_enet_path_matches_sklearn_on_centered_data(data, l1_ratio):
    X, y, _ = data
    Xc, yc = X - X.mean(0), y - y.mean()
    prob = make_problem(block_stats(X, y), fit_intercept=True, standardize=False)
    alphas = np.geomspace(np.max(np.abs(Xc.T @ yc)) / N / l1_ratio, 1e-3, 20)
    ours = enet_path(prob, alphas, Penalty.broadcast(l1_ratio, np.ones(P), np.full(P, -np.inf), np.full(P, np.inf)))
    ref_alphas, ref_coefs, _ = sklm.enet_path(
        Xc, yc, l1_ratio=l1_ratio, alphas=alphas, tol=SK_TOL, max_iter=SK_ITER
    )
    np.testing.assert_array_equal(ref_alphas, alphas)
    for i in range(alphas.size):
        assert_coef_close(ours.coef[i], ref_coefs[:, i], 1e-8)
    # first alpha is alpha_max: the null model
    assert np.all(ours.coef[0] == 0)
    np.testing.assert_allclose(ours.intercept, y.mean() - ours.coef @ X.mean(0), rtol=1e-12)


# --------------------------------------------------------------------------- CV
@pytest.mark.parametrize("weighted", [False, True])
def test_lasso_cv_matches_sklearn(data, weighted):
    X, y, w = data
    sw = w if weighted else None
    ours = dreg.LassoCV(alphas=N_ALPHAS, cv=5, standardize=False, random_state=3).fit(
        X, y, sample_weight=sw
    )
    folds = dreg.fold_ids(0, N, 5, 3)
    ref = sklm.LassoCV(
        alphas=ours.alphas_, cv=PredefinedSplit(folds), tol=SK_TOL, max_iter=SK_ITER
    ).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(ref.alphas_, ours.alphas_)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (N_ALPHAS, 5)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    assert ours.alpha_ == ref.alpha_
    assert_coef_close(ours.coef_, ref.coef_, 1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)


def test_elastic_net_cv_matches_sklearn_for_a_list_of_l1_ratios(data):
    X, y, _ = data
    l1 = [0.2, 0.5, 1.0]
    ours = dreg.ElasticNetCV(
        l1_ratio=l1, alphas=N_ALPHAS, cv=5, standardize=False, random_state=0
    ).fit(X, y)
    assert ours.alphas_.shape == (3, N_ALPHAS)
    folds = dreg.fold_ids(0, N, 5, 0)
    ref = sklm.ElasticNetCV(
        l1_ratio=l1, alphas=ours.alphas_[0], cv=PredefinedSplit(folds), tol=SK_TOL, max_iter=SK_ITER
    ).fit(X, y)
    # scikit-learn shares one explicit grid across l1_ratios: compare dreg on the same one
    same = dreg.ElasticNetCV(
        l1_ratio=l1, alphas=ours.alphas_[0], cv=5, standardize=False, random_state=0
    ).fit(X, y)
    assert same.mse_path_.shape == ref.mse_path_.shape == (3, N_ALPHAS, 5)
    np.testing.assert_allclose(same.mse_path_, ref.mse_path_, rtol=1e-8)
    assert same.alpha_ == ref.alpha_
    assert same.l1_ratio_ == ref.l1_ratio_
    assert_coef_close(same.coef_, ref.coef_, 1e-6)


def test_elastic_net_cv_single_l1_ratio_matches_sklearn(data):
    X, y, w = data
    ours = dreg.ElasticNetCV(l1_ratio=0.5, alphas=N_ALPHAS, standardize=False, random_state=1).fit(
        X, y, sample_weight=w
    )
    ref = sklm.ElasticNetCV(
        l1_ratio=0.5,
        alphas=ours.alphas_,
        cv=PredefinedSplit(dreg.fold_ids(0, N, 5, 1)),
        tol=SK_TOL,
        max_iter=SK_ITER,
    ).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    assert ours.alpha_ == ref.alpha_
    assert_coef_close(ours.coef_, ref.coef_, 1e-6)


def test_lasso_cv_default_grid_is_sklearns(data):
    """Same alpha_max and log spacing as scikit-learn's automatic grid (eps 1e-4 when n > p)."""
    X, y, _ = data
    ours = dreg.LassoCV(alphas=N_ALPHAS, standardize=False).fit(X, y)
    ref = sklm.LassoCV(
        alphas=N_ALPHAS,
        cv=PredefinedSplit(dreg.fold_ids(0, N, 5, 0)),
        eps=1e-4,
        tol=1e-4,
        max_iter=10_000,
    ).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)


def test_lasso_cv_standardize_matches_per_fold_standardized_sklearn(data):
    """standardize=True standardizes each training fold by its own statistics (glmnet)."""
    X, y, _ = data
    ours = dreg.LassoCV(alphas=12, cv=5, standardize=True, random_state=0).fit(X, y)
    folds = dreg.fold_ids(0, N, 5, 0)
    for k in range(5):
        tr, te = folds != k, folds == k
        Xs, mean, sd = weighted_standardize(X[tr])
        _, coefs, _ = sklm.lasso_path(
            Xs, y[tr] - y[tr].mean(), alphas=ours.alphas_, tol=SK_TOL, max_iter=SK_ITER
        )
        coefs = coefs / sd[:, None]  # (n_features, n_alphas), original scale
        intercepts = y[tr].mean() - mean @ coefs
        mse = np.mean((y[te][:, None] - X[te] @ coefs - intercepts) ** 2, axis=0)
        np.testing.assert_allclose(ours.mse_path_[:, k], mse, rtol=1e-8)
    Xs, mean, sd = weighted_standardize(X)
    ref = sklm.Lasso(alpha=ours.alpha_, tol=SK_TOL, max_iter=SK_ITER).fit(Xs, y)
    assert_coef_close(ours.coef_, ref.coef_ / sd, 1e-8)


# --------------------------------------------------------------------------- ridge
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn_with_scaled_alpha(data, weighted, fit_intercept):
    X, y, w = data
    sw = w if weighted else None
    total = w.sum() if weighted else N
    for alpha in (10.0, 0.1, 1e-4):
        ours = dreg.Ridge(alpha=alpha, standardize=False, fit_intercept=fit_intercept).fit(
            X, y, sample_weight=sw
        )
        ref = sklm.Ridge(alpha=total * alpha, fit_intercept=fit_intercept, solver="cholesky").fit(
            X, y, sample_weight=sw
        )
        assert_coef_close(ours.coef_, ref.coef_, 1e-9)
        assert ours.intercept_ == pytest.approx(
            ref.intercept_, rel=1e-9, abs=1e-9 * np.abs(y).max()
        )
        assert ours.solver_ == "eigen"


def test_ridge_standardize_matches_sklearn_on_standardized_features(data):
    X, y, w = data
    Xs, mean, sd = weighted_standardize(X, w)
    ours = dreg.Ridge(alpha=0.3, standardize=True).fit(X, y, sample_weight=w)
    ref = sklm.Ridge(alpha=w.sum() * 0.3, solver="cholesky").fit(Xs, y, sample_weight=w)
    assert_coef_close(ours.coef_, ref.coef_ / sd, 1e-9)


def test_ridge_default_alpha():
    assert dreg.Ridge().alpha == 0.01


def per_fold_ridge_mse(X, y, w, folds, alphas, standardize=False):
    """Held-out weighted MSE of scikit-learn's Ridge fitted on each training fold.

    The training loss is normalised by the *training* weight, so each fold gets
    ``alpha_sklearn = sum(w_train) * alpha``.
    """
    labels = np.unique(folds[folds >= 0])
    out = np.zeros((len(alphas), labels.size))
    for j, k in enumerate(labels):
        tr, te = folds != k, folds == k
        Xtr, Xte = X[tr], X[te]
        if standardize:
            Xtr, mean, sd = weighted_standardize(Xtr, w[tr])
            Xte = (Xte - mean) / sd
        for i, a in enumerate(alphas):
            m = sklm.Ridge(alpha=w[tr].sum() * a, solver="cholesky").fit(
                Xtr, y[tr], sample_weight=w[tr]
            )
            r = y[te] - m.predict(Xte)
            out[i, j] = np.average(r**2, weights=w[te])
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_cv_matches_per_fold_sklearn_ridge(data, weighted):
    X, y, w = data
    n = 197  # unequal folds: training sizes differ, so each fold has its own sklearn alpha
    X, y, w = X[:n], y[:n], (w[:n] if weighted else np.ones(n))
    ours = dreg.RidgeCV(alphas=15, standardize=False, random_state=4).fit(
        X, y, sample_weight=w if weighted else None
    )
    folds = dreg.fold_ids(0, n, 5, 4)
    assert len(set(np.bincount(folds).tolist())) == 2
    ref = per_fold_ridge_mse(X, y, w, folds, ours.alphas_)
    np.testing.assert_allclose(ours.mse_path_, ref, rtol=1e-8)
    assert ours.alpha_ == ours.alphas_[np.argmin(ref.mean(axis=1))]
    final = sklm.Ridge(alpha=w.sum() * ours.alpha_, solver="cholesky").fit(X, y, sample_weight=w)
    assert_coef_close(ours.coef_, final.coef_, 1e-9)


def test_ridge_cv_standardize_matches_per_fold_standardized_sklearn(data):
    X, y, w = data
    ours = dreg.RidgeCV(alphas=10, standardize=True, random_state=0).fit(X, y, sample_weight=w)
    ref = per_fold_ridge_mse(X, y, w, dreg.fold_ids(0, N, 5, 0), ours.alphas_, standardize=True)
    np.testing.assert_allclose(ours.mse_path_, ref, rtol=1e-8)


def test_ridge_cv_matches_sklearn_ridgecv_with_equal_folds(data):
    """With equal training sizes one sklearn grid (n_train * alphas) serves every fold."""
    X, y, _ = data
    ours = dreg.RidgeCV(alphas=15, standardize=False, random_state=0).fit(X, y)
    folds = dreg.fold_ids(0, N, 5, 0)
    n_train = N - N // 5
    assert np.all(np.bincount(folds) == N // 5)
    ref = sklm.RidgeCV(
        alphas=n_train * ours.alphas_, cv=PredefinedSplit(folds), scoring="neg_mean_squared_error"
    ).fit(X, y)
    assert ref.alpha_ == pytest.approx(n_train * ours.alpha_, rel=1e-12)
    assert -ref.best_score_ == pytest.approx(ours.mse_mean_.min(), rel=1e-8)
    # the final model is refit on all rows: there the sklearn alpha is N * alpha_
    final = sklm.Ridge(alpha=N * ours.alpha_, solver="cholesky").fit(X, y)
    assert_coef_close(ours.coef_, final.coef_, 1e-9)


def test_no_sklearn_convergence_warnings_in_golden_runs(data):
    """The references above are converged (a ConvergenceWarning would be an error anyway)."""
    X, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sklm.Lasso(alpha=1e-4, tol=SK_TOL, max_iter=SK_ITER).fit(X, y)
