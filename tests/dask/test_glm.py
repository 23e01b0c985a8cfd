"""GLM passes on a real multi-process LocalCluster: equal to the in-memory fit, the data read once."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import dreg

pytestmark = pytest.mark.cluster


def data(n=900, p=5, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * [1, 2, 1, 0.5, 1] + [0, 1e3, 0, 0, 5]
    eta = X[:, 0] - 0.4 * (X[:, 1] - 1e3) + 0.2
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    counts = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    return X, y, counts


def test_logistic_cv_on_dask_array_equals_numpy(dask_client):
    X, y, _ = data()
    w = np.linspace(0.5, 1.5, X.shape[0])
    ref = dreg.LogisticRegressionCV(alphas=20, l1_ratio=[0.5, 1.0]).fit(X, y, sample_weight=w)
    got = dreg.LogisticRegressionCV(alphas=20, l1_ratio=[0.5, 1.0]).fit(
        da.from_array(X, chunks=(130, 5)), da.from_array(y, chunks=130), sample_weight=da.from_array(w, chunks=130)
    )
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-9)
    np.testing.assert_allclose(got.deviance_path_, ref.deviance_path_, rtol=1e-9)
    np.testing.assert_allclose(got.auc_path_, ref.auc_path_, atol=1e-12)
    assert got.alpha_ == pytest.approx(ref.alpha_, rel=1e-12) and got.l1_ratio_ == ref.l1_ratio_
    assert got.n_passes_ == ref.n_passes_ <= 20
    proba = got.predict_proba(da.from_array(X, chunks=(200, 5))).compute()
    np.testing.assert_allclose(proba, ref.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(got.predict(da.from_array(X, chunks=(200, 5))).compute(), ref.predict(X))


def test_poisson_on_dask_dataframe_equals_numpy(dask_client):
    X, _, counts = data()
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)]).assign(y=counts)
    ddf = dd.from_pandas(frame, npartitions=4)
    folds = np.arange(X.shape[0]) % 3
    ddf = ddf.assign(fold=dd.from_pandas(pd.Series(folds, name="fold"), npartitions=4))
    ref = dreg.PoissonRegressorCV(alphas=15).fit(frame[[f"x{j}" for j in range(5)]], counts, folds=folds)
    got = dreg.PoissonRegressorCV(alphas=15).fit(ddf[[f"x{j}" for j in range(5)]], ddf["y"], folds=ddf["fold"])
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-9)
    assert got.chosen_alpha_index_ == ref.chosen_alpha_index_
    assert got.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)  # the grid, from merges in another order
    assert list(got.feature_names_in_) == [f"x{j}" for j in range(5)]
    single = dreg.PoissonRegressor(alpha=0.1).fit(ddf[[f"x{j}" for j in range(5)]], ddf["y"])
    np.testing.assert_allclose(single.coef_, dreg.PoissonRegressor(alpha=0.1).fit(X, counts).coef_, atol=1e-9)


def test_dask_target_errors(dask_client):
    X, y, counts = data(n=200)
    Xd = da.from_array(X, chunks=(50, 5))
    with pytest.raises(ValueError, match="exactly 2 classes"):
        dreg.LogisticRegression().fit(Xd, da.from_array(np.arange(200) % 3, chunks=50))
    with pytest.raises(ValueError, match="y >= 0"):
        dreg.PoissonRegressor().fit(Xd, da.from_array(-counts - 1, chunks=50))
