"""The compiled coordinate-descent kernel against its numpy fallback."""

import numpy as np


def test_numba_kernel_matches_python_fallback():
    """The compiled CD kernel and the numpy fallback run the same iterations."""
    from dreg.solvers import cd as cdmod

    rng = np.random.default_rng(7)
    n, p = 300, 40
    X = rng.standard_normal((n, p)) + 0.8 * rng.standard_normal((n, 1))
    y = X[:, :5] @ np.array([2.0, -1.0, 0.5, 0.0, 1.5]) + rng.standard_normal(n)
    Q = X.T @ X / n
    q = X.T @ y / n
    m = p
    out = []
    for kernel in (cdmod._cd_kernel, cdmod._python_kernel):
        cw, bw = q.copy(), np.zeros(m)
        diag = np.diag(Q).copy()
        total, ok = kernel(
            np.ascontiguousarray(Q), cw, bw, diag, diag + 0.01, np.full(m, 0.05),
            np.full(m, -np.inf), np.full(m, np.inf), 1e-14, 10_000,
        )
        assert ok
        out.append((bw, cw, total))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10, atol=1e-12)
    assert out[0][2] == out[1][2]
