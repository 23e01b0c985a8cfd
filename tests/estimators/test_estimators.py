"""The scikit-learn compatible estimators (dreg.estimators): API, inputs, selection, errors."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import dreg
from dreg import ElasticNet, ElasticNetCV, Lasso, LassoCV, Ridge, RidgeCV

ALL = (ElasticNet, Lasso, Ridge, ElasticNetCV, LassoCV, RidgeCV)
SINGLE = (ElasticNet, Lasso, Ridge)
CV = (ElasticNetCV, LassoCV, RidgeCV)


@pytest.fixture
def data(rng):
    n, p = 150, 5
    X = rng.standard_normal((n, p)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 5.0, -1.0, 10.0, 2.0]
    y = 1.5 * X[:, 0] - 0.7 * X[:, 1] + 0.2 * X[:, 3] + 4.0 + rng.standard_normal(n)
    return X, y


@pytest.fixture
def frame(data):
    X, y = data
    cols = ["age", "income", "height", "weight", "score"]
    return pd.DataFrame(X, columns=cols), pd.Series(y, name="target")


# --------------------------------------------------------------------------- sklearn API
@pytest.mark.parametrize("cls", ALL)
def test_clone_get_set_params_and_repr(cls, data):
    X, y = data
    est = cls(tol=1e-9, max_iter=500, standardize=False)
    params = est.get_params()
    assert params["tol"] == 1e-9 and params["max_iter"] == 500 and params["standardize"] is False
    c = clone(est)
    assert c is not est and c.get_params() == params
    assert est.set_params(fit_intercept=False) is est
    assert est.get_params()["fit_intercept"] is False
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(not_a_param=1)
    r = repr(est)
    assert r.startswith(cls.__name__ + "(") and "fit_intercept=False" in r and "tol=1e-09" in r
    # clone of a fitted estimator is unfitted
    est.fit(X, y)
    assert hasattr(est, "coef_") and not hasattr(clone(est), "coef_")


def test_estimators_work_inside_sklearn_meta_estimators(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), Lasso(alpha=0.1)).fit(X, y)
    assert pipe.predict(X).shape == (X.shape[0],)
    alphas, l1_ratios = [0.3, 0.1, 0.01], [0.2, 0.8]
    folds = KFold(3)
    gs = GridSearchCV(
        ElasticNet(), {"alpha": alphas, "l1_ratio": l1_ratios}, cv=folds, scoring="neg_mean_squared_error"
    ).fit(X, y)
    # the same grid on the same folds: dreg's one-pass CV makes GridSearchCV's choice, with its errors
    cv = ElasticNetCV(l1_ratio=l1_ratios, alphas=alphas, cv=folds).fit(X, y)
    assert gs.best_params_ == {"alpha": cv.alpha_, "l1_ratio": cv.l1_ratio_}
    for params, score in zip(gs.cv_results_["params"], gs.cv_results_["mean_test_score"], strict=True):
        li, ai = l1_ratios.index(params["l1_ratio"]), list(cv.alphas_[0]).index(params["alpha"])
        assert -score == pytest.approx(cv.mse_mean_[li, ai], rel=1e-8)
    np.testing.assert_allclose(gs.best_estimator_.coef_, cv.coef_, rtol=1e-8, atol=1e-10)


def test_ridge_default_alpha_is_0_01():
    assert Ridge().alpha == 0.01
    assert Ridge().get_params()["alpha"] == 0.01


def test_predict_before_fit_raises(data):
    with pytest.raises(NotFittedError):
        Lasso().predict(data[0])


# --------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("cls", [Lasso, ElasticNetCV])
def test_dataframe_input_sets_feature_names(cls, frame, data):
    Xf, yf = frame
    est = cls(**({"alphas": 20} if cls in CV else {})).fit(Xf, yf)
    assert est.feature_names_in_.tolist() == list(Xf.columns)
    assert est.n_features_in_ == 5
    ref = clone(est).fit(*data)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    assert not hasattr(ref, "feature_names_in_")
    # refitting on numpy drops the names
    est.fit(*data)
    assert not hasattr(est, "feature_names_in_")


def test_predict_matches_columns_by_name(frame):
    Xf, yf = frame
    est = Lasso(alpha=0.05).fit(Xf, yf)
    shuffled = Xf[["score", "age", "weight", "income", "height"]].assign(extra=1.0)
    np.testing.assert_allclose(est.predict(shuffled), est.predict(Xf), rtol=1e-14)
    with pytest.raises(ValueError, match="missing 1 feature column"):
        est.predict(Xf.drop(columns="age"))


def test_predict_and_score_on_numpy_pandas_and_dask(frame):
    Xf, yf = frame
    X, y = Xf.to_numpy(), yf.to_numpy()
    w = np.linspace(0.5, 2.0, len(y))
    est = ElasticNet(alpha=0.05, l1_ratio=0.7).fit(Xf, yf)
    expected = X @ est.coef_ + est.intercept_
    r2 = r2_score(y, expected)
    r2_w = r2_score(y, expected, sample_weight=w)

    np.testing.assert_allclose(est.predict(X), expected, rtol=1e-12)
    np.testing.assert_allclose(est.predict(Xf), expected, rtol=1e-12)
    Xd = da.from_array(X, chunks=(40, 5))
    pd_ = est.predict(Xd)
    assert isinstance(pd_, da.Array)
    np.testing.assert_allclose(pd_.compute(), expected, rtol=1e-12)
    Xdf = dd.from_pandas(Xf, npartitions=3)
    np.testing.assert_allclose(np.asarray(est.predict(Xdf).compute()), expected, rtol=1e-12)

    assert est.score(X, y) == pytest.approx(r2, rel=1e-12)
    assert est.score(Xf, yf) == pytest.approx(r2, rel=1e-12)
    assert est.score(X, y, sample_weight=w) == pytest.approx(r2_w, rel=1e-12)
    assert est.score(Xd, da.from_array(y, chunks=40)) == pytest.approx(r2, rel=1e-12)
    assert est.score(
        Xd, da.from_array(y, chunks=40), sample_weight=da.from_array(w, chunks=40)
    ) == pytest.approx(r2_w, rel=1e-12)
    ddf = dd.from_pandas(Xf.assign(target=yf), npartitions=4)
    assert est.score(ddf[list(Xf.columns)], ddf["target"]) == pytest.approx(r2, rel=1e-12)


def test_predict_wrong_number_of_features(data):
    X, y = data
    est = Lasso(alpha=0.1).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but .* 5"):
        est.predict(X[:, :4])


def test_penalty_factor_dict_by_feature_name_and_unpenalized(frame):
    Xf, yf = frame
    big = Lasso(alpha=5.0).fit(Xf, yf)
    assert np.all(big.coef_ == 0)  # alpha far above alpha_max
    free = Lasso(alpha=5.0, penalty_factor={"height": 0.0}).fit(Xf, yf)
    assert free.coef_[2] != 0 and np.all(np.delete(free.coef_, 2) == 0)
    with pytest.raises(ValueError, match="unknown feature 'heigth'"):
        Lasso(penalty_factor={"heigth": 0.0}).fit(Xf, yf)
    with pytest.raises(ValueError, match="one value per feature"):
        Lasso(penalty_factor=[1.0, 1.0]).fit(Xf, yf)


def test_positive_and_box_bounds(data):
    from tests.estimators.enet_reference import enet_fit

    X, y = data
    pos = Lasso(alpha=0.01, positive=True).fit(X, y)
    assert np.all(pos.coef_ >= 0) and pos.coef_[0] > 0 and pos.coef_[1] == 0
    ref = enet_fit(X, y, None, 0.01, 1.0, standardize=True, positive=True)
    np.testing.assert_allclose(pos.coef_, ref.coef, rtol=1e-8, atol=1e-10)
    boxed = ElasticNet(alpha=0.01, lower_bounds=-0.3, upper_bounds=1.0).fit(X, y)
    assert np.all(boxed.coef_ >= -0.3) and np.all(boxed.coef_ <= 1.0)
    assert boxed.coef_[0] == 1.0 and boxed.coef_[1] == -0.3  # active bounds hold exactly
    ref = enet_fit(X, y, None, 0.01, 0.5, standardize=True, lower=-0.3, upper=1.0)
    np.testing.assert_allclose(boxed.coef_, ref.coef, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="zero must be feasible"):
        Lasso(lower_bounds=0.1).fit(X, y)


# --------------------------------------------------------------------------- CV outputs
def test_mse_path_shapes(data):
    X, y = data
    las = LassoCV(alphas=20, cv=4).fit(X, y)
    assert las.mse_path_.shape == (20, 4) and las.alphas_.shape == (20,)
    assert las.mse_mean_.shape == (20,) and las.train_mse_path_.shape == (20, 4)
    assert las.coef_path_.shape == (20, 5) and las.fold_coef_.shape == (4, 5)
    assert las.n_folds_ == 4
    single = ElasticNetCV(l1_ratio=0.5, alphas=20, cv=3).fit(X, y)
    assert single.mse_path_.shape == (20, 3) and single.alphas_.shape == (20,)
    multi = ElasticNetCV(l1_ratio=[0.1, 0.5, 1.0], alphas=20, cv=3).fit(X, y)
    assert multi.mse_path_.shape == (3, 20, 3) and multi.alphas_.shape == (3, 20)
    assert multi.mse_mean_.shape == (3, 20)
    assert multi.l1_ratio_ in (0.1, 0.5, 1.0)
    li = [0.1, 0.5, 1.0].index(multi.l1_ratio_)
    assert multi.mse_mean_[li].min() == multi.mse_mean_.min()
    assert multi.alpha_ == multi.alphas_[li][np.argmin(multi.mse_mean_[li])]
    np.testing.assert_allclose(multi.mse_mean_, multi.mse_path_.mean(axis=-1), rtol=1e-14)
    ridge = RidgeCV(alphas=7, cv=5).fit(X, y)
    assert ridge.mse_path_.shape == (7, 5)


@pytest.mark.parametrize("cls", CV)
def test_selection_1se(cls, data):
    X, y = data
    kw = {"l1_ratio": [0.3, 1.0]} if cls is ElasticNetCV else {}
    best = cls(alphas=40, **kw).fit(X, y)
    one_se = cls(alphas=40, selection="1se", **kw).fit(X, y)
    assert one_se.alpha_ == best.alpha_ and one_se.alpha_1se_ == best.alpha_1se_
    assert one_se.alpha_1se_ >= one_se.alpha_
    assert one_se.chosen_alpha_ == one_se.alpha_1se_ and best.chosen_alpha_ == best.alpha_
    li = 0 if cls is not ElasticNetCV else [0.3, 1.0].index(one_se.l1_ratio_)
    alphas = one_se.alphas_ if one_se.alphas_.ndim == 1 else one_se.alphas_[li]
    mean = one_se.mse_mean_ if one_se.mse_mean_.ndim == 1 else one_se.mse_mean_[li]
    se = one_se.mse_se_ if one_se.mse_se_.ndim == 1 else one_se.mse_se_[li]
    i_min = int(np.argmin(mean))
    i_1se = int(np.flatnonzero(alphas == one_se.alpha_1se_)[0])
    # the largest alpha within one standard error of the minimum
    assert mean[i_1se] <= mean[i_min] + se[i_min]
    assert np.all(mean[:i_1se] > mean[i_min] + se[i_min])
    # coef_ is the full-data path at that alpha, i.e. the single-alpha fit
    np.testing.assert_array_equal(one_se.coef_, one_se.coef_path_[i_1se])
    single = {LassoCV: Lasso, RidgeCV: Ridge}.get(cls)
    ref = (
        single(alpha=one_se.alpha_1se_)
        if single
        else ElasticNet(alpha=one_se.alpha_1se_, l1_ratio=one_se.l1_ratio_)
    )
    ref.fit(X, y)
    np.testing.assert_allclose(one_se.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    assert one_se.intercept_ == pytest.approx(ref.intercept_, rel=1e-8)
    if cls is not RidgeCV:
        # sparser (or as sparse) than the minimum-error model
        assert np.count_nonzero(one_se.coef_) <= np.count_nonzero(best.coef_)


def test_cv_is_deterministic_and_depends_on_random_state(data):
    X, y = data
    a = LassoCV(alphas=15, random_state=5).fit(X, y)
    b = LassoCV(alphas=15, random_state=5).fit(X, y)
    c = LassoCV(alphas=15, random_state=6).fit(X, y)
    np.testing.assert_array_equal(a.mse_path_, b.mse_path_)
    assert not np.allclose(a.mse_path_, c.mse_path_)


def test_user_folds_with_never_held_out_rows(data):
    X, y = data
    n = len(y)
    folds = np.tile([3, 7, 10, -1, 3, 7, 10], n // 7 + 1)[:n]  # non-contiguous labels and -1
    est = LassoCV(alphas=10, standardize=False).fit(X, y, folds=folds)
    assert est.n_folds_ == 3 and est.mse_path_.shape == (10, 3)
    np.testing.assert_array_equal(est.cv_result_.fold_labels, [3, 7, 10])
    for j, k in enumerate([3, 7, 10]):
        train, test = folds != k, folds == k  # -1 rows always train
        for i in (0, 4, 9):
            m = Lasso(alpha=est.alphas_[i], standardize=False).fit(X[train], y[train])
            mse = np.mean((y[test] - m.predict(X[test])) ** 2)
            assert est.mse_path_[i, j] == pytest.approx(mse, rel=1e-8)
    # cv is ignored when folds are given
    est5 = LassoCV(alphas=10, standardize=False, cv=5).fit(X, y, folds=folds)
    np.testing.assert_array_equal(est5.mse_path_, est.mse_path_)


def test_folds_as_pandas_series(frame):
    Xf, yf = frame
    folds = pd.Series(np.arange(len(yf)) % 4)
    a = RidgeCV(alphas=5).fit(Xf, yf, folds=folds)
    b = RidgeCV(alphas=5).fit(Xf, yf, folds=folds.to_numpy())
    np.testing.assert_array_equal(a.mse_path_, b.mse_path_)


def test_train_mse_below_test_mse_on_average(data):
    X, y = data
    est = LassoCV(alphas=20).fit(X, y)
    assert np.all(est.train_mse_path_.mean(axis=1)[-5:] <= est.mse_path_.mean(axis=1)[-5:])


# --------------------------------------------------------------------------- degenerate data
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("standardize", [True, False])
def test_zero_variance_feature_gets_zero_coefficient(cls, standardize, data):
    X, y = data
    X = X.copy()
    X[:, 2] = 123.456
    est = cls(standardize=standardize).fit(X, y)
    assert est.coef_[2] == 0.0
    assert np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_)
    if hasattr(est, "coef_path_"):
        assert np.all(est.coef_path_[:, 2] == 0.0) and np.all(np.isfinite(est.mse_path_))
    assert np.all(np.isfinite(est.predict(X)))


@pytest.mark.parametrize("solver", ["cd", "admm", "auto"])
@pytest.mark.parametrize("cls", ALL)
def test_perfectly_collinear_features_do_not_crash(cls, solver, data):
    X, y = data
    X = X.copy()
    X[:, 1] = X[:, 0]
    X[:, 4] = 2.0 * X[:, 2] - X[:, 3]
    est = cls(solver=solver, **({"alphas": 20} if cls in CV else {})).fit(X, y)
    assert np.all(np.isfinite(est.coef_))
    pred = est.predict(X)
    assert np.all(np.isfinite(pred))
    # fitted values are unique even when coefficients are not: solvers agree on them
    other = clone(est).set_params(solver="cd" if solver != "cd" else "admm").fit(X, y)
    np.testing.assert_allclose(other.predict(X), pred, rtol=1e-6, atol=1e-6 * np.abs(y).max())
    # and both equal scikit-learn's at the same alpha, on explicitly standardized columns
    np.testing.assert_allclose(pred, _sklearn_standardized_fit(est, X, y), rtol=1e-6, atol=1e-6 * np.abs(y).max())


def _sklearn_standardized_fit(est, X, y):
    """scikit-learn's fitted values at ``est``'s (chosen) alpha and l1_ratio, on columns standardized by
    their mean and population SD (dreg's ``standardize=True``); ``Ridge``'s loss is unscaled (alpha * n)."""
    from sklearn import linear_model as sklm

    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    alpha = getattr(est, "chosen_alpha_", getattr(est, "alpha", None))
    l1_ratio = {Lasso: 1.0, LassoCV: 1.0, Ridge: 0.0, RidgeCV: 0.0}.get(type(est))
    if l1_ratio is None:
        l1_ratio = getattr(est, "l1_ratio_", est.l1_ratio)
    if l1_ratio == 0.0:
        ref = sklm.Ridge(alpha=alpha * len(y), solver="cholesky")
    else:
        ref = sklm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=1_000_000)
    return ref.fit(Xs, y).predict(Xs)


def test_constant_target(data):
    X, _ = data
    y = np.full(X.shape[0], 2.5)
    for est in (Lasso(), Ridge(), LassoCV(alphas=5)):
        est.fit(X, y)
        assert np.all(est.coef_ == 0) and est.intercept_ == pytest.approx(2.5)
        assert est.score(X, y) == 1.0


# --------------------------------------------------------------------------- errors
def test_nan_in_x_names_column_and_count(frame):
    Xf, yf = frame
    Xf = Xf.copy()
    Xf.loc[[3, 10], "age"] = np.nan
    Xf.loc[5, "score"] = np.inf
    with pytest.raises(ValueError, match=r"column 'age' \(index 0\): 2") as exc:
        LassoCV().fit(Xf, yf)
    msg = str(exc.value)
    assert (
        "3 NaN or infinite value(s) in 2 column(s)" in msg and "column 'score' (index 4): 1" in msg
    )
    # numpy input: columns are named by index
    X = np.array(Xf.fillna(0.0).replace(np.inf, 0.0).to_numpy())
    X[[0, 1], 1] = -np.inf
    with pytest.raises(
        ValueError, match=r"2 NaN or infinite value\(s\) in 1 column\(s\): column 1: 2"
    ):
        Lasso().fit(X, yf.to_numpy())


def test_nullable_dtype_missing_values_reported(frame):
    Xf, yf = frame
    Xf = Xf.astype({"age": "Float64"})
    Xf.loc[7, "age"] = pd.NA
    with pytest.raises(ValueError, match=r"column 'age' \(index 0\): 1"):
        Ridge().fit(Xf, yf)


def test_nan_in_y(data):
    X, y = data
    y = y.copy()
    y[[0, 4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"y contains 3 NaN or infinite value\(s\)"):
        Ridge().fit(X, y)


def test_negative_and_nonfinite_weights(data):
    X, y = data
    w = np.ones(len(y))
    w[[1, 2]] = -1.0
    with pytest.raises(ValueError, match=r"sample_weight contains 2 negative value\(s\)"):
        ElasticNetCV().fit(X, y, sample_weight=w)
    w[[1, 2]] = [1.0, np.nan]
    with pytest.raises(ValueError, match=r"sample_weight contains 1 NaN or infinite"):
        Lasso().fit(X, y, sample_weight=w)


def test_mismatched_lengths(data):
    X, y = data
    with pytest.raises(ValueError, match=f"X has {len(y)} rows but y has {len(y) - 1}"):
        Lasso().fit(X, y[:-1])
    with pytest.raises(ValueError, match=f"X has {len(y)} rows but sample_weight has 3"):
        Lasso().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=f"X has {len(y)} rows but folds has 10"):
        LassoCV().fit(X, y, folds=np.arange(10) % 2)


def test_fold_with_fewer_than_two_rows(data):
    X, y = data
    folds = np.arange(len(y)) % 3
    folds[0] = 9  # a fold of one row
    with pytest.raises(ValueError, match=r"fold\(s\) \[9\] have fewer than 2 rows"):
        LassoCV().fit(X, y, folds=folds)
    w = np.ones(len(y))
    w[folds == 2] = 0.0  # rows with zero weight do not count
    w[np.flatnonzero(folds == 2)[0]] = 1.0
    with pytest.raises(
        ValueError, match=r"fold\(s\) \[2\] have fewer than 2 rows with positive weight"
    ):
        RidgeCV().fit(X, y, sample_weight=w, folds=np.where(folds == 9, 0, folds))


def test_single_fold_label_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 folds, got 1"):
        LassoCV().fit(X, y, folds=np.where(np.arange(len(y)) < 50, -1, 0))


@pytest.mark.parametrize("cv", [1, 0, -3, 2.5, True, None])
def test_bad_cv(cv, data):
    with pytest.raises(ValueError, match="cv must be an integer >= 2"):
        LassoCV(cv=cv).fit(*data)


@pytest.mark.parametrize("cls", ALL)
def test_unknown_solver(cls, data):
    with pytest.raises(
        ValueError, match=r"solver must be one of \('auto', 'cd', 'admm'\), got 'lbfgs'"
    ):
        cls(solver="lbfgs").fit(*data)


@pytest.mark.parametrize("cls", CV)
def test_unknown_selection(cls, data):
    with pytest.raises(
        ValueError, match=r"selection must be one of \('min', '1se'\), got 'cyclic'"
    ):
        cls(selection="cyclic").fit(*data)


@pytest.mark.parametrize("value", [1.5, -0.1, np.nan, "half"])
def test_bad_l1_ratio(value, data):
    with pytest.raises(ValueError, match="l1_ratio must be"):
        ElasticNet(l1_ratio=value).fit(*data)
    with pytest.raises(ValueError, match="l1_ratio must be"):
        ElasticNetCV(l1_ratio=[0.5, value]).fit(*data)


def test_l1_ratio_above_one_message(data):
    with pytest.raises(ValueError, match=r"l1_ratio must be in \[0, 1\], got 1.5"):
        ElasticNet(l1_ratio=1.5).fit(*data)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1.0}, "alpha must be >= 0"),
        ({"alpha": np.inf}, "alpha must be a finite number"),
        ({"tol": 0.0}, "tol must be > 0"),
        ({"max_iter": 0}, "max_iter must be a positive integer"),
        ({"fit_intercept": "yes"}, "fit_intercept must be True or False"),
        ({"penalty_factor": -1.0}, "penalty_factor must be finite and >= 0"),
    ],
)
def test_bad_scalar_parameters(params, match, data):
    with pytest.raises(ValueError, match=match):
        Lasso(**params).fit(*data)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alphas": 0}, "alphas must be a positive integer"),
        ({"alphas": [0.1, -1.0]}, "alphas must be a non-empty 1-d array"),
        ({"eps": 2.0}, r"eps must be in \(0, 1\)"),
    ],
)
def test_bad_cv_parameters(params, match, data):
    with pytest.raises(ValueError, match=match):
        LassoCV(**params).fit(*data)


def test_non_numeric_dataframe_column_is_named(frame):
    """A column that is neither numeric nor categorical (a timestamp) is named; a string column is
    categorical (one-hot encoded: tests/estimators/test_categorical_frames.py)."""
    Xf, yf = frame
    Xf = Xf.assign(when=pd.date_range("2026-01-01", periods=len(Xf), freq="h"))
    with pytest.raises(ValueError, match=r"non-numeric column\(s\): 'when' \(datetime64"):
        Lasso().fit(Xf, yf)
    with pytest.raises(ValueError, match="'when'"):
        LassoCV().fit(Xf, yf)
    city = Xf.drop(columns="when").assign(city=["Oslo", "Lima", "Pune"] * (len(Xf) // 3))
    assert Lasso(alpha=0.01).fit(city, yf).feature_names_[-3:].tolist() == ["city=Lima", "city=Oslo", "city=Pune"]


def test_one_dimensional_x_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        Lasso().fit(X[:, 0], y)


def test_non_numeric_y(data):
    X, y = data
    with pytest.raises(ValueError, match="y must be numeric"):
        Lasso().fit(X, pd.Series(["a"] * len(y)))


def test_lazy_top_level_imports():
    assert dreg.LassoCV is LassoCV and dreg.fold_ids(0, 4, 2).shape == (4,)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        dreg.Nope  # noqa: B018
