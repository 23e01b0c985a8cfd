"""The compiled coordinate-descent path against the same code interpreted.

``DREG_DISABLE_NUMBA=1`` is read at import, so the interpreted run happens in
a subprocess; both must give the same path (same iterations, so agreement far
below the KKT target) and both must satisfy the optimality conditions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import json, sys
import numpy as np
from dreg.core.penalty import Penalty
from dreg.core.solvers import cd as cdmod
from dreg.core.solvers import kkt_violation

rng = np.random.default_rng(7)
n, p = 300, 40
X = rng.standard_normal((n, p)) + 0.8 * rng.standard_normal((n, 1))
y = X[:, :5] @ np.array([2.0, -1.0, 0.5, 0.0, 1.5]) + rng.standard_normal(n)
Xc = X - X.mean(0)
Q = Xc.T @ Xc / n
q = Xc.T @ (y - y.mean()) / n
yy = float(((y - y.mean()) ** 2).mean())
lower = np.full(p, -np.inf)
upper = np.full(p, np.inf)
upper[3] = 0.2  # one active box constraint
pf = np.ones(p)
pf[0] = 0.0  # one unpenalized feature
alphas = np.geomspace(1.0, 1e-3, 30)
out = {"numba": cdmod._NUMBA}
for l1_ratio in (1.0, 0.5):
    sol = cdmod.cd_path(Q, q, alphas, Penalty(l1_ratio, pf, lower, upper), yy=yy)
    viol = [
        float(kkt_violation(Q, q, b, a * l1_ratio * pf, a * (1 - l1_ratio) * pf, lower, upper).max())
        for a, b in zip(alphas, sol.coef)
    ]
    out[str(l1_ratio)] = {"coef": sol.coef.tolist(), "kkt": viol, "target": cdmod._exact_target(q, yy)}
json.dump(out, sys.stdout)
"""


def _run(disable: bool) -> dict:
    env = dict(os.environ)
    env.pop("DREG_DISABLE_NUMBA", None)
    if disable:
        env["DREG_DISABLE_NUMBA"] = "1"
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def both_runs() -> tuple[dict, dict]:
    """``(compiled, interpreted)``: SCRIPT solves both l1_ratios, so one subprocess of each serves
    both parametrizations (it used to run both per parametrization: four subprocesses)."""
    return _run(False), _run(True)


@pytest.mark.parametrize("l1_ratio", ["1.0", "0.5"])
def test_compiled_path_matches_interpreted(l1_ratio, both_runs):
    compiled, interpreted = both_runs
    assert compiled["numba"] is True
    assert interpreted["numba"] is False
    a, b = compiled[l1_ratio], interpreted[l1_ratio]
    # both optimal to the rounding-level target ...
    assert max(a["kkt"]) <= a["target"]
    assert max(b["kkt"]) <= b["target"]
    # ... hence equal far below the coefficients' scale
    ca, cb = np.array(a["coef"]), np.array(b["coef"])
    np.testing.assert_allclose(ca, cb, rtol=0, atol=1e-8 * np.abs(cb).max())
    assert np.array_equal(ca == 0, cb == 0)


# --------------------------------------------------------------------------- float32 sweeps
def _problem(rng, n, p, collinear=False):
    X = rng.standard_normal((n, p)) + 0.6 * rng.standard_normal((n, 1))
    if collinear:
        # near-duplicate columns: cond(Q) ~ 1e9
        k = p // 3
        X[:, k : 2 * k] = X[:, :k] + 1e-4 * rng.standard_normal((n, k))
    y = X[:, :6] @ np.array([2.0, -1.0, 0.5, 0.25, 1.5, -0.75]) + rng.standard_normal(n)
    Xc = X - X.mean(0)
    Q = Xc.T @ Xc / n
    q = Xc.T @ (y - y.mean()) / n
    yy = float(((y - y.mean()) ** 2).mean())
    return Q, q, yy


def _spy_dtypes(monkeypatch, cdmod):
    """Record the dtype of the Gram the sweeps of each path read."""
    seen = []
    kernel = cdmod._path_kernel

    def spy(Q, Qs, *args):
        seen.append(Qs.dtype)
        return kernel(Q, Qs, *args)

    monkeypatch.setattr(cdmod, "_path_kernel", spy)
    return seen


def _path(cdmod, Q, q, yy, l1_ratio, alphas, pf, lower, upper):
    from dreg.core.penalty import Penalty
    from dreg.core.solvers import kkt_violation

    sol = cdmod.cd_path(Q, q, alphas, Penalty.broadcast(l1_ratio, pf, lower, upper), yy=yy)
    viol = np.array(
        [
            kkt_violation(Q, q, b, a * l1_ratio * pf, a * (1 - l1_ratio) * pf, lower, upper).max()
            for a, b in zip(alphas, sol.coef, strict=True)
        ]
    )
    return sol, viol


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.05])
def test_float32_sweeps_reach_the_float64_optimum(rng, monkeypatch, l1_ratio):
    """Sweeps on a float32 copy of Q with float64 gradient refreshes: same optimum, to the KKT target."""
    from dreg.core.solvers import cd as cdmod

    n, p = 600, 200
    monkeypatch.setattr(cdmod, "_FLOAT32_MIN_FEATURES", 100)  # the copy from 256 features; a smaller, faster test
    Q, q, yy = _problem(rng, n, p)
    lower, upper = np.full(p, -np.inf), np.full(p, np.inf)
    upper[2] = 0.1  # an active box constraint
    pf = np.ones(p)
    pf[0] = 0.0  # an unpenalized feature
    alphas = np.geomspace(np.abs(q).max() / max(l1_ratio, 1e-3), 1e-4, 40)
    target = cdmod._exact_target(q, yy)

    seen = _spy_dtypes(monkeypatch, cdmod)
    monkeypatch.setattr(cdmod, "_FLOAT32", True)
    mixed, v_mixed = _path(cdmod, Q, q, yy, l1_ratio, alphas, pf, lower, upper)
    assert seen and all(dt == np.float32 for dt in seen)
    seen.clear()
    monkeypatch.setattr(cdmod, "_FLOAT32", False)
    full, v_full = _path(cdmod, Q, q, yy, l1_ratio, alphas, pf, lower, upper)
    assert seen and all(dt == np.float64 for dt in seen)

    assert mixed.converged.all() and full.converged.all()
    # optimality measured with the float64 Gram, as the solver's own record says
    assert v_mixed.max() <= target
    np.testing.assert_allclose(mixed.kkt, v_mixed, rtol=1e-6, atol=1e-3 * target)
    np.testing.assert_allclose(mixed.coef, full.coef, rtol=0, atol=1e-8 * np.abs(full.coef).max())
    assert np.array_equal(mixed.coef == 0, full.coef == 0)
    assert np.all(mixed.coef[:, 2] <= 0.1)


def test_sweep_copy_only_speeds_up_the_float64_gradient_decides(rng, monkeypatch):
    """Even a sweep copy 200x coarser than float32 gives the exact optimum.

    Every stopping decision (KKT check, strong rule, polish) uses ``c = q - Q b``
    recomputed from the float64 ``Q``; the copy only drives the sweeps between
    refreshes (iterative refinement), so its rounding costs sweeps, never accuracy.
    """
    from dreg.core.solvers import cd as cdmod

    n, p = 600, 150
    Q, q, yy = _problem(rng, n, p)
    lower, upper, pf = np.full(p, -np.inf), np.full(p, np.inf), np.ones(p)
    alphas = np.geomspace(np.abs(q).max() / 0.5, 1e-3, 25)
    noise = 1e-5 * rng.standard_normal((p, p))
    monkeypatch.setattr(cdmod, "_FLOAT32", True)
    monkeypatch.setattr(cdmod, "_FLOAT32_MIN_FEATURES", 100)
    monkeypatch.setattr(cdmod, "_sweep_copy", lambda Q: (Q * (1.0 + (noise + noise.T) / 2)).astype(np.float32))
    seen = _spy_dtypes(monkeypatch, cdmod)
    sol, viol = _path(cdmod, Q, q, yy, 0.5, alphas, pf, lower, upper)
    assert seen and all(dt == np.float32 for dt in seen)
    assert sol.converged.all()
    assert viol.max() <= cdmod._exact_target(q, yy)
    monkeypatch.setattr(cdmod, "_FLOAT32", False)
    ref, _ = _path(cdmod, Q, q, yy, 0.5, alphas, pf, lower, upper)
    np.testing.assert_allclose(sol.coef, ref.coef, rtol=0, atol=1e-8 * np.abs(ref.coef).max())


def test_ill_conditioned_elastic_net_float32_matches_float64(rng, monkeypatch):
    """cond(Q) ~ 1e9 (near-duplicate features): the mixed-precision path is as exact as float64."""
    from dreg.core.solvers import cd as cdmod

    n, p = 900, 150
    Q, q, yy = _problem(rng, n, p, collinear=True)
    assert np.linalg.cond(Q) > 1e7
    lower, upper, pf = np.full(p, -np.inf), np.full(p, np.inf), np.ones(p)
    alphas = np.geomspace(np.abs(q).max() / 0.5, 1e-3, 25)
    monkeypatch.setattr(cdmod, "_FLOAT32_MIN_FEATURES", 100)
    out = {}
    for flag in (True, False):
        monkeypatch.setattr(cdmod, "_FLOAT32", flag)
        out[flag] = _path(cdmod, Q, q, yy, 0.5, alphas, pf, lower, upper)
    (mixed, v_mixed), (full, v_full) = out[True], out[False]
    assert mixed.converged.all() and full.converged.all()
    target = cdmod._exact_target(q, yy)
    assert v_mixed.max() <= target and v_full.max() <= target
    np.testing.assert_allclose(mixed.coef, full.coef, rtol=0, atol=1e-7 * np.abs(full.coef).max())
