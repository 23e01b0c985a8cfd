"""The estimators without scikit-learn (dreg.estimators._sklearn_base), and with it.

The batch job's path -- fit from statistics, save, load, predict -- runs in a
fresh interpreter and must leave scikit-learn unimported; once scikit-learn is
imported (before dreg or after) the estimators are its ``BaseEstimator``,
``RegressorMixin`` and ``ClassifierMixin`` subclasses, and the stand-ins that
serve until then (``get_params``, ``set_params``, ``repr``, ``check_is_fitted``)
agree with scikit-learn's own methods.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted as sklearn_check_is_fitted

import dreg
from dreg.estimators import _sklearn_base
from dreg.estimators._sklearn_base import check_is_fitted

REGRESSORS = (
    dreg.ElasticNet,
    dreg.ElasticNetCV,
    dreg.Lasso,
    dreg.LassoCV,
    dreg.Ridge,
    dreg.RidgeCV,
    dreg.PoissonRegressor,
    dreg.PoissonRegressorCV,
)
CLASSIFIERS = (dreg.LogisticRegression, dreg.LogisticRegressionCV)
# estimators whose repr exercises sklearn's printer: defaults, NaN, floats, one long line,
# a long list (wrapped, cut at 30 items), a dict, an array, and the 700-character ellipsis
REPR_CASES = [
    dreg.Lasso(),
    dreg.Lasso(alpha=0.5, tol=float("nan"), fit_intercept=False),
    dreg.Ridge(alpha=1e-3, standardize=False, positive=True, max_iter=50, solver="cd", engine="gram", tol=1e-10),
    dreg.ElasticNetCV(l1_ratio=[0.1, 0.5, 0.9], alphas=list(np.geomspace(1, 1e-3, 40).round(4)), cv=KFold(3)),
    dreg.LassoCV(alphas=[0.5, 0.1], penalty_factor={"age": 0.0, "income": 2.5}, impute={"age": "mean", "x": 0.0}),
    dreg.Lasso(penalty_factor=np.arange(5.0), lower_bounds=(0.0,), upper_bounds=()),
    dreg.ElasticNet(penalty_factor={f"feature_number_{i}": float(i) for i in range(40)}),
    dreg.LogisticRegressionCV(l1_ratio=[0.5, 1.0], alphas=5, cv=3, scoring="auc"),
]


def run(script: str) -> dict:
    """The JSON the script prints last, run in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


JOB_PATH = """
import json, sys
import numpy as np
import dreg.estimators, dreg.job.pipeline
from dreg.core.glm import in_memory_pass
from dreg.core.stats import block_stats
from dreg.estimators import LassoCV, LogisticRegressionCV
from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict

rng = np.random.default_rng(7)
X = rng.standard_normal((300, 5))
y = X @ np.array([1.0, -2.0, 0.0, 0.0, 0.5]) + rng.standard_normal(300)
folds = np.arange(300) % 5
names = [f"x{j}" for j in range(5)]

def reload(est):
    return estimator_from_dict(json.loads(json.dumps(estimator_to_dict(est))))

lasso = LassoCV(alphas=20).fit_stats(block_stats(X, y, None, folds), names)
loaded = reload(lasso)
yb = (y > 0).astype(np.float64)
logit = LogisticRegressionCV(alphas=10).fit_passes(
    block_stats(X, yb, None, folds), names, in_memory_pass(X, yb, None, folds), np.array([0, 1])
)
logit_loaded = reload(logit)
out = {
    "equal": bool(np.array_equal(loaded.predict(X), lasso.predict(X))
                  and np.array_equal(logit_loaded.predict_proba(X), logit.predict_proba(X))),
    "repr": [repr(loaded), repr(logit_loaded.set_params(tol=1e-9))],
    "params": json.loads(json.dumps(loaded.get_params(), default=str)),
    "sklearn": sorted(m for m in sys.modules if m.split(".")[0] == "sklearn"),
}
"""


def test_the_job_path_imports_no_sklearn():
    out = run(JOB_PATH + "print(json.dumps(out))")
    assert out["sklearn"] == []
    assert out["equal"]
    # the stand-in repr and get_params are scikit-learn's
    assert out["repr"] == [repr(dreg.LassoCV(alphas=20)), repr(dreg.LogisticRegressionCV(alphas=10, tol=1e-9))]
    assert out["params"] == json.loads(json.dumps(dreg.LassoCV(alphas=20).get_params(), default=str))


def test_estimators_made_before_sklearn_is_imported_become_sklearn_estimators():
    out = run(
        JOB_PATH
        + """
tags = logit.__sklearn_tags__()  # the stand-in's: it imports scikit-learn on the way
before = {"type": tags.estimator_type, "classifier": tags.classifier_tags is not None, "nan": tags.input_tags.allow_nan}
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_classifier, is_regressor
out = {
    "before": before,
    "instance": isinstance(lasso, BaseEstimator) and isinstance(lasso, RegressorMixin),
    "roles": [is_regressor(loaded), is_classifier(logit), is_regressor(logit)],
    "clone": repr(clone(loaded)),
    "request": hasattr(lasso, "set_fit_request") and hasattr(logit, "set_predict_proba_request"),
}
print(json.dumps(out))
"""
    )
    assert out["before"] == {"type": "classifier", "classifier": True, "nan": False}
    assert out["instance"] and out["roles"] == [True, True, False] and out["request"]
    assert out["clone"] == "LassoCV(alphas=20)"


def test_sklearn_imported_first():
    out = run(
        """
        import json
        from sklearn.base import BaseEstimator, ClassifierMixin
        import dreg
        est = dreg.LogisticRegression()
        print(json.dumps([isinstance(est, BaseEstimator), isinstance(est, ClassifierMixin)]))
        """
    )
    assert out == [True, True]


# --------------------------------------------------------------------------- with scikit-learn
@pytest.mark.parametrize("cls", REGRESSORS + CLASSIFIERS)
def test_sklearn_sees_sklearn_estimators(cls):
    est = cls()
    assert isinstance(est, BaseEstimator)
    assert is_regressor(est) == (cls in REGRESSORS)
    assert is_classifier(est) == (cls in CLASSIFIERS)
    tags = get_tags(est)
    assert tags.target_tags.required and not tags.input_tags.allow_nan
    assert tags.target_tags.positive_only == cls.__name__.startswith("Poisson")


@pytest.mark.parametrize("est", REPR_CASES, ids=lambda e: type(e).__name__)
def test_stand_in_repr_is_sklearns(est):
    assert _sklearn_base._StandInEstimator.__repr__(est) == repr(est)


def test_repr_shows_the_changed_parameters():
    assert repr(dreg.LassoCV()) == "LassoCV()"
    assert repr(dreg.Ridge(alpha=0.5, fit_intercept=False)) == "Ridge(alpha=0.5, fit_intercept=False)"
    long = repr(REPR_CASES[3])
    assert long.splitlines()[1].startswith(" " * len("ElasticNetCV(")) and long.count("...") == 1


class _Outer(_sklearn_base.BaseEstimator):
    """An estimator-valued parameter, for the nested ``inner__alpha`` parameters."""

    def __init__(self, inner=None, scale: float = 1.0) -> None:
        self.inner = inner
        self.scale = scale

    def fit(self, X, y):
        return self


def test_stand_in_get_and_set_params_are_sklearns():
    stand_in = _sklearn_base._StandInEstimator
    for est in [*REPR_CASES, _Outer(dreg.Lasso(alpha=0.3))]:
        for deep in (True, False):
            assert stand_in.get_params(est, deep=deep) == BaseEstimator.get_params(est, deep=deep)
    a, b = _Outer(dreg.Lasso()), _Outer(dreg.Lasso())
    assert stand_in.set_params(a, inner__alpha=0.7, scale=2.0) is a
    BaseEstimator.set_params(b, inner__alpha=0.7, scale=2.0)
    assert repr(a) == repr(b) == "_Outer(inner=Lasso(alpha=0.7), scale=2.0)"
    for bad in ({"alpah": 1.0}, {"inner__alpah": 1.0}, {"nope__alpha": 1.0}):
        with pytest.raises(ValueError) as ours:
            stand_in.set_params(_Outer(dreg.Lasso()), **bad)
        with pytest.raises(ValueError) as theirs:
            BaseEstimator.set_params(_Outer(dreg.Lasso()), **bad)
        assert str(ours.value) == str(theirs.value)
        assert "Invalid parameter" in str(ours.value)


@pytest.mark.parametrize("attributes", [None, "coef_", ["coef_", "alpha_"]])
def test_check_is_fitted_is_sklearns(attributes):
    est = dreg.LassoCV(alphas=5)
    with pytest.raises(NotFittedError) as ours:
        check_is_fitted(est, attributes)
    with pytest.raises(NotFittedError) as theirs:
        sklearn_check_is_fitted(est, attributes)
    assert str(ours.value) == str(theirs.value)
    assert isinstance(ours.value, ValueError) and isinstance(ours.value, AttributeError)
    est.coef_ = np.zeros(2)
    check_is_fitted(est, attributes, all_or_any=any)
    with pytest.raises(TypeError, match="is a class, not an instance"):
        check_is_fitted(dreg.LassoCV)


def test_unfitted_predict_raises_sklearns_error(rng):
    with pytest.raises(NotFittedError, match="This LogisticRegressionCV instance is not fitted yet"):
        dreg.LogisticRegressionCV().predict(rng.standard_normal((3, 2)))


@pytest.fixture
def data(rng):
    X = rng.standard_normal((120, 4))
    y = X @ np.array([1.0, -0.5, 0.0, 2.0]) + 0.3 * rng.standard_normal(120)
    return X, y


def test_clone_pipeline_grid_search_and_pickle(data):
    X, y = data
    est = dreg.ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=10, cv=3).fit(X, y)
    twin = clone(est)
    assert twin is not est and repr(twin) == repr(est) and not hasattr(twin, "coef_")
    pipe = make_pipeline(StandardScaler(), dreg.Lasso(alpha=0.05)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    gs = GridSearchCV(dreg.Lasso(), {"alpha": [0.3, 0.01]}, cv=3).fit(X, y)
    assert gs.best_params_ == {"alpha": 0.01}
    labels = (y > 0).astype(int)
    gs = GridSearchCV(dreg.LogisticRegression(), {"alpha": [0.5, 0.001]}, cv=3, scoring="accuracy").fit(X, labels)
    assert gs.best_estimator_.score(X, labels) == pytest.approx(np.mean(gs.predict(X) == labels))
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_metadata_routing_routes_sample_weight(data):
    """With routing on, ``set_fit_request`` (scikit-learn's, added when the classes became its
    subclasses) sends the weights to fit and score; zero weights are dropped rows."""
    X, y = data
    w = np.ones(len(y))
    w[:30] = 0.0
    with sklearn.config_context(enable_metadata_routing=True):
        lasso = dreg.Lasso().set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        gs = GridSearchCV(lasso, {"alpha": [0.3, 0.01]}, cv=3).fit(X, y, sample_weight=w)
        assert gs.best_estimator_.get_metadata_routing().fit.requests == {"sample_weight": True}
    np.testing.assert_allclose(gs.best_estimator_.coef_, dreg.Lasso(alpha=0.01).fit(X[30:], y[30:]).coef_, atol=1e-8)
