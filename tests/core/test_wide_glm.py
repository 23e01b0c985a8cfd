"""The wide GLM engine (dreg.core.wide_glm) against the Gram engine's passes (dreg.core.glm) on the same rows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreg.core.glm import PassRequest, glm_block_pass, glm_fit, in_memory_pass
from dreg.core.penalty import Penalty
from dreg.core.wide import sparse_stats
from dreg.core.wide_glm import SparseGLMRows, sparse_glm_block_pass, wide_glm_fit


def problem(rng, family, n=400, p=40, density=0.1, signal=8):
    X = sp.random(n, p, density=density, format="csc", random_state=np.random.RandomState(rng.integers(2**31)))
    X = sp.csc_matrix(X * 2.0)
    beta = np.zeros(p)
    beta[:signal] = rng.normal(0.0, 1.0, signal)
    eta = X @ beta - 0.3
    if family == "binomial":
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n)
    folds = np.arange(n) % 4
    return X, y, w, folds


def both(X, y, w, folds, family, penalty, **kw):
    """The Gram engine's path on the dense rows and the wide engine's on the sparse rows."""
    K = np.unique(folds[folds >= 0])
    ref = glm_fit(sparse_stats(X, y, w, folds), family, penalty, in_memory_pass(X.toarray(), y, w, folds), folds=K, **kw)
    out = wide_glm_fit(SparseGLMRows(X, y, w, folds), family, penalty, folds=K, **kw)
    return ref, out


def assert_same_path(res, ref, atol=1e-6):
    np.testing.assert_allclose(res.alphas, ref.alphas, rtol=1e-12)
    scale = max(1.0, np.abs(ref.coef).max())
    np.testing.assert_allclose(res.coef, ref.coef, rtol=0, atol=atol * scale)
    np.testing.assert_allclose(res.fold_coef, ref.fold_coef, rtol=0, atol=atol * max(1.0, np.abs(ref.fold_coef).max()))
    np.testing.assert_allclose(res.intercept, ref.intercept, rtol=0, atol=atol * max(1.0, np.abs(ref.intercept).max()))
    np.testing.assert_allclose(res.deviance_path, ref.deviance_path, rtol=1e-6, atol=1e-9)
    assert res.converged.all() and ref.converged.all()


# --------------------------------------------------------------------------- the sparse pass
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_sparse_pass_equals_dense_pass(rng, family):
    X, y, w, folds = problem(rng, family, n=500, p=30)
    w[:7] = 0.0  # dropped rows
    folds = folds.copy()
    folds[::5] = -1
    p = X.shape[1]
    M = 5
    request = PassRequest(
        family=family,
        center=rng.normal(0.0, 0.3, p),
        scale=rng.uniform(0.5, 2.0, p),
        coef=rng.normal(0.0, 0.2, (M, p)),
        intercept=rng.normal(0.0, 0.2, M),
        hessian=np.array([0, 3]),
        held_label=np.array([0, 1, 2, 3, 0]),
        histogram=True,
    )
    ref = glm_block_pass(X.toarray(), y, w, folds, request)
    ours = sparse_glm_block_pass(X, y, w, folds, request)
    np.testing.assert_array_equal(ours.labels, ref.labels)
    np.testing.assert_array_equal(ours.count, ref.count)
    for name in ("weight_sum", "saturated", "loss", "grad", "hess", "correct", "hist"):
        a, b = getattr(ours, name), getattr(ref, name)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(b).max()), err_msg=name)


# --------------------------------------------------------------------------- the path
@pytest.mark.parametrize("family", ["binomial", "poisson"])
@pytest.mark.parametrize(("fit_intercept", "standardize"), [(True, True), (False, False), (True, False)])
def test_wide_path_equals_gram_path(rng, family, fit_intercept, standardize):
    X, y, w, folds = problem(rng, family, p=120, density=0.05)
    penalty = Penalty.make(X.shape[1], 0.8)
    ref, out = both(X, y, w, folds, family, penalty, alphas=12, eps=0.1, fit_intercept=fit_intercept,
                    standardize=standardize, tol=1e-10, auc=family == "binomial")  # fmt: skip
    assert_same_path(out.path, ref)
    if family == "binomial":
        np.testing.assert_allclose(out.path.auc_path, ref.auc_path, atol=1e-9)
    # 120 features, a first working set of 64: at least one round admitted features by the KKT check
    assert out.n_rounds >= 2 and out.working_set.size > 64
    assert out.n_passes > out.path.n_passes - 1 >= 0
    # every zero outside the working set satisfies the KKT conditions of the full problem
    outside = np.setdiff1d(np.arange(X.shape[1]), out.working_set)
    assert np.all(out.path.coef[..., outside] == 0.0)


def test_penalty_factor_bounds_and_several_l1_ratios(rng):
    X, y, w, folds = problem(rng, "binomial", p=90, density=0.08)
    p = X.shape[1]
    pf = np.ones(p)
    pf[[4, 70]] = 0.0  # unpenalized: in the first working set, and in the grid's alpha_max
    pf[5] = 2.5
    penalty = Penalty.make(p, 1.0, penalty_factor=pf, lower=np.where(np.arange(p) % 3 == 0, 0.0, -np.inf))
    ref, out = both(X, y, w, folds, "binomial", penalty, l1_ratios=[0.3, 1.0], alphas=8, eps=0.05, tol=1e-10)
    assert_same_path(out.path, ref)
    assert {4, 70} <= set(out.working_set.tolist())
    coef = out.path.coef
    assert np.all(coef[..., 4] != 0.0) and np.all(coef[..., np.arange(p) % 3 == 0] >= 0.0)


def test_explicit_grid_and_single_fit(rng):
    X, y, w, _ = problem(rng, "poisson", p=80)
    penalty = Penalty.make(X.shape[1], 0.5)
    grid = np.array([0.02, 0.005])
    ref = glm_fit(sparse_stats(X, y, w, None), "poisson", penalty, in_memory_pass(X.toarray(), y, w, None), alphas=grid,
                  tol=1e-10)  # fmt: skip
    out = wide_glm_fit(SparseGLMRows(X, y, w), "poisson", penalty, alphas=grid, tol=1e-10)
    np.testing.assert_allclose(out.path.alphas, [grid, grid][:1])
    np.testing.assert_allclose(out.path.coef, ref.coef, atol=1e-7)
    assert out.path.fold_coef.shape == (1, 2, 0, 80)


def test_working_set_beyond_the_budget_is_an_error(rng):
    X, y, w, folds = problem(rng, "binomial", p=120, density=0.05)
    with pytest.raises(ValueError, match=r"working set of \d+ features needs [\d,]+ bytes .* more than max_gram_bytes=100,000"):
        wide_glm_fit(SparseGLMRows(X, y, w, folds), "binomial", Penalty.make(120, 1.0), folds=np.arange(4),
                     alphas=5, max_gram_bytes=100_000)  # fmt: skip


def test_one_class_fold_is_an_error(rng):
    X, y, w, folds = problem(rng, "binomial", p=20)
    y[folds != 0] = 1.0
    with pytest.raises(ValueError, match="hold one class only"):
        wide_glm_fit(SparseGLMRows(X, y, w, folds), "binomial", Penalty.make(20, 1.0), folds=np.arange(4), alphas=3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**31 - 1),
    family=st.sampled_from(["binomial", "poisson"]),
    p=st.integers(2, 90),
    l1_ratio=st.sampled_from([1.0, 0.5]),
    weighted=st.booleans(),
)
def test_property_wide_equals_gram(seed, family, p, l1_ratio, weighted):
    rng = np.random.default_rng(seed)
    X, y, w, folds = problem(rng, family, n=240, p=p, density=0.1, signal=min(p, 5))
    if not weighted:
        w = None
    for k in range(4):  # both classes in every training fold
        if family == "binomial" and np.ptp(y[folds != k]) == 0:
            return
    ref, out = both(X, y, w, folds, family, Penalty.make(p, l1_ratio), alphas=6, eps=0.1, tol=1e-10)
    assert_same_path(out.path, ref, atol=1e-5)


def test_module_is_pure():
    code = (
        "import sys, dreg.core.wide_glm\n"
        "print([m for m in ('dask', 'distributed', 'sklearn', 'pandas', 'pyarrow') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
