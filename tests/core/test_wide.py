"""The wide engine (dreg.core.wide): oracle, working-set path and CV against the dense Gram engine."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreg.core.cv import cross_validate
from dreg.core.path import alpha_grid, enet_path
from dreg.core.penalty import Penalty
from dreg.core.problem import make_problem
from dreg.core.solvers import cd_path
from dreg.core.solvers.cd_sparse import cd_sparse_path
from dreg.core.stats import block_stats, collapse
from dreg.core.wide import SparseOracle, WideProblem, sparse_stats, wide_cross_validate, wide_path


def sparse_problem(rng, n=240, p=60, density=0.08, folds=4, constant=True):
    """Sparse X with a constant column, means far from zero in a few columns, weights and folds (-1 too)."""
    X = sp.random(n, p, density=density, format="lil", random_state=np.random.RandomState(rng.integers(2**31)))
    if constant:
        X[:, 0] = 3.0  # constant: coefficient 0
    X[:, 1] = (rng.standard_normal(n) + 5.0)[:, None]  # a dense column with a large mean
    X = sp.csc_matrix(X)
    beta = np.zeros(p)
    beta[1:7] = [0.5, -2.0, 3.0, 1.5, -1.0, 2.0]
    y = X @ beta + 0.5 * rng.standard_normal(n) + 2.0
    w = rng.uniform(0.5, 2.0, n)
    labels = rng.integers(-1, folds, n)
    return X, y, w, labels


def dense_path(X, y, w, alphas, penalty, fit_intercept=True, standardize=True):
    problem = make_problem(collapse(block_stats(X.toarray(), y, w)), fit_intercept, standardize)
    return problem, enet_path(problem, alphas, penalty)


def assert_coef_close(a, b, rtol):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-12))


# --------------------------------------------------------------------------- the oracle
def test_sparse_stats_equal_the_dense_statistics(rng):
    X, y, w, labels = sparse_problem(rng)
    dense = block_stats(X.toarray(), y, w, labels)
    ours = sparse_stats(X, y, w, labels)
    np.testing.assert_array_equal(ours.labels, dense.labels)
    np.testing.assert_array_equal(ours.count, dense.count)
    for name in ("weight_sum", "x_mean", "y_mean", "xx", "xy", "yy"):
        np.testing.assert_allclose(getattr(ours, name), getattr(dense, name), rtol=1e-11, atol=1e-10, err_msg=name)
    single = sparse_stats(X, y)  # no labels: every row under label 0, as block_stats
    np.testing.assert_array_equal(single.labels, [0])
    np.testing.assert_allclose(single.xx, block_stats(X.toarray(), y).xx, rtol=1e-11, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_oracle_answers_equal_dense_computations(rng, fit_intercept):
    X, y, w, labels = sparse_problem(rng)
    Xd = X.toarray()
    oracle = SparseOracle(X, y, w, labels, fit_intercept=fit_intercept)
    mom = oracle.moments()
    held = np.unique(labels[labels >= 0])
    assert oracle.n_models == held.size + 1 and mom.fold_labels.tolist() == held.tolist()
    coef = rng.standard_normal((oracle.n_models, X.shape[1])) * (rng.random((oracle.n_models, X.shape[1])) < 0.3)
    intercept = rng.standard_normal(oracle.n_models)
    answer = oracle.gradients(coef, intercept)
    rows_, cols_ = np.array([3, 1, 7, 20]), np.array([1, 20, 33])
    blocks = oracle.gram_block(rows_, cols_)
    for m in range(oracle.n_models):
        train = labels != held[m] if m < held.size else np.ones(X.shape[0], dtype=bool)
        Xm, ym, wm = Xd[train], y[train], w[train]
        W = wm.sum()
        xbar = wm @ Xm / W if fit_intercept else np.zeros(X.shape[1])
        ybar = wm @ ym / W if fit_intercept else 0.0
        Xc = Xm - xbar
        np.testing.assert_allclose(mom.weight_sum[m], W, rtol=1e-13)
        np.testing.assert_allclose(mom.x_mean[m], xbar, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(mom.xx_diag[m], wm @ Xc**2, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(mom.xy[m], Xc.T @ (wm * (ym - ybar)), rtol=1e-10, atol=1e-10)
        r = ym - Xm @ coef[m] - intercept[m]
        np.testing.assert_allclose(answer.grad[m], Xc.T @ (wm * r), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(answer.train_loss[m], wm @ r**2 / W, rtol=1e-12)
        if m < held.size:
            te = labels == held[m]
            rt = y[te] - Xd[te] @ coef[m] - intercept[m]
            np.testing.assert_allclose(answer.held_out_loss[m], w[te] @ rt**2 / w[te].sum(), rtol=1e-12)
        else:
            assert np.isnan(answer.held_out_loss[m])
        raw = (Xm[:, rows_] * wm[:, None]).T @ Xm[:, cols_]
        np.testing.assert_allclose(blocks[m].toarray(), raw, rtol=1e-12, atol=1e-12)


def test_working_set_blocks_equal_the_dense_gram(rng):
    """Admitted in three batches, the blocks are Q[W, W] of make_problem: A - v v^T, sorted."""
    X, y, w, labels = sparse_problem(rng)
    problem = WideProblem(SparseOracle(X, y, w, labels))
    for batch in ([5, 2, 40], [7, 2, 33, 59], list(range(10, 20))):
        problem.admit(np.array(batch))
    W = problem.work
    assert W.tolist() == [2, 5, 40, 7, 33, 59, *range(10, 20)]
    held = np.unique(labels[labels >= 0])
    for m in range(problem.n_models):
        rows = labels != held[m] if m < held.size else np.ones(X.shape[0], dtype=bool)
        dense = make_problem(block_stats(X.toarray()[rows], y[rows], w[rows]), True, True)
        A = problem.A[m]
        assert A.has_sorted_indices
        np.testing.assert_allclose(A.toarray(), A.toarray().T, rtol=1e-13, atol=1e-15)  # symmetric to rounding
        v = problem.v_all[m, W]
        np.testing.assert_allclose(A.toarray() - np.outer(v, v), dense.Q[np.ix_(W, W)], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(problem.q[m], dense.q, rtol=1e-10, atol=1e-12)
    assert problem.n_passes == 4  # the moments and three Gram-block passes
    assert problem.gram_nbytes > 0


# --------------------------------------------------------------------------- the path
@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_path_equals_the_gram_engine(rng, standardize, fit_intercept):
    X, y, w, _ = sparse_problem(rng)
    p = X.shape[1]
    penalty = Penalty.make(p, 0.8)
    problem, _ = dense_path(X, y, w, np.ones(1), penalty, fit_intercept, standardize)
    alphas = alpha_grid(problem, penalty, 25)
    _, dense = dense_path(X, y, w, alphas, penalty, fit_intercept, standardize)
    wide = WideProblem(SparseOracle(X, y, w, fit_intercept=fit_intercept), standardize=standardize)
    np.testing.assert_allclose(wide.alpha_grid(penalty, 25), alphas, rtol=1e-12)
    res = wide_path(wide, alphas, penalty)
    assert res.converged.all()
    assert_coef_close(res.coef[:, -1], dense.coef, 1e-8)
    np.testing.assert_allclose(res.intercept[:, -1], dense.intercept, rtol=1e-8, atol=1e-8)
    if fit_intercept:
        assert np.all(res.coef[:, -1, 0] == 0.0)  # the constant column (without an intercept, it is one)
    assert np.all(res.passes >= 1) and res.working_set[-1] <= p
    path = res.model_path()
    assert path.coef.shape == (25, p) and path.solver == "cd"


def test_kkt_holds_at_every_alpha_on_the_full_problem(rng):
    X, y, w, _ = sparse_problem(rng, n=300, p=120, density=0.05)
    p = X.shape[1]
    penalty = Penalty.make(p, 1.0)
    problem = make_problem(collapse(block_stats(X.toarray(), y, w)), True, True)
    alphas = alpha_grid(problem, penalty, 30)
    res = wide_path(WideProblem(SparseOracle(X, y, w)), alphas, penalty)
    scale = max(np.abs(problem.q).max(), np.sqrt(problem.yy))
    for i, alpha in enumerate(alphas):
        coef_std = problem.to_standardized(res.coef[i, -1])
        v = penalty.standardized(problem.scale).kkt_violation(problem.Q, problem.q, coef_std, alpha)
        assert v.max() <= 1e-9 * scale, (i, v.max())
        assert res.kkt[i, -1] <= 1e-9 * scale
    # the check itself fails on a wrong answer
    wrong = problem.to_standardized(res.coef[15, -1]) * 1.01
    v = penalty.standardized(problem.scale).kkt_violation(problem.Q, problem.q, wrong, alphas[15])
    assert v.max() > 1e-6 * scale


def test_penalty_factor_zero_and_bounds_equal_the_gram_engine(rng):
    X, y, w, _ = sparse_problem(rng)
    p = X.shape[1]
    pf = np.ones(p)
    pf[[3, 6]] = 0.0  # unpenalized: in the working set from the start
    lower = np.zeros(p)  # positive=True
    upper = np.full(p, np.inf)
    upper[4] = 0.7
    penalty = Penalty(1.0, pf, lower, upper)
    problem, _ = dense_path(X, y, w, np.ones(1), penalty)
    alphas = alpha_grid(problem, penalty, 20)
    _, dense = dense_path(X, y, w, alphas, penalty)
    wide = WideProblem(SparseOracle(X, y, w))
    assert wide.alpha_max(penalty) == pytest.approx(penalty.alpha_max(problem), rel=1e-10)
    res = wide_path(wide, alphas, penalty)
    assert_coef_close(res.coef[:, -1], dense.coef, 1e-8)
    assert np.all(res.coef[:, -1] >= 0.0) and np.all(res.coef[:, -1, 4] <= 0.7 + 1e-15)
    assert np.all(res.coef[:, -1, [3, 6]] > 0.0)


def test_ridge_grid_and_path_equal_the_gram_engine(rng):
    X, y, w, _ = sparse_problem(rng, p=30)
    penalty = Penalty.make(30, 0.0)
    problem, _ = dense_path(X, y, w, np.ones(1), penalty)
    alphas = alpha_grid(problem, penalty, 8)
    _, dense = dense_path(X, y, w, alphas, penalty)
    wide = WideProblem(SparseOracle(X, y, w))
    np.testing.assert_allclose(wide.alpha_grid(penalty, 8), alphas, rtol=1e-12)
    res = wide_path(wide, alphas, penalty)
    assert_coef_close(res.coef[:, -1], dense.coef, 1e-8)


@pytest.mark.parametrize("standardize", [True, False])
def test_wide_cross_validate_equals_cross_validate(rng, standardize):
    X, y, w, labels = sparse_problem(rng)
    p = X.shape[1]
    penalty = Penalty.make(p, 1.0)
    dense = cross_validate(block_stats(X.toarray(), y, w, labels), penalty, l1_ratios=[0.5, 1.0], alphas=20,
                           standardize=standardize)  # fmt: skip
    res = wide_cross_validate(SparseOracle(X, y, w, labels), penalty, l1_ratios=[0.5, 1.0], alphas=20,
                              standardize=standardize)  # fmt: skip
    cv = res.cv
    np.testing.assert_allclose(cv.alphas, dense.alphas, rtol=1e-12)
    np.testing.assert_array_equal(cv.fold_labels, dense.fold_labels)
    np.testing.assert_allclose(cv.mse_path, dense.mse_path, rtol=1e-8)
    np.testing.assert_allclose(cv.train_mse_path, dense.train_mse_path, rtol=1e-8)
    assert (cv.best_l1_index, cv.best_alpha_index, cv.alpha_1se_index) == (
        dense.best_l1_index, dense.best_alpha_index, dense.alpha_1se_index,
    )  # fmt: skip
    assert_coef_close(cv.fold_coef, dense.fold_coef, 1e-7)
    # the all-rows path comes with it: the dense refit along the chosen grid
    problem = make_problem(collapse(block_stats(X.toarray(), y, w)), True, standardize)
    refit = enet_path(problem, cv.alphas[cv.best_l1_index], penalty.with_l1_ratio(cv.l1_ratio))
    assert_coef_close(res.path.coef, refit.coef, 1e-8)
    assert res.passes.shape == (2, 20) and res.n_passes >= res.passes.sum()


def test_fold_checks_and_explicit_grid(rng):
    X, y, w, _ = sparse_problem(rng)
    penalty = Penalty.make(X.shape[1], 1.0)
    with pytest.raises(ValueError, match="at least 2 folds"):
        wide_cross_validate(SparseOracle(X, y, w, np.zeros(X.shape[0], dtype=int)), penalty)
    labels = np.zeros(X.shape[0], dtype=int)
    labels[0] = 1
    with pytest.raises(ValueError, match=r"fold\(s\) \[1\] have fewer than 2 rows"):
        wide_cross_validate(SparseOracle(X, y, w, labels), penalty)
    grid = [0.01, 0.1, 0.05]
    res = wide_cross_validate(SparseOracle(X, y, w, np.arange(X.shape[0]) % 3), penalty, alphas=grid)
    np.testing.assert_array_equal(res.cv.alphas[0], [0.1, 0.05, 0.01])


def test_working_set_beyond_max_gram_bytes_raises(rng):
    X, y, w, _ = sparse_problem(rng)
    penalty = Penalty.make(X.shape[1], 1.0)
    problem = WideProblem(SparseOracle(X, y, w), max_gram_bytes=2_000)
    with pytest.raises(ValueError, match=r"working set would grow to \d+ features.*max_gram_bytes=2,000"):
        wide_path(problem, problem.alpha_grid(penalty, 20), penalty)


def test_cd_sparse_equals_cd_on_the_dense_matrix(rng):
    n, p = 200, 25
    X = rng.standard_normal((n, p)) + rng.uniform(-2, 2, p)
    y = X[:, :4] @ [1.0, -2.0, 0.5, 3.0] + rng.standard_normal(n)
    xbar, sd = X.mean(0), X.std(0)
    A = sp.csc_matrix((X / sd).T @ (X / sd) / n)
    v = xbar / sd
    Q = A.toarray() - np.outer(v, v)
    q = ((X - xbar) / sd).T @ (y - y.mean()) / n
    pen = Penalty.make(p, 0.7, lower=-0.5)
    alphas = np.geomspace(1.0, 1e-3, 12)
    ours = cd_sparse_path(A, v, np.diag(Q), q, alphas, pen, yy=float(y.var()))
    ref = cd_path(Q, q, alphas, pen, yy=float(y.var()))
    assert ours.converged.all()
    assert_coef_close(ours.coef, ref.coef, 1e-8)
    assert ours.kkt.max() <= 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(12, 60),
    p=st.integers(1, 25),
    density=st.floats(0.05, 0.6),
    l1_ratio=st.sampled_from([1.0, 0.5]),
    standardize=st.booleans(),
    weighted=st.booleans(),
)
def test_property_wide_equals_gram(seed, n, p, density, l1_ratio, standardize, weighted):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csc", random_state=np.random.RandomState(seed % 2**31))
    y = rng.standard_normal(n) + X @ rng.standard_normal(p)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    penalty = Penalty.make(p, l1_ratio)
    problem = make_problem(collapse(block_stats(X.toarray(), y, w)), True, standardize)
    alphas = alpha_grid(problem, penalty, 10, eps=1e-2)
    dense = enet_path(problem, alphas, penalty)
    res = wide_path(WideProblem(SparseOracle(X, y, w), standardize=standardize), alphas, penalty)
    # duplicated columns (one stored value in the same row) make lasso coefficients non-unique:
    # compare the fitted values, unique for any l1_ratio, and optimality on the dense problem
    fit_wide = X @ res.coef[:, -1].T + res.intercept[:, -1]
    fit_dense = X @ dense.coef.T + dense.intercept
    np.testing.assert_allclose(fit_wide, fit_dense, atol=1e-7 * max(1.0, np.abs(fit_dense).max()))
    scale = max(np.abs(problem.q).max(initial=0.0), np.sqrt(problem.yy))
    std_penalty = penalty.standardized(problem.scale)
    for i, alpha in enumerate(alphas):
        v = std_penalty.kkt_violation(problem.Q, problem.q, problem.to_standardized(res.coef[i, -1]), alpha)
        assert v.max(initial=0.0) <= 1e-8 * scale
    if l1_ratio < 1.0:  # strictly convex: the coefficients are unique too
        np.testing.assert_allclose(res.coef[:, -1], dense.coef, atol=1e-7 * max(1.0, np.abs(dense.coef).max()))


def test_wide_module_is_pure():
    code = (
        "import sys, dreg.core.wide, dreg.core.solvers.cd_sparse\n"
        "bad = [m for m in ('dask', 'distributed', 'sklearn', 'pandas', 'pyarrow') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
