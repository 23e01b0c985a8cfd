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
from dreg.solvers import cd as cdmod
from dreg.solvers import kkt_violation

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
    sol = cdmod.cd_path(Q, q, alphas, l1_ratio, pf, lower, upper, yy=yy)
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


@pytest.mark.parametrize("l1_ratio", ["1.0", "0.5"])
def test_compiled_path_matches_interpreted(l1_ratio):
    compiled, interpreted = _run(False), _run(True)
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
