"""``solver='admm'`` on the wide engine: the estimators run consensus ADMM (dreg.core.wide_admm) and
give coordinate descent's answer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import dreg


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # n > p: at the end of an n < p path both solvers stop within tol on a nearly flat objective, where
    # coefficients of near-collinear supports may differ far more than the objective does
    X = sp.random(1500, 600, density=1e-2, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    beta = np.zeros(600)
    beta[:20] = rng.normal(size=20)
    return X, X @ beta + rng.normal(size=1500)


def test_cv_with_admm_equals_cv_with_cd(data) -> None:
    X, y = data
    cd = dreg.LassoCV(cv=3, alphas=10, engine="wide", solver="cd").fit(X, y)
    admm = dreg.LassoCV(cv=3, alphas=10, engine="wide", solver="admm").fit(X, y)
    assert admm.engine_ == cd.engine_ == "wide"
    assert admm.alpha_ == cd.alpha_
    np.testing.assert_allclose(admm.mse_path_, cd.mse_path_, rtol=1e-8)
    np.testing.assert_allclose(admm.coef_, cd.coef_, atol=1e-7)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_single_alpha_with_admm_equals_cd(data, l1_ratio: float) -> None:
    X, y = data
    kw = dict(alpha=0.05, l1_ratio=l1_ratio, engine="wide")
    cd = dreg.ElasticNet(solver="cd", **kw).fit(X, y)
    admm = dreg.ElasticNet(solver="admm", **kw).fit(X, y)
    np.testing.assert_allclose(admm.coef_, cd.coef_, atol=1e-7)
    assert admm.intercept_ == pytest.approx(cd.intercept_, abs=1e-7)
