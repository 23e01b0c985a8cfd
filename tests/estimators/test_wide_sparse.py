"""scipy.sparse input and the wide engine in the estimators: golden against scikit-learn's
sparse coordinate descent (which centers sparse X implicitly too), and against dreg's Gram engine.

scikit-learn runs with ``tol=1e-12`` and a large ``max_iter``; ``standardize=False``
gives scikit-learn's objective (see tests/estimators/test_golden_sklearn.py).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sklm

import dreg
from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict

SK_TOL = 1e-12
SK_ITER = 1_000_000


def make_sparse(rng, n, p, density, n_true=20, noise=0.5, fmt="csc"):
    # a Generator: with a legacy RandomState scipy samples the positions ~100x slower at this size
    X = sp.random(n, p, density=density, format=fmt, random_state=rng, data_rvs=rng.standard_normal)
    beta = np.zeros(p)
    beta[rng.choice(p, n_true, replace=False)] = rng.uniform(1.0, 3.0, n_true) * rng.choice([-1.0, 1.0], n_true)
    y = X @ beta + noise * rng.standard_normal(n) + 1.5
    return X, y


def alpha_max(X, y):
    return float(np.max(np.abs(X.T @ (y - y.mean()))) / X.shape[0])


def assert_coef_close(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-12))


def folds_and_splits(n, k=5):
    folds = np.arange(n) % k
    return folds, [(np.flatnonzero(folds != i), np.flatnonzero(folds == i)) for i in range(k)]


# --------------------------------------------------------------------------- golden: single alpha
@pytest.mark.parametrize("density", [1e-3, 1e-2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("frac", [0.3, 0.05])
def test_lasso_and_enet_equal_sklearn_sparse_cd(rng, density, weighted, frac):
    X, y = make_sparse(rng, 2_000, 5_000, density)
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    alpha = frac * alpha_max(X, y)
    for ours, ref in (
        (dreg.Lasso(alpha=alpha, standardize=False, engine="wide"), sklm.Lasso(alpha=alpha)),
        (dreg.ElasticNet(alpha=alpha, l1_ratio=0.5, standardize=False, engine="wide"),
         sklm.ElasticNet(alpha=alpha, l1_ratio=0.5)),
    ):  # fmt: skip
        ours.fit(X, y, sample_weight=sw)
        ref.set_params(tol=SK_TOL, max_iter=SK_ITER).fit(X, y, sample_weight=sw)
        assert ours.engine_ == "wide"
        assert_coef_close(ours.coef_, ref.coef_, 1e-6)
        assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-6, abs=1e-6)
        assert ours.n_passes_ >= 3


@pytest.mark.parametrize("fmt", ["csr", "coo", "csc"])
def test_wide_equals_gram_engine_on_sparse_input(rng, fmt):
    X, y = make_sparse(rng, 400, 150, 0.05, n_true=10, fmt=fmt)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    for standardize in (True, False):
        kw = dict(alpha=0.05 * alpha_max(X, y), l1_ratio=0.7, standardize=standardize)
        wide = dreg.ElasticNet(engine="wide", **kw).fit(X, y, sample_weight=w)
        gram = dreg.ElasticNet(engine="gram", **kw).fit(X, y, sample_weight=w)
        dense = dreg.ElasticNet(**kw).fit(X.toarray(), y, sample_weight=w)
        assert (wide.engine_, gram.engine_, dense.engine_) == ("wide", "gram", "gram")
        assert_coef_close(wide.coef_, gram.coef_, 1e-8)
        assert_coef_close(gram.coef_, dense.coef_, 1e-9)
        assert wide.intercept_ == pytest.approx(gram.intercept_, rel=1e-8, abs=1e-8)


def test_penalty_factor_positive_and_standardize_equal_gram(rng):
    X, y = make_sparse(rng, 400, 150, 0.05, n_true=10)
    pf = np.ones(X.shape[1])
    pf[:3] = 0.0
    for standardize in (True, False):
        kw = dict(alpha=0.02 * alpha_max(X, y), standardize=standardize, penalty_factor=pf, positive=True)
        wide = dreg.Lasso(engine="wide", **kw).fit(X, y)
        gram = dreg.Lasso(engine="gram", **kw).fit(X, y)
        assert_coef_close(wide.coef_, gram.coef_, 1e-8)
        assert np.all(wide.coef_ >= 0)
    a = dreg.Lasso(alpha=0.02 * alpha_max(X, y), engine="wide").fit(X, y).coef_
    b = dreg.Lasso(alpha=0.02 * alpha_max(X, y), engine="wide", standardize=False).fit(X, y).coef_
    assert np.max(np.abs(a - b)) > 1e-3  # standardize changes the problem


def test_ridge_on_sparse_input(rng):
    X, y = make_sparse(rng, 300, 60, 0.1, n_true=8)
    wide = dreg.Ridge(alpha=0.01, engine="wide").fit(X, y)
    gram = dreg.Ridge(alpha=0.01).fit(X, y)
    assert gram.engine_ == "gram"
    assert_coef_close(wide.coef_, gram.coef_, 1e-8)


# --------------------------------------------------------------------------- golden: CV
@pytest.mark.parametrize("cls", ["LassoCV", "ElasticNetCV"])
def test_cv_equals_sklearn_on_the_same_folds_and_grid(rng, cls):
    X, y = make_sparse(rng, 2_000, 5_000, 5e-3)
    _, splits = folds_and_splits(X.shape[0])
    grid = alpha_max(X, y) * np.geomspace(1.0, 0.1, 15)
    extra = {} if cls == "LassoCV" else {"l1_ratio": 0.5}
    grid = grid / extra.get("l1_ratio", 1.0)
    ours = getattr(dreg, cls)(alphas=grid, cv=splits, standardize=False, engine="wide", **extra).fit(X, y)
    ref = getattr(sklm, cls)(alphas=grid, cv=splits, tol=SK_TOL, max_iter=SK_ITER, **extra).fit(X, y)
    assert ours.engine_ == "wide" and ours.passes_.shape == (1, 15)
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-15)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert_coef_close(ours.coef_, ref.coef_, 1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)


def test_cv_wide_equals_cv_gram(rng):
    X, y = make_sparse(rng, 300, 80, 0.08, n_true=8)
    folds, _ = folds_and_splits(X.shape[0], 4)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    kw = dict(l1_ratio=[0.5, 1.0], alphas=12, selection="1se")
    wide = dreg.ElasticNetCV(engine="wide", **kw).fit(X, y, sample_weight=w, folds=folds)
    gram = dreg.ElasticNetCV(engine="gram", **kw).fit(X, y, sample_weight=w, folds=folds)
    assert (wide.engine_, gram.engine_) == ("wide", "gram")
    np.testing.assert_allclose(wide.mse_path_, gram.mse_path_, rtol=1e-8)
    assert (wide.l1_ratio_, wide.alpha_, wide.chosen_alpha_) == (gram.l1_ratio_, gram.alpha_, gram.chosen_alpha_)
    assert_coef_close(wide.coef_path_, gram.coef_path_, 1e-8)
    assert_coef_close(wide.fold_coef_, gram.fold_coef_, 1e-7)
    # predict and score on sparse input
    np.testing.assert_allclose(wide.predict(X), gram.predict(X.toarray()), rtol=1e-8, atol=1e-8)
    assert wide.score(X, y, sample_weight=w) == pytest.approx(gram.score(X.toarray(), y, sample_weight=w), rel=1e-9)
    # the grid alphas are answered; off the grid the wide model has no Gram to refit from
    grid = wide.alphas_[wide.cv_result_.best_l1_index]
    np.testing.assert_array_equal(wide.coef_at(grid[3]), wide.coef_path_[3])
    with pytest.raises(ValueError, match="wide engine keeps no Gram matrix"):
        wide.coef_at(grid[3] * 0.99)


# --------------------------------------------------------------------------- engine choice
def test_auto_picks_wide_beyond_max_gram_bytes_and_gram_raises(rng):
    X, y = make_sparse(rng, 200, 100, 0.05, n_true=5)
    # (K + 1) p^2 8 = 6 * 100^2 * 8 = 480,000 bytes for 5 folds
    assert dreg.LassoCV(alphas=5).fit(X, y).engine_ == "gram"
    est = dreg.LassoCV(alphas=5, max_gram_bytes=479_999).fit(X, y)
    assert est.engine_ == "wide" and 0 < est.working_set_ <= 100 and est.passes_.shape == (1, 5)
    est.set_params(max_gram_bytes=480_000).fit(X, y)
    assert est.engine_ == "gram" and not hasattr(est, "passes_") and not hasattr(est, "working_set_")
    assert dreg.Lasso(alpha=0.01, max_gram_bytes=79_999).fit(X, y).engine_ == "wide"  # one Gram: 80,000
    with pytest.raises(ValueError, match=r"p=100 features needs 6 dense p x p Gram matrices, 480,000 bytes .* "
                                         r"max_gram_bytes=400,000; use engine='wide'"):  # fmt: skip
        dreg.LassoCV(alphas=5, engine="gram", max_gram_bytes=400_000).fit(X, y)
    # dense numpy input stays on the Gram engine under 'auto'; 'wide' takes it too
    assert dreg.Lasso(alpha=0.01, max_gram_bytes=1).fit(X.toarray(), y).engine_ == "gram"
    wide = dreg.Lasso(alpha=0.01, engine="wide").fit(X.toarray(), y)
    assert wide.engine_ == "wide"
    assert_coef_close(wide.coef_, dreg.Lasso(alpha=0.01).fit(X, y).coef_, 1e-8)
    with pytest.raises(ValueError, match="engine must be one of"):
        dreg.Lasso(engine="dense").fit(X, y)
    with pytest.raises(ValueError, match="max_gram_bytes must be a positive integer"):
        dreg.Lasso(max_gram_bytes=0).fit(X, y)


def test_bad_sparse_values_raise_with_the_column(rng):
    X, y = make_sparse(rng, 50, 10, 0.3, n_true=2)
    X = sp.csc_matrix(X)
    X.data[X.indptr[4]] = np.nan
    for engine in ("gram", "wide"):
        with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\) in 1 column\(s\): column 4"):
            dreg.Lasso(engine=engine).fit(X, y)
    Xg, yg = make_sparse(rng, 50, 10, 0.3, n_true=2)
    with pytest.raises(ValueError, match="negative value"):
        dreg.Lasso(engine="wide").fit(Xg, yg, sample_weight=-np.ones(50))


def test_new_parameters_round_trip_through_json(rng):
    X, y = make_sparse(rng, 200, 40, 0.1, n_true=5)
    est = dreg.LassoCV(alphas=6, engine="wide", max_gram_bytes=2**30).fit(X, y)
    back = estimator_from_dict(estimator_to_dict(est))
    assert back.get_params() == est.get_params()
    assert back.engine == "wide" and back.max_gram_bytes == 2**30
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


# --------------------------------------------------------------------------- near the issue's size
@pytest.mark.slow
def test_lasso_near_the_issue_size_equals_sklearn(rng):
    """20,000 x 50,000 at density 1e-3 (1M stored values), Lasso at one alpha."""
    X, y = make_sparse(rng, 20_000, 50_000, 1e-3, n_true=50)
    alpha = 0.2 * alpha_max(X, y)
    start = time.perf_counter()
    ours = dreg.Lasso(alpha=alpha, standardize=False).fit(X, y)
    elapsed = time.perf_counter() - start
    assert ours.engine_ == "wide"  # (0 + 1) * 50,000^2 * 8 = 20 GB > 2 GiB
    # at this size scikit-learn's duality gap stalls above tol=1e-12 (rounding) and runs to
    # max_iter; 1e-10 converges in ~10 epochs and is accurate to ~1e-10 here
    ref = sklm.Lasso(alpha=alpha, tol=1e-10, max_iter=SK_ITER).fit(X, y)
    assert_coef_close(ours.coef_, ref.coef_, 1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)
    assert elapsed < 30


# --------------------------------------------------------------------------- engine choice: the measured crossover
def columns_with(rng, n, p, per_column):
    """CSC ``n x p`` with exactly ``per_column`` stored +-1 values in every column (one-hot/hashing-like)."""
    rows = np.concatenate([rng.choice(n, per_column, replace=False) for _ in range(p)])
    indptr = np.arange(p + 1) * per_column
    return sp.csc_matrix((rng.choice([-1.0, 1.0], rows.size), rows, indptr), shape=(n, p))


def test_auto_picks_wide_from_1500_features_when_columns_share_at_most_a_tenth_of_a_row(rng):
    # rule 2 of _Base._engine: p >= 1500 and (nnz / p)^2 / n <= 0.1 (benchmarks/bench_crossover.py)
    n, p = 1_000, 1_500
    X = columns_with(rng, n, p, 10)  # (10^2) / 1000 = 0.1 exactly
    y = X[:, :5] @ np.array([2.0, -1.0, 1.5, 1.0, -2.0]) + 0.5 * rng.standard_normal(n)
    amax = alpha_max(X, y)
    assert dreg.Lasso(alpha=0.5 * amax).fit(X, y).engine_ == "wide"
    cv = dreg.LassoCV(alphas=amax * np.array([0.8, 0.5])).fit(X, y)
    assert cv.engine_ == "wide" and cv.passes_.shape == (1, 2)
    assert dreg.ElasticNet(alpha=0.5 * amax, l1_ratio=0.5).fit(X.tocsr(), y).engine_ == "wide"  # any format
    assert dreg.Lasso(alpha=0.5 * amax, engine="gram").fit(X, y).engine_ == "gram"  # an explicit engine is kept
    est = dreg.Lasso(alpha=0.5 * amax)
    assert est._engine(X, 0) == est._engine(X, 5) == "wide"
    # one more stored value: (15,001 / 1500)^2 / 1000 > 0.1
    denser = X.tolil()
    denser[int(np.flatnonzero(X[:, 0].toarray().ravel() == 0)[0]), 0] = 1.0
    assert denser.nnz == 10 * p + 1 and est._engine(denser.tocsc(), 5) == "gram"
    # 1499 features (still 0.1 shared rows): below the p threshold
    assert est._engine(X[:, : p - 1], 5) == "gram"
    assert dreg.Lasso(alpha=0.5 * amax).fit(X[:, : p - 1], y).engine_ == "gram"
    # the same 10 values per column in one row fewer share more than 0.1 rows: the rule is not
    # a count per column (nor a density: 20 per column in 4,000 rows is denser than 10 in 1,000)
    assert est._engine(columns_with(rng, n - 1, p, 10), 5) == "gram"
    assert est._engine(columns_with(rng, 4 * n, p, 20), 5) == "wide"


def test_auto_keeps_dense_and_dask_input_on_the_gram_engine(rng):
    import dask.array as da

    n, p = 1_000, 1_500
    X = columns_with(rng, n, p, 5)
    y = X[:, :3] @ np.array([2.0, -1.0, 1.5]) + 0.5 * rng.standard_normal(n)
    est = dreg.Lasso(alpha=0.5 * alpha_max(X, y))
    assert est._engine(X, 5) == "wide"
    assert est._engine(X.toarray(), 0) == est._engine(X.toarray(), 5) == "gram"
    assert est._engine(da.from_array(X.toarray(), chunks=(250, p)), 5) == "gram"
    assert est.fit(X.toarray(), y).engine_ == "gram"
    # the memory rule is unchanged: beyond max_gram_bytes 'auto' goes wide whatever the density
    dense_cols = columns_with(rng, 300, 50, 200)
    assert est.set_params(max_gram_bytes=50**2 * 8 - 1)._engine(dense_cols, 0) == "wide"
    assert est.set_params(max_gram_bytes=50**2 * 8)._engine(dense_cols, 0) == "gram"
