"""LogisticRegression(CV) and PoissonRegressor(CV) on the wide engine: scipy.sparse input, scikit-learn's answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import PoissonRegressor as SkPoisson

import dreg
from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict


def data(rng, family, n=600, p=400, density=0.02, signal=15):
    X = sp.random(n, p, density=density, format="csr", random_state=np.random.RandomState(rng.integers(2**31))) * 3.0
    beta = np.zeros(p)
    beta[:signal] = rng.normal(0.0, 1.0, signal)
    eta = X @ beta - 0.2
    if family == "binomial":
        y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-eta)), "yes", "no")
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(np.float64)
    return sp.csr_matrix(X), y


def test_logistic_l2_equals_scikit_learn_on_sparse(rng):
    X, y = data(rng, "binomial")
    n = X.shape[0]
    alpha = 0.01
    ours = dreg.LogisticRegression(alpha=alpha, l1_ratio=0.0, standardize=False, tol=1e-12, max_iter=200).fit(X, y)
    ref = SkLogistic(C=1.0 / (alpha * n), l1_ratio=0.0, tol=1e-12, max_iter=10_000).fit(X, y)
    assert ours.engine_ == "wide" and ours.working_set_ == X.shape[1]
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    np.testing.assert_array_equal(ours.predict(X[:50]), ref.predict(X[:50]))


def test_logistic_l1_equals_scikit_learn_liblinear(rng):
    X, y = data(rng, "binomial", n=500, p=300)
    n = X.shape[0]
    y01 = (y == "yes").astype(float)
    alpha = 0.3 * float(np.abs(X.T @ (y01 - y01.mean())).max() / n)
    ours = dreg.LogisticRegression(alpha=alpha, l1_ratio=1.0, standardize=False, tol=1e-12, max_iter=200).fit(X, y)
    # liblinear penalizes its intercept column: a large intercept_scaling makes that penalty negligible
    ref = SkLogistic(C=1.0 / (alpha * n), l1_ratio=1.0, solver="liblinear", tol=1e-10, max_iter=1_000_000, random_state=0,
                     intercept_scaling=1e4).fit(X, y)  # fmt: skip
    nz = np.flatnonzero(ref.coef_[0])
    assert 5 <= nz.size < X.shape[1] // 2
    np.testing.assert_array_equal(np.flatnonzero(ours.coef_[0]), nz)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    assert ours.working_set_ < X.shape[1] and ours.kkt_violation_ <= 1e-10


def test_poisson_l2_equals_scikit_learn_on_sparse(rng):
    X, y = data(rng, "poisson")
    alpha = 0.005
    ours = dreg.PoissonRegressor(alpha=alpha, l1_ratio=0.0, standardize=False, tol=1e-12, max_iter=200).fit(X, y)
    ref = SkPoisson(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    assert ours.engine_ == "wide"
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=2e-6)


@pytest.mark.parametrize("cls", [dreg.LogisticRegressionCV, dreg.PoissonRegressorCV])
def test_cv_on_sparse_equals_the_gram_engine_on_dense_rows(rng, cls):
    family = "binomial" if cls is dreg.LogisticRegressionCV else "poisson"
    X, y = data(rng, family, n=500, p=150, density=0.05)
    kw = dict(l1_ratio=[0.5, 1.0], alphas=15, eps=0.05, cv=4, tol=1e-10)
    wide = cls(**kw).fit(X, y)
    gram = cls(**kw).fit(X.toarray(), y)
    assert wide.engine_ == "wide" and gram.engine_ == "gram"
    assert wide.alpha_ == pytest.approx(gram.alpha_, rel=1e-12) and wide.l1_ratio_ == gram.l1_ratio_
    np.testing.assert_allclose(wide.alphas_, gram.alphas_, rtol=1e-12)
    np.testing.assert_allclose(wide.deviance_path_, gram.deviance_path_, rtol=1e-6)
    np.testing.assert_allclose(wide.coef_path_, gram.coef_path_, atol=1e-6 * max(1.0, np.abs(gram.coef_path_).max()))
    np.testing.assert_allclose(wide.coef_, gram.coef_, atol=1e-6)
    if family == "binomial":
        np.testing.assert_allclose(wide.auc_path_, gram.auc_path_, atol=1e-9)
        np.testing.assert_allclose(wide.decision_function(X), gram.decision_function(X.toarray()), atol=1e-5)
    assert wide.n_rounds_ >= 2 and wide.n_passes_ > 1
    # a grid alpha answers; between grid points a wide model does not hold its rows
    np.testing.assert_allclose(wide.coef_at(float(wide.alphas_[-1][3] if np.ndim(wide.alphas_) == 2 else wide.alphas_[3])).shape, (150,))
    with pytest.raises(ValueError, match="not on the grid"):
        wide.coef_at(0.987654 * float(np.min(wide.alphas_)))


def test_dense_input_beyond_the_budget_takes_the_wide_engine(rng):
    X, y = data(rng, "binomial", n=300, p=400, density=0.05, signal=5)
    Xd = X.toarray()
    budget = 4 * 400**2 * 8 - 1  # one byte short of the 4 Grams of 3-fold CV
    kw = dict(alphas=4, eps=0.5, cv=3, tol=1e-10)
    small = dreg.LogisticRegressionCV(max_gram_bytes=budget, **kw).fit(Xd, y)
    assert small.engine_ == "wide" and small.working_set_ < 200
    big = dreg.LogisticRegressionCV(**kw).fit(Xd, y)
    assert big.engine_ == "gram" and not hasattr(big, "working_set_")
    np.testing.assert_allclose(small.coef_path_, big.coef_path_, atol=1e-6)
    with pytest.raises(ValueError, match=r"engine='gram' with p=400 features needs 4 dense p x p Gram matrices"):
        dreg.LogisticRegressionCV(cv=3, engine="gram", max_gram_bytes=budget).fit(Xd, y)


def test_engine_errors(rng):
    X, y = data(rng, "binomial", n=200, p=30)
    with pytest.raises(ValueError, match="engine='gram' needs dense rows for logistic and Poisson fits"):
        dreg.LogisticRegression(engine="gram").fit(X, y)
    with pytest.raises(ValueError, match="engine must be one of"):
        dreg.PoissonRegressor(engine="sparse").fit(X, np.ones(200))
    with pytest.raises(ValueError, match="Poisson regression needs y >= 0, got 1 negative"):
        yy = np.ones(200)
        yy[7] = -1.0
        dreg.PoissonRegressor().fit(X, yy)
    bad = X.copy().astype(np.float64)
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dreg.LogisticRegression().fit(bad, y)
    fitted = dreg.LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="expecting 30 features"):
        fitted.predict(sp.csr_matrix((3, 31)))


def test_wide_model_round_trips_through_model_json(rng, tmp_path):
    X, y = data(rng, "binomial", n=300, p=200)
    model = dreg.LogisticRegressionCV(alphas=8, eps=0.1, cv=3).fit(X, y)
    (tmp_path / "model.json").write_text(json.dumps(estimator_to_dict(model)))
    back = estimator_from_dict(json.loads((tmp_path / "model.json").read_text()))
    np.testing.assert_array_equal(back.coef_, model.coef_)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.get_params()["engine"] == "auto"


def test_dataframe_on_the_wide_engine_keeps_feature_names(rng):
    import pandas as pd

    X, y = data(rng, "poisson", n=300, p=12, density=0.3, signal=4)
    frame = pd.DataFrame(X.toarray(), columns=[f"f{j}" for j in range(12)])
    wide = dreg.PoissonRegressor(alpha=0.01, engine="wide", tol=1e-10).fit(frame, y)
    gram = dreg.PoissonRegressor(alpha=0.01, engine="gram", tol=1e-10).fit(frame, y)
    assert wide.engine_ == "wide" and gram.engine_ == "gram" and not hasattr(gram, "n_rounds_")
    np.testing.assert_array_equal(wide.feature_names_in_, frame.columns.to_numpy())
    np.testing.assert_allclose(wide.coef_, gram.coef_, atol=1e-7)
    np.testing.assert_allclose(wide.predict(frame[frame.columns[::-1]]), gram.predict(frame), rtol=1e-7)
