"""dreg's wide engine against dask-ml's ADMM lasso on bench_wide's sparse matrix (issue 15).

The issue asks to benchmark the wide engine "against scikit-learn LassoCV on
the same sparse matrix (bench_wide.py), and against dask-ml's ADMM (tuned)".
This is the dask-ml half.  The matrix is bench_wide's construction
(``make_data``: ``n x p`` scipy.sparse CSC at density 1e-3, standard-normal
stored values, 50 true coefficients of size 1-3, intercept 1.5, noise sd 0.5,
seed 0), by default 20,000 x 5,000 (800 MB as dense float64).

1. ``dreg.LassoCV(cv=5, standardize=False, engine='wide', n_jobs=2)`` on the
   scipy.sparse matrix (100 alphas, dreg's default grid; ``engine='auto'``
   picks the wide engine here too): timed, and its ``alpha_`` (or ``--alpha``) is the one alpha of the
   single fits below.
2. One lasso at that alpha, contenders interleaved (order alternating):

   * ``dreg.Lasso(alpha, engine='wide', standardize=False)`` on the
     scipy.sparse matrix (the reference of the timing ratios);
   * ``dreg.Lasso(alpha, engine='wide', standardize=True)``: the formulation
     dask-ml solves (below), the reference of its coefficient differences;
   * ``dask_ml.linear_model.LinearRegression(penalty='l1', solver='admm', C)``
     at its defaults (``rho=1, max_iter=100, abstol=1e-4, reltol=1e-2``), and
     "tuned" as in bench_compare.py (``rho`` = rows per chunk, ``max_iter=500``,
     ``abstol=1e-8``, ``reltol=1e-6``), on a persisted *dense* Dask array in
     ``--chunks`` row chunks on a LocalCluster of 2 workers x 1 thread
     (127.0.0.1).  dask-ml cannot take the sparse matrix: the script tries
     scipy.sparse chunks and pydata ``sparse.COO`` chunks first and records
     the error each raises.  The dense chunks are made on the workers from the
     sparse row blocks (the coordinator never holds the 800 MB).

What dask-ml solves (bench_compare.py's section (d) explains it at length):
dask-glm's ``Normal`` loss is the *sum* of squares and its penalty
``lamduh ||b||_1`` with ``lamduh = 1/C``, so dreg's ``alpha`` is
``C = 1/(2 n alpha)``; dask-ml appends a ones column and the L1 prox runs over
it too (penalized intercept); the ``@normalize`` wrapper of the ADMM centres
and scales every column by its population standard deviation.  The columns
being centred, the intercept separates from the slopes: the slopes are the
*standardized* lasso's, ``dreg.Lasso(standardize=True)``'s, and the intercept
is dreg's moved by ``-alpha sign(ybar)`` (the L1 prox of the centred problem's
intercept).  Coefficient differences of dask-ml are therefore reported against
dreg's standardize=True answer (and, for scale, against standardize=False).

A dask-ml contender is not repeated once a run of it took longer than
``--daskml-budget`` seconds.  Reported: median wall seconds, the ratio to dreg
(standardize=False), non-zeros, ``max|b - b_ref| / max|b_ref|``, intercepts.

Usage::

    python benchmarks/bench_wide_daskml.py              # 20,000 x 5,000, reps 3
    python benchmarks/bench_wide_daskml.py --quick      # 4,000 x 1,000 (density 5e-3), 1 repetition, writes nothing
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_facts, quick_defaults, write_section  # noqa: E402
from bench_cv import rel_diff  # noqa: E402
from bench_wide import make_data  # noqa: E402

SECTION = "bench_wide_daskml"
DREG = "dreg Lasso(engine='wide', standardize=False), scipy.sparse"
DREG_STD = "dreg Lasso(engine='wide', standardize=True), scipy.sparse"
DEFAULTS = "dask-ml LinearRegression(penalty='l1', solver='admm') defaults"
TUNED = "dask-ml ADMM tuned"


def dense_dask(X: sp.spmatrix, chunks: int):
    """A persisted dense Dask array of ``X``: row blocks densified on the workers."""
    import dask
    import dask.array as da

    n, p = X.shape
    step = -(-n // chunks)
    Xr = sp.csr_matrix(X)
    parts = [
        da.from_delayed(dask.delayed(lambda b: b.toarray())(Xr[i : i + step]), (min(step, n - i), p), dtype=np.float64)
        for i in range(0, n, step)
    ]
    return da.concatenate(parts).persist(), step


def sparse_attempts(X: sp.spmatrix, y, chunks: int, C: float) -> list[tuple[str, str]]:
    """Try dask-ml on scipy.sparse and on pydata sparse.COO chunks (one ADMM iteration); the outcome of each."""
    import dask.array as da
    import sparse
    from dask_ml.linear_model import LinearRegression

    n, p = X.shape
    step = -(-n // chunks)
    Xr = sp.csr_matrix(X)
    yd = da.from_array(y, chunks=step)
    tries = {
        "scipy.sparse CSR chunks": lambda: da.concatenate(
            [da.from_array(Xr[i : i + step], chunks=Xr[i : i + step].shape, asarray=False) for i in range(0, n, step)]
        ),
        "pydata sparse.COO chunks": lambda: da.from_array(Xr, chunks=(step, p), asarray=False).map_blocks(
            sparse.COO.from_scipy_sparse, dtype=np.float64
        ),
    }
    out = []
    for name, make in tries.items():
        try:
            LinearRegression(penalty="l1", solver="admm", C=C, solver_kwargs={"max_iter": 1}).fit(make(), yd)
            out.append((name, "accepted (one ADMM iteration ran)"))
        except Exception as e:  # noqa: BLE001 - the error is the result
            msg = " ".join(str(e).split())[:160]
            out.append((name, f"fails: `{type(e).__name__}: {msg}`"))
        print(f"  {name}: {out[-1][1]}", flush=True)
    return out


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--p", type=int, default=5_000)
    ap.add_argument("--density", type=float, default=1e-3)
    ap.add_argument("--nonzeros", type=int, default=50)
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=None, help="the single fits' alpha (default: dreg LassoCV's alpha_)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cv-reps", type=int, default=None, help="repetitions of dreg's LassoCV (default --reps)")
    ap.add_argument("--chunks", type=int, default=4, help="row chunks of the dense Dask array")
    ap.add_argument("--tuned-max-iter", type=int, default=500)
    ap.add_argument("--daskml-budget", type=float, default=600.0, help="seconds: no further runs of that contender")
    ap.add_argument("--quick", action="store_true", help="4,000 x 1,000 at density 5e-3, 1 repetition, writes nothing")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(args, argv, n=4_000, p=1_000, density=5e-3, reps=1)  # no empty column (dask-ml rejects those)
        args.no_write = True

    import dask_glm
    import dask_ml
    from dask.distributed import Client, LocalCluster
    from dask_ml.linear_model import LinearRegression

    import dreg

    X, y = make_data(args.n, args.p, args.density, args.nonzeros, args.noise, args.seed)
    n, p = X.shape
    loads: list[tuple[str, float]] = []
    runs: dict[str, list[float]] = {}
    last: dict[str, object] = {}

    def timed(name, fn):
        gc.collect()
        loads.append((name, os.getloadavg()[0]))
        start = time.perf_counter()
        out = fn()
        runs.setdefault(name, []).append(time.perf_counter() - start)
        last[name] = out
        print(f"  {name}: {runs[name][-1]:.2f} s", flush=True)
        return out

    # 1. dreg's whole CV
    cv_reps = args.cv_reps or args.reps
    for _ in range(cv_reps):
        cv = timed("dreg LassoCV", lambda: dreg.LassoCV(cv=5, standardize=False, engine="wide", n_jobs=2).fit(X, y))
    grid = np.asarray(cv.alphas_, dtype=float).ravel()
    alpha = float(cv.alpha_) if args.alpha is None else args.alpha
    C = 1.0 / (2.0 * n * alpha)
    print(f"dreg LassoCV: engine {cv.engine_}, alpha_ {cv.alpha_:.6g}; single fits at alpha {alpha:.6g}", flush=True)

    # 2. the single fits
    iterations = count_admm_iterations()
    root = HERE.parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "dreg"], cwd=root, capture_output=True, text=True).stdout
    command = "python benchmarks/bench_wide_daskml.py " + shlex.join(a for a in argv if a != "--no-write")
    ybar = float(np.mean(y))
    tight = dreg.Lasso(alpha=alpha, engine="wide", standardize=True, tol=1e-12).fit(X, y)
    admm_iters: dict[str, list[int]] = {}

    def report(done: bool) -> None:
        """Write the section (also after each dask-ml run: a stopped run leaves what it measured)."""
        med = {k: float(np.median(v)) for k, v in runs.items()}
        ref, ref_std = last[DREG], last[DREG_STD]
        rows = []
        for name in (DREG, DREG_STD, DEFAULTS, TUNED):
            if name not in last:
                rows.append(f"| {name} | not run (stopped) | | | | | | | | |")
                continue
            m = last[name]
            coef = np.asarray(m.coef_, dtype=float)
            expect_b0 = float(ref_std.intercept_) - (alpha * np.sign(ybar) if name in (DEFAULTS, TUNED) else 0.0)
            its = ", ".join(str(k) for k in admm_iters.get(name, [])) or "-"
            rows.append(
                f"| {name} | {med[name]:.2f} | {', '.join(f'{t:.2f}' for t in runs[name])} "
                f"| {med[name] / med[DREG]:.1f}x | {its} | {np.count_nonzero(coef)} | {rel_diff(coef, ref.coef_):.1e} "
                f"| {rel_diff(coef, ref_std.coef_):.1e} | {float(m.intercept_):.6f} "
                f"| {abs(float(m.intercept_) - expect_b0):.1e} |"
            )
        t_cv = med["dreg LassoCV"]
        fits = [med[k] for k in (DEFAULTS, TUNED) if k in med]
        verdict = None
        if fits:
            cheaper = "the whole CV costs less than one dask-ml fit" if t_cv < min(fits) else "NOT cheaper"
            verdict = (
                f"- dreg's whole CV ({t_cv:.2f} s) against dask-ml's one fit: {min(fits) / t_cv:.1f}x (faster dask-ml "
                f"setting) to {max(fits) / t_cv:.1f}x (slower): **{cheaper}**."
            )
        lines = [
            machine_facts(),
            "",
            f"Command: `{command.strip()}`"
            + ("" if done else f" -- **stopped before the end**: {sum(map(len, runs.values()))} runs recorded"),
            "",
            f"Code measured: {commit.strip() or 'unknown'}"
            f"{' with uncommitted changes under dreg/' if dirty.strip() else ''}; dask-ml {dask_ml.__version__}, "
            f"dask-glm {getattr(dask_glm, '__version__', '?')} (benchmark-only: `pip install dask-ml`, the `bench` extra).",
            "",
            f"Matrix: bench_wide's construction, {n:,} x {p:,} scipy.sparse CSC, density {args.density:g} "
            f"({X.nnz:,} stored values), {args.nonzeros} true coefficients, intercept 1.5, noise sd {args.noise:g}, "
            f"seed {args.seed}; dense float64 it is {n * p * 8 / 1e6:,.0f} MB.",
            "",
            "**dreg's whole CV**: `dreg.LassoCV(cv=5, standardize=False, engine='wide', n_jobs=2)` on the scipy.sparse "
            f"matrix, 5 folds x {grid.size} alphas (dreg's grid, {grid[0]:.4g} .. {grid[-1]:.4g}): median "
            f"**{t_cv:.2f} s** (runs {', '.join(f'{t:.2f}' for t in runs['dreg LassoCV'])}); alpha_ = {cv.alpha_:.6g} "
            f"({cv.alpha_ / grid[0]:.3g} alpha_max), {int(np.count_nonzero(cv.coef_))} non-zeros.",
            "",
            f"**One lasso at alpha = {alpha:.6g}** ({'dreg LassoCV alpha_' if args.alpha is None else '--alpha'}; "
            f"dask-ml `C = 1/(2 n alpha) = {C:.6g}`), contenders interleaved with alternating order, after a dreg "
            f"warm-up; dask-ml on a persisted dense Dask array in {args.chunks} row chunks of {step:,} rows on a "
            "LocalCluster (2 workers x 1 thread, 127.0.0.1); dreg in the calling process on the scipy.sparse matrix. "
            f"tuned = `solver_kwargs={tuned_kw}` (bench_compare.py's tuning: rho = rows per chunk). A dask-ml "
            f"contender is not repeated after a run over --daskml-budget={args.daskml_budget:g} s. ADMM iterations: "
            "z-updates counted per run (dask-glm does not report them).",
            "",
            "| contender | median s | runs s | ratio to dreg | ADMM iterations | non-zeros "
            "| rel. diff vs dreg standardize=False | rel. diff vs dreg standardize=True | intercept "
            "| abs. diff to the expected intercept |",
            "|---|---:|---|---:|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "- rel. diff = `max|b - b_ref| / max|b_ref|`. dask-ml solves the standardized lasso (its `@normalize` "
            "centres and scales the columns) with an L1-penalized intercept column; centred columns separate the "
            "intercept from the slopes, so its slopes should equal `dreg.Lasso(standardize=True)`'s (column 'vs "
            f"standardize=True') and its intercept dreg's minus alpha sign(ybar) = {alpha * np.sign(ybar):+.6g} (last "
            "column: for dask-ml the distance to that value, for dreg to dreg standardize=True's intercept).",
            f"- dreg standardize=True at its default tol vs tol=1e-12: rel. diff "
            f"{rel_diff(ref_std.coef_, tight.coef_):.1e} (how exact the reference is).",
            verdict,
            "- dask-ml on the sparse matrix: " + "; ".join(f"{k}: {v}" for k, v in attempts) + ". So the dense array.",
            "- 1-minute load average before each timed run: "
            + ", ".join(f"{v:.2f}" for _, v in loads)
            + " (a shared 2-core machine: compare contenders of the same run).",
        ]
        body = "\n".join(line for line in lines if line is not None)
        if done:
            print(body)
        if not args.no_write:
            title = "Wide engine vs dask-ml's ADMM lasso on a sparse matrix (`bench_wide_daskml.py`, issue 15)"
            write_section(SECTION, title, body)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster,
            Client(cluster),
        ):
            attempts = sparse_attempts(X, y, args.chunks, C)
            Xd, step = dense_dask(X, args.chunks)
            import dask.array as da

            yd = da.from_array(y, chunks=step).persist()
            tuned_kw = {"rho": float(step), "max_iter": args.tuned_max_iter, "abstol": 1e-8, "reltol": 1e-6}
            contenders = {
                DREG: lambda: dreg.Lasso(alpha=alpha, engine="wide", standardize=False).fit(X, y),
                DREG_STD: lambda: dreg.Lasso(alpha=alpha, engine="wide", standardize=True).fit(X, y),
                TUNED: lambda: LinearRegression(penalty="l1", solver="admm", C=C, solver_kwargs=tuned_kw).fit(Xd, yd),
                DEFAULTS: lambda: LinearRegression(penalty="l1", solver="admm", C=C).fit(Xd, yd),
            }
            contenders[DREG]()  # warm-up (numba, imports)
            names = list(contenders)
            for rep in range(args.reps):
                for name in names if rep % 2 == 0 else names[::-1]:
                    if name in (DEFAULTS, TUNED) and any(t > args.daskml_budget for t in runs.get(name, [])):
                        continue  # one run over the budget is the figure
                    before = iterations[0]
                    timed(name, contenders[name])
                    if name in (DEFAULTS, TUNED):
                        admm_iters.setdefault(name, []).append(iterations[0] - before)
                        if DREG_STD in last:
                            report(done=False)
    report(done=True)


def count_admm_iterations() -> list[int]:
    """Count dask-glm's ADMM iterations: its L1 z-update (the prox) runs once per iteration."""
    from dask_glm.regularizers import L1

    count = [0]
    prox = L1.proximal_operator

    def counted(self, beta, t):
        count[0] += 1
        return prox(self, beta, t)

    L1.proximal_operator = counted
    return count


if __name__ == "__main__":
    main(sys.argv[1:])
