"""Gram-matrix solvers (dreg.core.solvers) and the path helpers that drive them (dreg.core.path).

Every check is on optimality itself (KKT), on agreement of two independent
solvers, or on a closed form; none trusts a solver's own ``converged`` flag.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg.core.path import alpha_grid, alpha_max, choose_solver, enet_path
from dreg.core.penalty import Penalty
from dreg.core.problem import make_problem
from dreg.core.solvers import admm_path, cd_path, kkt_violation, objective, polish, ridge_path
from dreg.core.stats import block_stats

KINDS = ("iid", "correlated", "collinear", "wide")


def design(
    rng: np.random.Generator, kind: str, n: int = 80, p: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Random regression data of a given difficulty."""
    if kind == "wide":
        n = p // 2 + 3
    if kind == "correlated":
        # AR(1) with rho = 0.95: condition number in the hundreds
        idx = np.arange(p)
        C = 0.95 ** np.abs(idx[:, None] - idx[None, :])
        X = rng.standard_normal((n, p)) @ np.linalg.cholesky(C).T
    else:
        X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.uniform(-2, 2, p)
    if kind == "collinear":
        X[:, 1] = X[:, 0]  # exact duplicate
        X[:, 2] = X[:, 3] - 2.0 * X[:, 4]  # exact linear combination
    beta = np.zeros(p)
    beta[: p // 2] = rng.uniform(-2, 2, p // 2)
    y = X @ beta + 0.5 * rng.standard_normal(n) + 1.0
    return X, y


def gram(rng, kind, standardize=True, n=80, p=8):
    X, y = design(rng, kind, n, p)
    prob = make_problem(block_stats(X, y), fit_intercept=True, standardize=standardize)
    assert not prob.constant.any()
    return prob


def bounds_for(rng, p, kind):
    if kind == "none":
        return np.full(p, -np.inf), np.full(p, np.inf)
    if kind == "positive":
        return np.zeros(p), np.full(p, np.inf)
    lower = -rng.uniform(0.0, 0.4, p)
    upper = rng.uniform(0.0, 0.4, p)
    lower[::3] = -np.inf
    upper[1::3] = np.inf
    return lower, upper


def penalty_for(rng, p, kind):
    if kind == "ones":
        return np.ones(p)
    if kind == "zeros":
        pf = rng.uniform(0.5, 2.0, p)
        pf[[0, 5]] = 0.0  # unpenalized features (not among the collinear ones)
        return pf
    return rng.uniform(0.2, 3.0, p)


def max_kkt(Q, q, b, alpha, l1_ratio, pf, lower, upper) -> float:
    l1 = alpha * l1_ratio * pf
    l2 = alpha * (1 - l1_ratio) * pf
    return float(kkt_violation(Q, q, b, l1, l2, lower, upper).max())


def is_strictly_convex(Q, alpha, l1_ratio, pf) -> bool:
    lam = np.linalg.eigvalsh(Q + np.diag(alpha * (1 - l1_ratio) * pf))
    return lam.min() > 1e-6 * lam.max()


def path_alphas(prob, l1_ratio, pf, lower, upper, n=8):
    """The default grid: alpha_max down to 1e-4 alpha_max (1e-2 when n <= p)."""
    top = alpha_max(prob, Penalty.broadcast(l1_ratio, pf, lower, upper))
    if top == 0.0:
        # e.g. positive=True and every correlation negative: 0 is optimal for all alphas
        return np.geomspace(1.0, 1e-3, n)
    return alpha_grid(prob, Penalty.broadcast(l1_ratio, pf, lower, upper), n_alphas=n)


solver_cases = st.tuples(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.sampled_from(KINDS),
    st.sampled_from([1.0, 0.7, 0.1]),
    st.sampled_from(["ones", "zeros", "random"]),
    st.sampled_from(["none", "positive", "box"]),
)


# --------------------------------------------------------------------------- optimality
def check_optimal_and_agree(
    prob, alphas, l1_ratio, pf, lower, upper, cd_coef, admm_coef, cd_kkt, admm_kkt
):
    """KKT of both solutions, honest reported KKT, equal objective and coefficients."""
    Q, q = prob.Q, prob.q
    scale = np.max(np.abs(q))
    for i, a in enumerate(alphas):
        unique = is_strictly_convex(Q, a, l1_ratio, pf)
        # a singular support system (collinear lasso) cannot be polished exactly,
        # so there the iterative accuracy (tol 1e-7, tightened 1e-9) is all there is
        limit = 1e-8 if unique else 1e-7
        for b, reported in ((cd_coef[i], cd_kkt[i]), (admm_coef[i], admm_kkt[i])):
            assert np.all(b >= lower) and np.all(b <= upper)
            v = max_kkt(Q, q, b, a, l1_ratio, pf, lower, upper)
            assert v < limit * scale
            assert reported == pytest.approx(
                v, abs=1e-12 * scale
            )  # the reported KKT is the real one
        l1 = a * l1_ratio * pf
        l2 = a * (1 - l1_ratio) * pf
        f_cd = objective(Q, q, cd_coef[i], l1, l2)
        f_admm = objective(Q, q, admm_coef[i], l1, l2)
        assert f_cd == pytest.approx(f_admm, rel=1e-10, abs=1e-12 * prob.yy)
        d = cd_coef[i] - admm_coef[i]
        if unique:
            # standardized coefficients are in units of y: sqrt(yy) sets the absolute scale
            # (ADMM reaches a zero that sits exactly on the kink, as at alpha_max, only linearly)
            np.testing.assert_allclose(
                cd_coef[i], admm_coef[i], rtol=1e-8, atol=1e-8 * np.sqrt(prob.yy)
            )
        else:
            # e.g. the lasso on duplicated columns: coefficients may differ, fitted values may not
            assert d @ Q @ d <= 1e-14 * max(prob.yy, 1e-300)


@settings(max_examples=40, deadline=None)
@given(solver_cases)
def test_cd_and_admm_satisfy_kkt_and_agree(case):
    seed, kind, l1_ratio, pf_kind, bound_kind = case
    rng = np.random.default_rng(seed)
    # unstandardized (scale 1, features of different spreads), so that the
    # coefficients at a bound compare exactly with the bound
    prob = gram(rng, kind, standardize=False)
    p = prob.n_features
    pf = penalty_for(rng, p, pf_kind)
    lower, upper = bounds_for(rng, p, bound_kind)
    alphas = path_alphas(prob, l1_ratio, pf, lower, upper)

    # rank-deficient lasso (n < p) can need ~2e4 sweeps on a flat direction:
    # allow them, then demand convergence everywhere
    it = 200_000
    # the public path (from alpha_max, unpenalized features fitted first) ...
    runs = {
        s: enet_path(prob, alphas, Penalty.broadcast(l1_ratio, pf, lower, upper), solver=s, max_iter=it)
        for s in ("cd", "admm")
    }
    assert runs["cd"].solver == "cd" and runs["admm"].solver == "admm"
    assert runs["cd"].converged.all() and runs["admm"].converged.all()
    check_optimal_and_agree(
        prob,
        alphas,
        l1_ratio,
        pf,
        lower,
        upper,
        runs["cd"].coef,
        runs["admm"].coef,
        runs["cd"].kkt,
        runs["admm"].kkt,
    )
    # ... and the bare solvers from a cold start, below alpha_max
    below = alphas[1:]
    cd = cd_path(prob.Q, prob.q, below, Penalty.broadcast(l1_ratio, pf, lower, upper), yy=prob.yy, max_iter=it)
    admm = admm_path(prob.Q, prob.q, below, Penalty.broadcast(l1_ratio, pf, lower, upper), yy=prob.yy, max_iter=it)
    assert cd.converged.all() and admm.converged.all()
    check_optimal_and_agree(
        prob, below, l1_ratio, pf, lower, upper, cd.coef, admm.coef, cd.kkt, admm.kkt
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_objective_not_improved_by_feasible_perturbations(rng, kind, l1_ratio):
    prob = gram(rng, kind)
    p = prob.n_features
    pf = penalty_for(rng, p, "zeros")
    lower, upper = bounds_for(rng, p, "box")
    top = alpha_max(prob, Penalty.broadcast(l1_ratio, pf, lower, upper))
    for alpha in (0.5 * top, 0.05 * top, 0.002 * top):
        sol = cd_path(prob.Q, prob.q, np.array([alpha]), Penalty.broadcast(l1_ratio, pf, lower, upper), yy=prob.yy)
        b = sol.coef[0]
        l1, l2 = alpha * l1_ratio * pf, alpha * (1 - l1_ratio) * pf
        f0 = objective(prob.Q, prob.q, b, l1, l2)
        for size in (1e-2, 1e-4, 1e-6):
            for _ in range(20):
                trial = np.clip(b + size * rng.standard_normal(p), lower, upper)
                assert objective(prob.Q, prob.q, trial, l1, l2) >= f0 - 1e-13 * max(
                    abs(f0), prob.yy
                )
            for j in range(p):  # coordinate moves, where optimality is sharpest
                for sgn in (-1.0, 1.0):
                    trial = b.copy()
                    trial[j] = np.clip(trial[j] + sgn * size, lower[j], upper[j])
                    assert objective(prob.Q, prob.q, trial, l1, l2) >= f0 - 1e-13 * max(
                        abs(f0), prob.yy
                    )


def test_unpenalized_least_squares_at_alpha_zero(rng):
    prob = gram(rng, "correlated")
    p = prob.n_features
    inf = np.full(p, np.inf)
    exact = np.linalg.solve(prob.Q, prob.q)
    for solver in (cd_path, admm_path):
        sol = solver(prob.Q, prob.q, np.array([0.0]), Penalty.broadcast(1.0, np.ones(p), -inf, inf), yy=prob.yy)
        np.testing.assert_allclose(sol.coef[0], exact, rtol=1e-9, atol=1e-12)


def test_warm_start_gives_the_same_solution(rng):
    prob = gram(rng, "iid")
    p = prob.n_features
    pf = np.ones(p)
    lower, upper = np.full(p, -np.inf), np.full(p, np.inf)
    alpha = np.array([0.01 * alpha_max(prob, Penalty.broadcast(1.0, pf, lower, upper))])
    cold = cd_path(prob.Q, prob.q, alpha, Penalty.broadcast(1.0, pf, lower, upper), yy=prob.yy)
    warm = cd_path(prob.Q, prob.q, alpha, Penalty.broadcast(1.0, pf, lower, upper), yy=prob.yy, coef_init=cold.coef[0] + rng.standard_normal(p))
    np.testing.assert_allclose(warm.coef[0], cold.coef[0], rtol=1e-9, atol=1e-12)
    admm = admm_path(prob.Q, prob.q, alpha, Penalty.broadcast(1.0, pf, lower, upper), yy=prob.yy, coef_init=cold.coef[0])
    np.testing.assert_allclose(admm.coef[0], cold.coef[0], rtol=1e-9, atol=1e-12)


def test_polish_solves_the_support_system_exactly(rng):
    prob = gram(rng, "iid")
    p = prob.n_features
    pf = np.ones(p)
    inf = np.full(p, np.inf)
    alpha = 0.05 * alpha_max(prob, Penalty.broadcast(1.0, pf, -inf, inf))
    l1 = alpha * pf
    l2 = np.zeros(p)
    exact = cd_path(prob.Q, prob.q, np.array([alpha]), Penalty.broadcast(1.0, pf, -inf, inf), yy=prob.yy).coef[0]
    rough = exact + 1e-4 * rng.standard_normal(p) * (exact != 0)
    polished = polish(prob.Q, prob.q, rough, l1, l2, -inf, inf)
    assert polished is not None
    np.testing.assert_allclose(polished, exact, rtol=1e-10, atol=1e-14)
    # a sign pattern that the solution leaves is rejected
    wrong = -exact
    assert polish(prob.Q, prob.q, wrong, l1, l2, -inf, inf) is None
    assert polish(prob.Q, prob.q, np.zeros(p), l1, l2, -inf, inf) is None


# --------------------------------------------------------------------------- alpha_max
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("pf_kind", ["ones", "zeros"])
@pytest.mark.parametrize("bound_kind", ["none", "positive"])
@pytest.mark.parametrize("solver", ["cd", "admm"])
def test_zero_at_alpha_max_and_nonzero_just_below(rng, kind, l1_ratio, pf_kind, bound_kind, solver):
    prob = gram(rng, kind)
    p = prob.n_features
    pf = penalty_for(rng, p, pf_kind)
    lower, upper = bounds_for(rng, p, bound_kind)
    penalized = pf > 0
    top = alpha_max(prob, Penalty.broadcast(l1_ratio, pf, lower, upper))
    if top == 0.0:
        # positive=True and no penalized feature correlates positively with the
        # residual of the unpenalized fit: zero is optimal for every alpha
        assert bound_kind == "positive"
        res = enet_path(prob, np.geomspace(1.0, 1e-4, 5), Penalty.broadcast(l1_ratio, pf, lower, upper), solver=solver)
        assert np.all(res.coef[:, penalized] == 0.0)
        return
    alphas = np.array([top, top * (1 - 1e-6), top * 0.99])
    res = enet_path(prob, alphas, Penalty.broadcast(l1_ratio, pf, lower, upper), solver=solver)
    coef_std = res.coef * prob.scale
    if solver == "cd":
        assert np.all(coef_std[0, penalized] == 0.0)
    else:
        # at alpha_max the zero sits on the kink with no margin, which ADMM
        # approaches only linearly; a little above it the zero is exact
        assert np.all(np.abs(coef_std[0, penalized]) <= 1e-8 * np.sqrt(prob.yy))
        above = enet_path(prob, np.array([top * (1 + 1e-6)]), Penalty.broadcast(l1_ratio, pf, lower, upper), solver=solver)
        assert np.all(above.coef[0, penalized] == 0.0)
    if pf_kind == "zeros" and bound_kind == "none":
        # at alpha_max the unpenalized features hold their least-squares fit
        U = ~penalized
        ls = np.linalg.solve(prob.Q[np.ix_(U, U)], prob.q[U])
        np.testing.assert_allclose(
            coef_std[0, U], ls, rtol=1e-9, atol=0 if solver == "cd" else 1e-8 * np.sqrt(prob.yy)
        )
    assert np.any(coef_std[1, penalized] != 0.0)
    assert np.any(coef_std[2, penalized] != 0.0)


def test_alpha_max_matches_the_lasso_closed_form(rng):
    X, y = design(rng, "iid")
    prob = make_problem(block_stats(X, y), standardize=False)
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    inf = np.full(p, np.inf)
    assert alpha_max(prob, Penalty.broadcast(1.0, np.ones(p), -inf, inf)) == pytest.approx(
        np.max(np.abs(Xc.T @ yc)) / n, rel=1e-11
    )
    assert alpha_max(prob, Penalty.broadcast(0.25, np.ones(p), -inf, inf)) == pytest.approx(
        np.max(np.abs(Xc.T @ yc)) / n / 0.25, rel=1e-11
    )
    # positive=True only counts positive correlations
    assert alpha_max(prob, Penalty.broadcast(1.0, np.ones(p), np.zeros(p), inf)) == pytest.approx(
        max(np.max(Xc.T @ yc), 0) / n, rel=1e-11
    )
    # nothing penalized: nothing to shrink
    assert alpha_max(prob, Penalty.broadcast(1.0, np.zeros(p), -inf, inf)) == 0.0


def test_alpha_grid(rng):
    prob = gram(rng, "iid")
    p = prob.n_features
    pf, inf = np.ones(p), np.full(p, np.inf)
    g = alpha_grid(prob, Penalty.broadcast(1.0, pf, -inf, inf), n_alphas=30)
    assert g.shape == (30,)
    assert g[0] == pytest.approx(alpha_max(prob, Penalty.broadcast(1.0, pf, -inf, inf)))
    assert g[-1] == pytest.approx(g[0] * 1e-4)  # n > p
    assert np.all(np.diff(g) < 0)
    wide = gram(rng, "wide")
    gw = alpha_grid(wide, Penalty.broadcast(1.0, np.ones(wide.n_features), -inf[: wide.n_features], inf[: wide.n_features]), 10)
    assert gw[-1] == pytest.approx(gw[0] * 1e-2)
    ridge = alpha_grid(prob, Penalty.broadcast(0.0, pf, -inf, inf), n_alphas=13)
    assert ridge[0] == pytest.approx(1e3) and ridge[-1] == pytest.approx(
        1e-3
    )  # standardized: diag(Q) = 1
    with pytest.raises(ValueError, match="positive count"):
        alpha_grid(prob, Penalty.broadcast(1.0, pf, -inf, inf), n_alphas=0)


# --------------------------------------------------------------------------- ridge
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pf_kind", ["ones", "zeros", "random"])
def test_ridge_path_equals_linear_solve(rng, kind, pf_kind):
    prob = gram(rng, kind)
    p = prob.n_features
    pf = penalty_for(rng, p, pf_kind)
    alphas = np.geomspace(100.0, 1e-4, 9)
    sol = ridge_path(prob.Q, prob.q, alphas, Penalty.broadcast(0.0, pf))
    for i, a in enumerate(alphas):
        A = prob.Q + a * np.diag(pf)
        exact = np.linalg.solve(A, prob.q)
        np.testing.assert_allclose(
            sol.coef[i],
            exact,
            rtol=1e-7 if kind != "iid" else 1e-10,
            atol=1e-10 * np.abs(exact).max(),
        )
        assert sol.kkt[i] < 1e-8 * np.abs(prob.q).max()


def test_ridge_path_agrees_with_cd_and_admm(rng):
    prob = gram(rng, "correlated")
    p = prob.n_features
    pf = penalty_for(rng, p, "random")
    inf = np.full(p, np.inf)
    alphas = np.geomspace(10.0, 1e-3, 6)
    exact = ridge_path(prob.Q, prob.q, alphas, Penalty.broadcast(0.0, pf)).coef
    for solver in (cd_path, admm_path):
        sol = solver(prob.Q, prob.q, alphas, Penalty.broadcast(0.0, pf, -inf, inf), yy=prob.yy)
        np.testing.assert_allclose(sol.coef, exact, rtol=1e-8, atol=1e-10)


def test_ridge_at_alpha_zero_on_collinear_features_is_minimum_norm(rng):
    prob = gram(rng, "collinear")
    sol = ridge_path(prob.Q, prob.q, np.array([0.0]), Penalty.broadcast(0.0, np.ones(prob.n_features)))
    np.testing.assert_allclose(
        sol.coef[0], np.linalg.pinv(prob.Q, hermitian=True) @ prob.q, rtol=1e-6, atol=1e-9
    )
    assert np.all(np.isfinite(sol.coef))


# --------------------------------------------------------------------------- solvers via enet_path
def test_enet_path_constant_feature_gets_zero(rng):
    X, y = design(rng, "iid")
    X[:, 3] = 7.5  # zero variance
    prob = make_problem(block_stats(X, y))
    assert prob.constant.tolist() == [j == 3 for j in range(X.shape[1])]
    p = X.shape[1]
    inf = np.full(p, np.inf)
    for solver, l1_ratio in (("cd", 0.5), ("admm", 0.5), ("auto", 0.0)):
        res = enet_path(prob, np.geomspace(1.0, 1e-3, 5), Penalty.broadcast(l1_ratio, np.ones(p), -inf, inf), solver=solver)
        assert np.all(res.coef[:, 3] == 0.0)
        assert np.all(np.isfinite(res.coef)) and np.all(np.isfinite(res.intercept))


def test_enet_path_box_on_original_scale(rng):
    X, y = design(rng, "iid")
    X *= 10.0  # standardization scale far from 1
    prob = make_problem(block_stats(X, y), standardize=True)
    p = X.shape[1]
    lower, upper = np.full(p, -0.01), np.full(p, 0.01)
    res = enet_path(prob, np.array([1e-3]), Penalty.broadcast(1.0, np.ones(p), lower, upper), solver="cd")
    assert np.all(res.coef >= -0.01 - 1e-15) and np.all(res.coef <= 0.01 + 1e-15)
    assert np.any(np.isclose(np.abs(res.coef), 0.01))  # some bound is active


def test_enet_path_validates_alphas(rng):
    prob = gram(rng, "iid")
    p = prob.n_features
    inf = np.full(p, np.inf)
    with pytest.raises(ValueError, match="decreasing"):
        enet_path(prob, np.array([0.1, 0.2]), Penalty.broadcast(1.0, np.ones(p), -inf, inf))
    with pytest.raises(ValueError, match="non-empty"):
        enet_path(prob, np.array([]), Penalty.broadcast(1.0, np.ones(p), -inf, inf))


def test_choose_solver():
    inf = np.full(3, np.inf)
    assert choose_solver("auto", Penalty.broadcast(0.0, 1.0, -inf, inf)) == "eigen"
    assert choose_solver("auto", Penalty.broadcast(0.0, 1.0, np.zeros(3), inf)) == "cd"
    assert choose_solver("auto", Penalty.broadcast(0.5, 1.0, -inf, inf)) == "cd"
    assert choose_solver("admm", Penalty.broadcast(0.0, 1.0, -inf, inf)) == "admm"
    with pytest.raises(ValueError, match="solver must be one of"):
        choose_solver("lbfgs", Penalty.broadcast(1.0, 1.0, -inf, inf))
