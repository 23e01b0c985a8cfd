"""Pickling a fitted estimator must not change the estimator itself."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dreg import LogisticRegressionCV


def test_pickling_a_glm_cv_model_keeps_its_off_grid_refit() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 5))
    y = (X @ np.array([1.0, -1.0, 0.5, 0.0, 0.0]) + rng.standard_normal(400) > 0).astype(int)
    est = LogisticRegressionCV(alphas=8, cv=3, l1_ratio=1.0).fit(X, y)
    a = float(np.sqrt(est.alphas_[2] * est.alphas_[3]))  # between two grid points
    before = est.coef_at(a)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.coef_at(a), before)  # the live model still refits off the grid
    np.testing.assert_array_equal(copy.coef_, est.coef_)
    with pytest.raises(ValueError):
        copy.coef_at(a)  # the copy has no training rows: grid alphas only, as a model loaded from JSON
    grid = float(est.alphas_[2])
    np.testing.assert_array_equal(copy.coef_at(grid), est.coef_at(grid))  # grid points need no refit
