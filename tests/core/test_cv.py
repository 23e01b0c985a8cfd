"""Cross-validation of whole paths from per-fold statistics (dreg.core.cv)."""

from __future__ import annotations

import numpy as np
import pytest

from dreg.core.cv import cross_validate, select_alpha
from dreg.core.path import enet_path
from dreg.core.penalty import Penalty
from dreg.core.problem import make_problem
from dreg.core.stats import block_stats


@pytest.fixture
def data(rng):
    n, p = 160, 5
    X = rng.standard_normal((n, p)) * [1.0, 2.0, 0.5, 1.0, 4.0] + [0.0, 3.0, -1.0, 0.0, 10.0]
    y = X @ [1.0, 0.0, -2.0, 0.0, 0.2] + 1.0 + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    folds = rng.integers(-1, 4, n)  # -1: always in training
    return X, y, w, folds


def unbounded(p, l1_ratio=1.0):
    return Penalty.make(p, l1_ratio)


@pytest.mark.parametrize("standardize", [True, False])
def test_cross_validate_equals_fitting_each_fold_on_its_rows(data, standardize):
    X, y, w, folds = data
    p = X.shape[1]
    stats = block_stats(X, y, w, folds)
    alphas = np.geomspace(1.0, 1e-3, 7)
    res = cross_validate(
        stats, l1_ratios=[0.5, 1.0], alphas=alphas, standardize=standardize, penalty=unbounded(p)
    )
    assert res.fold_labels.tolist() == [0, 1, 2, 3]
    assert res.mse_path.shape == res.train_mse_path.shape == (2, 7, 4)
    assert res.alphas.shape == (2, 7) and res.n_iter.shape == (2, 4)
    assert res.fold_coef.shape == (7, 4, p)
    for li, l1 in enumerate([0.5, 1.0]):
        for k in range(4):
            tr, te = folds != k, folds == k
            prob = make_problem(block_stats(X[tr], y[tr], w[tr]), True, standardize)
            path = enet_path(prob, alphas, unbounded(p, l1))
            pred_te = X[te] @ path.coef.T + path.intercept
            pred_tr = X[tr] @ path.coef.T + path.intercept
            mse = np.average((y[te][:, None] - pred_te) ** 2, weights=w[te], axis=0)
            train = np.average((y[tr][:, None] - pred_tr) ** 2, weights=w[tr], axis=0)
            np.testing.assert_allclose(res.mse_path[li, :, k], mse, rtol=1e-9)
            np.testing.assert_allclose(res.train_mse_path[li, :, k], train, rtol=1e-9)
            if li == res.best_l1_index:
                np.testing.assert_allclose(res.fold_coef[:, k], path.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.mse_mean, res.mse_path.mean(axis=-1), rtol=1e-15)
    np.testing.assert_allclose(res.mse_se, res.mse_path.std(axis=-1, ddof=1) / 2.0, rtol=1e-14)
    assert res.alpha_min == alphas[res.best_alpha_index]
    assert res.mse_mean[res.best_l1_index, res.best_alpha_index] == res.mse_mean.min()


def test_automatic_grid_per_l1_ratio(data):
    X, y, w, folds = data
    stats = block_stats(X, y, w, folds)
    res = cross_validate(stats, l1_ratios=[0.25, 1.0], alphas=10, penalty=unbounded(X.shape[1]))
    # alpha_max scales as 1 / l1_ratio
    assert res.alphas[0, 0] == pytest.approx(4.0 * res.alphas[1, 0], rel=1e-12)
    assert np.all(np.diff(res.alphas, axis=1) < 0)


def test_explicit_grid_is_sorted_decreasing(data):
    X, y, w, folds = data
    stats = block_stats(X, y, w, folds)
    res = cross_validate(stats, l1_ratios=1.0, alphas=[0.01, 1.0, 0.1], penalty=unbounded(X.shape[1]))
    assert res.alphas.tolist() == [[1.0, 0.1, 0.01]]


def test_select_alpha_first_minimum_and_one_standard_error():
    mean = np.array([[5.0, 2.5, 2.0, 2.2, 2.0], [4.0, 2.5, 2.1, 2.05, 2.3]])
    se = np.array([[0.1, 0.1, 0.6, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1]])
    li, ai, a1 = select_alpha(mean, se)
    assert (li, ai) == (0, 2)  # first of the tied minima, as numpy's argmin
    assert a1 == 1  # largest alpha with mean <= 2.0 + 0.6
    li, ai, a1 = select_alpha(mean[1:], se[1:])
    assert (li, ai, a1) == (0, 3, 2)


def test_needs_two_folds_with_two_rows(data):
    X, y, w, _ = data
    p = X.shape[1]
    one = block_stats(X, y, w, np.where(np.arange(len(y)) < 20, -1, 0))
    with pytest.raises(ValueError, match="at least 2 folds, got 1"):
        cross_validate(one, l1_ratios=1.0, penalty=unbounded(p))
    labels = np.arange(len(y)) % 3
    labels[5] = 7
    with pytest.raises(ValueError, match=r"fold\(s\) \[7\] have fewer than 2 rows"):
        cross_validate(block_stats(X, y, w, labels), l1_ratios=1.0, penalty=unbounded(p))


def test_fold_paths_on_threads_match_serial():
    """n_jobs changes who solves a path, not what it is: bit-identical results."""
    import numpy as np

    from dreg.core.cv import cross_validate
    from dreg.core.folds import fold_ids
    from dreg.core.penalty import Penalty
    from dreg.core.stats import block_stats

    rng = np.random.default_rng(3)
    n, p = 600, 170  # above the threads threshold of n_jobs=None
    X = rng.standard_normal((n, p))
    y = X[:, :4] @ np.array([1.0, -2.0, 0.5, 0.3]) + rng.standard_normal(n)
    stats = block_stats(X, y, None, fold_ids(0, n, 4, 0))
    kw = dict(
        l1_ratios=[0.5, 1.0], alphas=20, penalty=Penalty.make(p)
    )
    serial = cross_validate(stats, n_jobs=1, **kw)
    for n_jobs in (2, None, -1):
        threaded = cross_validate(stats, n_jobs=n_jobs, **kw)
        np.testing.assert_array_equal(threaded.mse_path, serial.mse_path)
        np.testing.assert_array_equal(threaded.fold_coef, serial.fold_coef)
        np.testing.assert_array_equal(threaded.n_iter, serial.n_iter)
        assert threaded.best_alpha_index == serial.best_alpha_index


def test_n_jobs_rejects_nonsense():
    import numpy as np
    import pytest

    from dreg.core.cv import cross_validate
    from dreg.core.folds import fold_ids
    from dreg.core.penalty import Penalty
    from dreg.core.stats import block_stats

    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    stats = block_stats(X, y, None, fold_ids(0, 50, 3, 0))
    kw = dict(l1_ratios=[1.0], alphas=5, penalty=Penalty.make(3))
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            cross_validate(stats, n_jobs=bad, **kw)
