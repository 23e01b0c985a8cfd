"""dreg against glum and dask-ml on the same lasso problem (issue 6).

Benchmark-only dependencies: glum (not in ``pyproject.toml``) and dask-ml
(the ``bench`` extra)::

    pip install glum dask-ml

All contenders see the same in-memory float64 data (``make_data``: correlated
AR(1) features, sparse truth, ``rng = np.random.default_rng(0)``).

(a) ``dreg.LassoCV(standardize=False, cv=5)``: time and chosen ``alpha_``.
(b) ``glum.GeneralizedLinearRegressorCV(family='normal', l1_ratio=1,
    alphas=dreg.alphas_, cv=<dreg's folds>)``.  glum's objective is
    ``1/(2 sum(s)) deviance + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio)/2 ||w||^2``
    and the normal deviance is ``sum s_i (y_i - mu_i)^2``, i.e. exactly dreg's
    ``1/(2W) sum w_i (y_i - b - x_i'beta)^2 + alpha ||beta||_1`` (unpenalized
    intercept in both); ``scale_predictors`` defaults to False, which matches
    ``standardize=False``.  ``cv`` accepts an iterable of (train, test) index
    arrays, so glum is given dreg's folds
    (``PredefinedSplit(dreg.fold_ids(0, n, 5, 0))``), the folds
    ``dreg.LassoCV(cv=5, random_state=0)`` uses.  glum selects the alpha with the
    smallest mean over folds of the *summed* held-out deviance; dreg the
    smallest mean over folds of the held-out *mean* squared error (the same
    argmin up to the small differences in fold sizes).
(c) ``glum.GeneralizedLinearRegressor(alpha=dreg.alpha_, l1_ratio=1)`` single
    fit against ``dreg.Lasso(alpha=dreg.alpha_, standardize=False)``, at glum's
    default ``gradient_tol`` (1e-4) and at ``gradient_tol=1e-10``.
(d) ``dask_ml.linear_model.LinearRegression(penalty='l1', solver='admm', C=...)``
    single fit on a Dask array of the same data on a 2-worker LocalCluster.
    dask-glm's ``Normal`` loss is the *sum* of squares ``||y - Xb||^2`` and the
    ADMM z-update is ``prox`` of ``lamduh ||z||_1`` with ``lamduh = 1/C``, so
    dreg's ``alpha`` maps to ``C = 1 / (2 n alpha)``.  dask-ml appends a column
    of ones to ``X`` and the L1 prox runs over every coefficient: the intercept
    is penalized.  ``dask_glm.algorithms.admm`` is wrapped in ``@normalize``
    (default on): it centres and scales the columns by their (population)
    standard deviation when a constant column is present, so at its defaults it
    solves the *standardized* lasso, ``dreg.Lasso(standardize=True)``, plus an
    L1 penalty on the intercept of the centred problem.  We run it at its
    defaults (``rho=1, max_iter=100, abstol=1e-4, reltol=1e-2``) and once
    "tuned" (``rho = rows per chunk``, ``max_iter=500``, ``abstol=1e-8``,
    ``reltol=1e-6``), and compare with dreg both ways.

Usage::

    python benchmarks/bench_compare.py                  # n=200,000, p=50, reps=3
    python benchmarks/bench_compare.py --n 50000 --p 20 --reps 3 --no-write
"""

from __future__ import annotations

import argparse
import gc
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_facts, write_section  # noqa: E402
from bench_cv import make_data, rel_diff  # noqa: E402  (the same data and measure as bench_cv)

SECTION = "bench_compare"
K = 5


def timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleave(contenders: dict, reps: int, label: str):
    runs: dict[str, list[float]] = {k: [] for k in contenders}
    last: dict[str, object] = {}
    names = list(contenders)
    for r in range(reps):
        for name in names if r % 2 == 0 else names[::-1]:
            t, out = timed(contenders[name])
            runs[name].append(t)
            last[name] = out
            print(f"  [{label}] rep {r + 1}/{reps} {name:<34s} {t:9.3f} s", flush=True)
    return runs, last


def med(v) -> float:
    return float(np.median(v))


def fmt_runs(runs: dict[str, list[float]]) -> str:
    return "; ".join(f"{k}: " + ", ".join(f"{t:.2f}" for t in v) for k, v in runs.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--p", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dask-reps", type=int, default=None, help="repetitions of (d) (default: --reps)")
    ap.add_argument("--chunks", type=int, default=4, help="row chunks of the Dask array in (d)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", default=None, help="also write the medians and ratios to this JSON file")
    args = ap.parse_args()
    n, p, reps = args.n, args.p, args.reps
    dreps = args.dask_reps or reps

    import dask_ml
    import glum
    from glum import GeneralizedLinearRegressor, GeneralizedLinearRegressorCV
    from sklearn.model_selection import PredefinedSplit

    import dreg

    X, y, beta = make_data(n, p, 0)
    folds = dreg.fold_ids(0, n, K, 0)
    splits = list(PredefinedSplit(folds).split())
    print(f"data {n} x {p}", flush=True)

    # ---------------------------------------------------------------- (a) + (b)
    dreg_cv = dreg.LassoCV(standardize=False, cv=K, random_state=0)
    dreg_cv.fit(X, y)  # warm-up, also gives the grid for glum
    grid = np.asarray(dreg_cv.alphas_, dtype=float).ravel()
    glum_cv_kw = dict(family="normal", l1_ratio=1.0, alphas=grid, cv=splits, scale_predictors=False, fit_intercept=True)
    runs_cv, last_cv = interleave(
        {
            "dreg LassoCV": lambda: dreg.LassoCV(standardize=False, cv=K, random_state=0).fit(X, y),
            "glum GeneralizedLinearRegressorCV": lambda: GeneralizedLinearRegressorCV(**glum_cv_kw).fit(X, y),
        },
        reps,
        "cv",
    )
    d_cv, g_cv = last_cv["dreg LassoCV"], last_cv["glum GeneralizedLinearRegressorCV"]
    alpha = float(d_cv.alpha_)
    g_alpha = float(np.ravel(g_cv.alpha_)[0])
    i_d = int(np.argmin(np.abs(grid - alpha)))
    i_g = int(np.argmin(np.abs(grid - g_alpha)))
    cv_coef_diff = rel_diff(g_cv.coef_, d_cv.coef_)

    # ---------------------------------------------------------------- (c)
    runs_fit, last_fit = interleave(
        {
            "dreg Lasso": lambda: dreg.Lasso(alpha=alpha, standardize=False).fit(X, y),
            "glum GLR (gradient_tol default)": lambda: GeneralizedLinearRegressor(
                family="normal", alpha=alpha, l1_ratio=1.0, scale_predictors=False
            ).fit(X, y),
            "glum GLR (gradient_tol=1e-10)": lambda: GeneralizedLinearRegressor(
                family="normal", alpha=alpha, l1_ratio=1.0, scale_predictors=False, gradient_tol=1e-10
            ).fit(X, y),
        },
        reps,
        "fit",
    )
    d_fit = last_fit["dreg Lasso"]
    # a tight dreg reference
    d_tight = dreg.Lasso(alpha=alpha, standardize=False, tol=1e-12, max_iter=100_000).fit(X, y)
    fit_rows = []
    for name in ("dreg Lasso", "glum GLR (gradient_tol default)", "glum GLR (gradient_tol=1e-10)"):
        m = last_fit[name]
        fit_rows.append(
            (
                name,
                med(runs_fit[name]),
                med(runs_fit[name]) / med(runs_fit["dreg Lasso"]),
                rel_diff(m.coef_, d_fit.coef_),
                rel_diff(m.coef_, d_tight.coef_),
                abs(float(m.intercept_) - float(d_tight.intercept_)),
                int(np.count_nonzero(m.coef_)),
            )
        )

    # ---------------------------------------------------------------- (d)
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    from dask_ml.linear_model import LinearRegression as DaskLinReg

    C = 1.0 / (2.0 * n * alpha)
    rows_per_chunk = -(-n // args.chunks)
    d_std = dreg.Lasso(alpha=alpha, standardize=True, tol=1e-12, max_iter=100_000).fit(X, y)
    tuned_kw = {"rho": float(rows_per_chunk), "max_iter": 500, "abstol": 1e-8, "reltol": 1e-6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, Client(
            cluster
        ):
            Xd = da.from_array(X, chunks=(rows_per_chunk, p)).persist()
            yd = da.from_array(y, chunks=(rows_per_chunk,)).persist()
            dreg.Lasso(alpha=alpha, standardize=False).fit(Xd, yd)  # warm-up
            runs_dask, last_dask = interleave(
                {
                    "dreg Lasso (dask array)": lambda: dreg.Lasso(alpha=alpha, standardize=False).fit(Xd, yd),
                    "dask-ml ADMM defaults": lambda: DaskLinReg(penalty="l1", solver="admm", C=C).fit(Xd, yd),
                    "dask-ml ADMM tuned": lambda: DaskLinReg(
                        penalty="l1", solver="admm", C=C, solver_kwargs=tuned_kw
                    ).fit(Xd, yd),
                },
                dreps,
                "dask",
            )
    base = med(runs_dask["dreg Lasso (dask array)"])
    dask_rows = []
    for name in ("dreg Lasso (dask array)", "dask-ml ADMM defaults", "dask-ml ADMM tuned"):
        m = last_dask[name]
        coef = np.asarray(m.coef_, float)
        dask_rows.append(
            (
                name,
                med(runs_dask[name]),
                med(runs_dask[name]) / base,
                int(np.count_nonzero(coef)),
                rel_diff(coef, d_tight.coef_),
                rel_diff(coef, d_std.coef_),
                float(m.intercept_),
            )
        )

    # ---------------------------------------------------------------- report
    cmd = "python benchmarks/" + Path(sys.argv[0]).name + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    t_d, t_g = med(runs_cv["dreg LassoCV"]), med(runs_cv["glum GeneralizedLinearRegressorCV"])
    lines = [
        machine_facts(),
        "",
        f"Command: `{cmd}`",
        "",
        f"Data: n = {n:,} rows, p = {p} float64 features in memory (`make_data` of `bench_cv.py`: AR(1) 0.5, "
        f"column means ~ N(0,1), {max(1, p // 10)} non-zero true coefficients, intercept 1, noise sd 2; "
        f"`np.random.default_rng(0)`). {reps} repetitions, contenders interleaved (order alternating), after one dreg "
        f"warm-up; medians of wall time. glum {glum.__version__}, dask-ml {dask_ml.__version__} "
        "(benchmark-only: `pip install glum dask-ml`).",
        "",
        "### (a)+(b) 5-fold lasso CV, dreg's 100-alpha grid",
        "",
        "Both get the same rows in the same folds (glum: `cv=list(PredefinedSplit(dreg.fold_ids(0, n, 5, 0)).split())`, "
        "which glum accepts; dreg: `cv=5, random_state=0`, the same assignment), the same grid (`alphas=dreg.alphas_`), "
        "`scale_predictors=False` (glum's default) = `standardize=False`, and the same objective "
        "(glum: `1/(2 sum s) * deviance + alpha*||w||_1`, normal deviance = sum of squares). Both refit on all rows.",
        "",
        "| contender | median s | ratio to dreg | alpha_ | index in grid |",
        "|---|---:|---:|---:|---:|",
        f"| dreg.LassoCV(standardize=False, cv=5) | {t_d:.2f} | 1.00 | {alpha:.6g} | {i_d} |",
        f"| glum GeneralizedLinearRegressorCV(l1_ratio=1, alphas=dreg.alphas_, cv=dreg folds) | {t_g:.2f} | "
        f"{t_g / t_d:.1f}x | {g_alpha:.6g} | {i_g} |",
        "",
        f"- same alpha_: **{'yes' if i_d == i_g else 'no'}**; final coef max rel. diff glum vs dreg: {cv_coef_diff:.2e} "
        "(glum at its default gradient_tol 1e-4).",
        f"- Per-repetition seconds: {fmt_runs(runs_cv)}",
        "",
        f"### (c) single lasso fit at dreg's alpha_ = {alpha:.6g}",
        "",
        "Coefficient differences are `max|b - b_ref| / max|b_ref|`; the tight reference is "
        "`dreg.Lasso(standardize=False, tol=1e-12)`.",
        "",
        "| contender | median s | ratio to dreg | rel. diff vs dreg (default tol) | rel. diff vs tight ref | "
        "abs. intercept diff vs tight ref | non-zeros |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t, r, dd, dt, di, nz in fit_rows:
        lines.append(f"| {name} | {t:.3f} | {r:.1f}x | {dd:.2e} | {dt:.2e} | {di:.2e} | {nz} |")
    lines += [
        "",
        f"- Per-repetition seconds: {fmt_runs(runs_fit)}",
        "",
        "### (d) dask-ml ADMM on a Dask array (LocalCluster, 2 workers x 1 thread, 127.0.0.1)",
        "",
        f"`X` as a persisted Dask array in {args.chunks} row chunks of {rows_per_chunk:,}; "
        f"`C = 1/(2 n alpha_) = {C:.4g}` (dask-glm's loss is the sum of squares and its penalty `lamduh*||b||_1`, "
        "`lamduh = 1/C`). dask-ml appends a ones column and the L1 prox covers it (penalized intercept); its "
        "`@normalize` wrapper standardizes the columns, so it solves the standardized lasso: compare with "
        "`dreg.Lasso(standardize=True)` (second error column). tuned = "
        f"`solver_kwargs={tuned_kw}`. {dreps} repetitions; dreg is fitted on the same Dask array.",
        "",
        "| contender | median s | ratio to dreg | non-zeros | rel. diff vs dreg standardize=False | "
        "rel. diff vs dreg standardize=True | intercept |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t, r, nz, e1, e2, b0 in dask_rows:
        lines.append(f"| {name} | {t:.2f} | {r:.1f}x | {nz} | {e1:.2e} | {e2:.2e} | {b0:.4f} |")
    lines += [
        "",
        f"- dreg intercepts: standardize=False {float(d_tight.intercept_):.4f}, standardize=True "
        f"{float(d_std.intercept_):.4f}; non-zeros {int(np.count_nonzero(d_tight.coef_))} / "
        f"{int(np.count_nonzero(d_std.coef_))}.",
        f"- Per-repetition seconds: {fmt_runs(runs_dask)}",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    if args.json:
        import json

        Path(args.json).write_text(
            json.dumps(
                {
                    "section": SECTION,
                    "command": cmd,
                    "n": n,
                    "p": p,
                    "cv": {"dreg": t_d, "glum": t_g, "ratio": t_g / t_d, "same_alpha": i_d == i_g,
                           "coef_diff": cv_coef_diff},
                    "single_fit": [
                        {"name": nm, "median": t, "ratio": r, "diff_vs_dreg": dd, "diff_vs_tight": dt}
                        for nm, t, r, dd, dt, _, _ in fit_rows
                    ],
                    "dask": [
                        {"name": nm, "median": t, "ratio": r, "nonzero": nz, "diff_vs_dreg": e1, "diff_vs_dreg_std": e2}
                        for nm, t, r, nz, e1, e2, _ in dask_rows
                    ],
                },
                indent=1,
                default=float,
            )
        )
    if not args.no_write:
        write_section(SECTION, "dreg vs glum and dask-ml (`bench_compare.py`, issue 6)", body)


if __name__ == "__main__":
    main()
