"""From statistics to the solvers' quadratic problem and back (dreg.core.problem)."""

from __future__ import annotations

import numpy as np
import pytest

from dreg.core.problem import make_problem, mse_from_stats
from dreg.core.stats import block_stats


@pytest.fixture
def data(rng):
    n, p = 120, 4
    X = rng.standard_normal((n, p)) * [1.0, 3.0, 0.2, 5.0] + [1.0, -2.0, 100.0, 0.0]
    y = X @ [1.0, -0.5, 2.0, 0.1] + 3.0 + rng.standard_normal(n)
    w = rng.uniform(0.3, 2.0, n)
    return X, y, w


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [True, False])
def test_quadratic_form_reproduces_the_weighted_loss(data, rng, fit_intercept, standardize):
    """``F(b) + yy/2`` equals the weighted loss at the best intercept, for any coefficients."""
    X, y, w = data
    prob = make_problem(block_stats(X, y, w), fit_intercept, standardize)
    W = w.sum()
    for _ in range(5):
        coef = rng.standard_normal(X.shape[1])
        b = prob.to_standardized(coef)
        quad = 0.5 * b @ prob.Q @ b - prob.q @ b + 0.5 * prob.yy
        _, intercept = prob.to_original(b)
        loss = 0.5 * np.sum(w * (y - intercept - X @ coef) ** 2) / W
        assert quad == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(prob.to_original(prob.to_standardized(coef))[0], coef, rtol=1e-15)


def test_standardized_scale_is_weighted_population_std(data):
    X, _, w = data
    y = X[:, 0]
    prob = make_problem(block_stats(X, y, w), fit_intercept=True, standardize=True)
    mean = w @ X / w.sum()
    sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())
    np.testing.assert_allclose(prob.scale, sd, rtol=1e-12)
    np.testing.assert_allclose(np.diag(prob.Q), 1.0, rtol=1e-12)
    # without an intercept glmnet scales by the root mean square
    raw = make_problem(block_stats(X, y, w), fit_intercept=False, standardize=True)
    np.testing.assert_allclose(raw.scale, np.sqrt(w @ X**2 / w.sum()), rtol=1e-12)
    assert np.all(raw.x_mean == 0) and raw.y_mean == 0.0


def test_constant_features_are_flagged_even_with_large_means(rng):
    n = 50
    X = np.column_stack(
        [
            np.full(n, 1e6),  # constant, large mean
            1e6 + 1e-3 * rng.standard_normal(n),  # tiny but real spread
            np.zeros(n),  # constant zero
            rng.standard_normal(n),
        ]
    )
    y = rng.standard_normal(n)
    prob = make_problem(block_stats(X, y))
    assert prob.constant.tolist() == [True, False, True, False]
    assert np.all(prob.Q[prob.constant] == 0) and np.all(prob.q[prob.constant] == 0)
    assert np.all(np.isfinite(prob.Q)) and np.all(prob.scale > 0)
    # without an intercept only an all-zero column is constant
    assert make_problem(block_stats(X, y), fit_intercept=False).constant.tolist() == [
        False,
        False,
        True,
        False,
    ]


def test_make_problem_needs_one_label_and_positive_weight(data):
    X, y, w = data
    with pytest.raises(ValueError, match="one row set, got 2 labels"):
        make_problem(block_stats(X, y, w, np.arange(len(y)) % 2))
    with pytest.raises(ValueError, match="zero total weight"):
        make_problem(block_stats(X, y, np.zeros(len(y))))


def test_mse_from_stats_equals_direct_weighted_mse(data, rng):
    X, y, w = data
    s = block_stats(X, y, w)
    coef = rng.standard_normal((6, X.shape[1]))
    intercept = rng.standard_normal(6)
    direct = np.array(
        [np.average((y - b - X @ c) ** 2, weights=w) for c, b in zip(coef, intercept, strict=True)]
    )
    np.testing.assert_allclose(mse_from_stats(s, coef, intercept), direct, rtol=1e-11)
    # the zero model on statistics of zero weight is undefined, not an error
    empty = block_stats(X[:3], y[:3], np.zeros(3))
    assert np.all(np.isnan(mse_from_stats(empty, coef, intercept)))


def test_mse_from_stats_error_is_at_rounding_level_of_the_variance(rng):
    """``yy - 2 b'xy + b'xx b`` cancels for near-perfect fits: the error stays ~eps * var(y).

    The statistics are centered, so large means (here 1e3) do not enter the error.
    """
    n = 400
    X = 1e3 + rng.standard_normal((n, 3))
    beta = np.array([1.0, -2.0, 0.5])
    y = X @ beta + 7.0 + 1e-6 * rng.standard_normal(n)
    s = block_stats(X, y)
    fitted = np.linalg.lstsq(np.column_stack([np.ones(n), X]), y, rcond=None)[0]
    mse = mse_from_stats(s, fitted[1:][None, :], np.array([fitted[0]]))[0]
    direct = np.mean((y - fitted[0] - X @ fitted[1:]) ** 2)
    assert mse >= 0.0
    assert abs(mse - direct) <= 1e-13 * np.var(y)
    assert direct < 1e-11 * np.var(y)  # the case is a hard one
