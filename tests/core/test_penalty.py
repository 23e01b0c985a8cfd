"""The penalty value object (dreg.core.penalty) and the datafit seam (dreg.core.datafit)."""

from __future__ import annotations

import numpy as np
import pytest

from dreg.core.datafit import SquaredError
from dreg.core.penalty import Penalty
from dreg.core.problem import make_problem, mse_from_stats
from dreg.core.solvers import kkt_violation
from dreg.core.stats import block_stats


def test_make_broadcasts_and_freezes():
    pen = Penalty.make(3, 0.5, penalty_factor=[1.0, 0.0, 2.0], lower=0.0)
    assert pen.n_features == 3 and pen.l1_ratio == 0.5
    np.testing.assert_array_equal(pen.lower, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(pen.upper, [np.inf] * 3)
    assert pen.bounded and not Penalty.make(3).bounded
    with pytest.raises(ValueError):
        pen.penalty_factor[0] = 5.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"l1_ratio": 1.5}, r"l1_ratio must be in \[0, 1\]"),
        ({"penalty_factor": -1.0}, "penalty_factor must be finite and >= 0"),
        ({"penalty_factor": np.inf}, "penalty_factor must be finite and >= 0"),
        ({"lower": np.nan}, "bounds must not be NaN"),
        ({"lower": 0.5}, "lower_bounds must be <= 0"),
        ({"upper": -0.5}, "upper_bounds >= 0"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Penalty.make(2, **kwargs)


def test_l1_l2_value_and_variants():
    pen = Penalty.make(2, 0.25, penalty_factor=[1.0, 2.0], upper=[1.0, np.inf])
    np.testing.assert_array_equal(pen.l1(2.0), 2.0 * 0.25 * np.array([1.0, 2.0]))
    np.testing.assert_array_equal(pen.l2(2.0), 2.0 * 0.75 * np.array([1.0, 2.0]))
    b = np.array([0.5, -1.0])
    assert pen.value(b, 2.0) == pytest.approx(0.5 * 0.5 + 1.0 * 1.0 + 0.5 * (1.5 * 0.25 + 3.0 * 1.0))
    assert pen.value(np.array([2.0, 0.0]), 2.0) == np.inf  # outside the box
    assert pen.with_l1_ratio(1.0).l1_ratio == 1.0
    sub = pen.subset([1])
    assert sub.n_features == 1 and sub.penalty_factor[0] == 2.0
    std = pen.standardized(np.array([3.0, 0.5]))
    np.testing.assert_array_equal(std.upper, [3.0, np.inf])
    np.testing.assert_array_equal(std.lower, [-np.inf, -np.inf])


def test_kkt_violation_wraps_the_solvers_measure(rng):
    X = rng.standard_normal((40, 4))
    y = X[:, 0] + rng.standard_normal(40)
    prob = make_problem(block_stats(X, y))
    pen = Penalty.make(4, 0.5, lower=-0.1)
    b = rng.standard_normal(4) * 0.05
    expected = kkt_violation(prob.Q, prob.q, b, pen.l1(0.1), pen.l2(0.1), pen.lower, pen.upper)
    np.testing.assert_array_equal(pen.kkt_violation(prob.Q, prob.q, b, 0.1), expected)


def test_alpha_max_zeroes_the_lasso(rng):
    X = rng.standard_normal((50, 5))
    y = X @ [1.0, 0.0, -1.0, 0.5, 0.0] + rng.standard_normal(50)
    prob = make_problem(block_stats(X, y), standardize=False)
    Xc, yc = X - X.mean(0), y - y.mean()
    assert Penalty.make(5).alpha_max(prob) == pytest.approx(np.max(np.abs(Xc.T @ yc)) / 50, rel=1e-11)


def test_squared_error_is_make_problem_and_mse(rng):
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30)
    stats = block_stats(X, y)
    fit = SquaredError()
    a, b = fit.problem(stats, True, False), make_problem(stats, True, False)
    np.testing.assert_array_equal(a.Q, b.Q)
    coef, intercept = rng.standard_normal((2, 3)), np.zeros(2)
    np.testing.assert_array_equal(fit.held_out_loss(stats, coef, intercept), mse_from_stats(stats, coef, intercept))
