"""pandas and Dask DataFrames with categorical columns and missing values (issue 13, item 4).

The reference encodes independently: ``pandas.get_dummies`` with every level
(null a level of its own), weighted-mean imputation in numpy, indicator
columns; then scikit-learn fits the dense design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dreg


def make_frame(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    df = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "shop": rng.choice(["a", "b", None], n, p=[0.5, 0.4, 0.1]).astype(object),
            "flag": rng.random(n) < 0.3,
            "size": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 100, n)), dtype="Int64"),
            "x": np.where(rng.random(n) < 0.15, np.nan, rng.normal(50.0, 1.0, n)),
            "z": rng.normal(size=n),
            "label": pd.array(rng.choice(["p", "q"], n), dtype="string"),
        }
    )
    effect = df["colour"].map({"red": 1.0, "green": -1.0, "blue": 0.0}).to_numpy(dtype=float)
    y = effect + 0.5 * df["flag"] + 0.3 * np.nan_to_num(df["x"].to_numpy() - 50.0) + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    return df, np.asarray(y, dtype=float), w


CATEGORICAL = ["colour", "shop", "flag", "label"]


def reference(df: pd.DataFrame, w: np.ndarray, fit_df: pd.DataFrame | None = None, min_count: int = 0):
    """Dense design of ``df`` with levels, means and indicators from ``fit_df``."""
    fit_df = df if fit_df is None else fit_df
    wf = np.ones(len(fit_df)) if w is None else w
    cols, names = [], []
    for c in df.columns:
        if c in CATEGORICAL:
            ref = fit_df[c].astype(object).where(fit_df[c].notna(), None)
            counts = ref.value_counts(dropna=False)
            data = sorted(v for v in counts.index if v is not None)
            levels = data + ([None] if None in counts.index else [])
            rare = [lv for lv in levels if counts[lv] < min_count]
            values = df[c].astype(object).where(df[c].notna(), None)
            filled = values.map(lambda v: "\0" if v is None else v)
            dummies = pd.get_dummies(filled, dtype=float)
            for lv in levels:
                if lv in rare:
                    continue
                key = "\0" if lv is None else lv
                cols.append(dummies[key].to_numpy() if key in dummies else np.zeros(len(df)))
                names.append(f"{c}=<null>" if lv is None else f"{c}={lv}")
            if rare:
                cols.append(sum(dummies[k].to_numpy() for k in ("\0" if v is None else v for v in rare) if k in dummies))
                names.append(f"{c}=<other>")
        else:
            xf = fit_df[c].to_numpy(dtype=float, na_value=np.nan)
            obs = ~np.isnan(xf)
            mean = np.sum(wf[obs] * xf[obs]) / np.sum(wf[obs])
            x = df[c].to_numpy(dtype=float, na_value=np.nan)
            cols.append(np.where(np.isnan(x), mean, x))
            names.append(c)
            if not obs.all():
                cols.append(np.isnan(x).astype(float))
                names.append(f"{c}=<null>")
    return np.column_stack(cols), names


@pytest.fixture
def data():
    return make_frame(np.random.default_rng(2024), 600)


def test_elasticnet_on_a_frame_equals_sklearn_on_get_dummies(data) -> None:
    from sklearn.linear_model import ElasticNet

    df, y, w = data
    est = dreg.ElasticNet(alpha=0.02, l1_ratio=0.5, standardize=False, impute="mean", missing_indicator=True)
    est.fit(df, y, sample_weight=w)
    X, names = reference(df, w)
    assert est.feature_names_.tolist() == names == est.feature_names_in_.tolist()
    sk = ElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-7, atol=1e-9)
    assert est.intercept_ == pytest.approx(sk.intercept_, rel=1e-8)
    np.testing.assert_allclose(est.predict(df), X @ est.coef_ + est.intercept_, rtol=1e-12, atol=1e-12)
    assert est.encoding_.columns[4].impute == pytest.approx(
        np.average(df["x"].dropna(), weights=w[df["x"].notna().to_numpy()]), rel=1e-12
    )


def test_cv_and_glm_estimators_fit_the_encoded_design(data) -> None:
    df, y, w = data
    X, _ = reference(df, w, min_count=80)
    folds = np.arange(len(y)) % 4
    kw = dict(impute="mean", missing_indicator=True, min_level_count=80)
    a = dreg.LassoCV(alphas=8, **kw).fit(df, y, sample_weight=w, folds=folds)
    b = dreg.LassoCV(alphas=8).fit(X, y, sample_weight=w, folds=folds)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
    assert "shop=<other>" in a.feature_names_.tolist()  # None (60 rows) < 80: lumped
    yb = (y > np.median(y)).astype(int)
    c = dreg.LogisticRegressionCV(alphas=5, **kw).fit(df, yb, sample_weight=w, folds=folds)
    d = dreg.LogisticRegressionCV(alphas=5).fit(X, yb, sample_weight=w, folds=folds)
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(c.predict_proba(df), d.predict_proba(X), rtol=1e-10)


def test_predict_with_unseen_levels_and_nulls(data) -> None:
    df, y, w = data
    est = dreg.Ridge(alpha=0.1, impute="zero").fit(df, y)
    new = df.iloc[:5].copy()
    new["colour"] = pd.Categorical(["violet", "red", "red", "blue", "green"])
    new.loc[new.index[1], "x"] = np.nan
    zero = {"x": 0.0, "size": 0}
    X, _ = reference(new.fillna(zero), None, fit_df=df.fillna(zero))
    got = est.predict(new)
    # violet: no column (all-zero colour dummies); x: the stored 0
    np.testing.assert_allclose(got, X @ est.coef_ + est.intercept_, rtol=1e-12)
    assert est.unseen_levels_ == {"colour": {"violet": 1}}


def test_without_impute_missing_numeric_values_raise_naming_columns(data) -> None:
    df, y, _ = data
    with pytest.raises(ValueError, match=r"column 'size': \d+; column 'x': \d+.*impute='mean'"):
        dreg.Lasso(alpha=0.1).fit(df, y)


def test_dask_dataframe_equals_pandas(data) -> None:
    import dask
    import dask.dataframe as dd

    df, y, w = data
    frame = df.assign(__y=y, __w=w)
    ddf = dd.from_pandas(frame, npartitions=4)
    X = ddf[list(df.columns)]
    with dask.config.set(scheduler="sync"):
        est = dreg.ElasticNetCV(alphas=6, cv=3, impute="mean", missing_indicator=True, random_state=0)
        est.fit(X, ddf["__y"], sample_weight=ddf["__w"])
        ref = dreg.ElasticNetCV(alphas=6, cv=3, impute="mean", missing_indicator=True, random_state=0)
        ref.fit(df, y, sample_weight=w)
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.predict(X).compute(), ref.predict(df), rtol=1e-10)


def test_model_json_round_trip_keeps_the_encoding(data, tmp_path) -> None:
    from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict

    df, y, w = data
    est = dreg.LassoCV(alphas=6, impute={"x": "mean", "size": 7.0}, missing_indicator=True).fit(df, y)
    loaded = estimator_from_dict(estimator_to_dict(est))
    assert loaded.encoding_ == est.encoding_
    np.testing.assert_array_equal(loaded.predict(df), est.predict(df))


def test_parameter_errors(data) -> None:
    df, y, _ = data
    with pytest.raises(ValueError, match="need a pandas or Dask DataFrame"):
        dreg.Lasso(impute="mean").fit(df.select_dtypes("number").fillna(0).to_numpy(), y)
    with pytest.raises(ValueError, match=r"impute names categorical column\(s\) \['colour'\]"):
        dreg.Lasso(impute={"colour": "mean"}).fit(df, y)
    with pytest.raises(ValueError, match="'median'"):
        dreg.Lasso(impute="median").fit(df, y)


def test_penalty_factor_by_column_name_covers_its_levels(data) -> None:
    df, y, _ = data
    est = dreg.Lasso(alpha=0.05, penalty_factor={"colour": 0.0, "colour=red": 2.0}).fit(df.drop(columns=["x", "size"]), y)
    names = est.feature_names_.tolist()
    pf = dreg.estimators._validation.per_feature("penalty_factor", est.penalty_factor, len(names), names, 1.0)
    assert [pf[names.index(f"colour={c}")] for c in ("blue", "green", "red")] == [0.0, 0.0, 2.0]
    assert est.coef_[names.index("colour=blue")] != 0.0  # unpenalized: kept at any alpha
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        dreg.Lasso(penalty_factor={"nope": 0.0}).fit(df.drop(columns=["x", "size"]), y)
