"""dreg's cross-validated estimators against scikit-learn, side by side in one run.

Three comparisons on the same in-memory float64 data, the same rows in the same
folds (``PredefinedSplit(dreg.fold_ids(0, n, K, 0))``, which is exactly how
dreg assigns rows at ``random_state=0``) and the same alpha grid:

(a) ``dreg.LassoCV(standardize=False)`` against ``sklearn LassoCV`` at its
    default ``tol`` and at ``tol=1e-10`` (the "tight" fit the coefficients are
    compared with);
(b) ``dreg.ElasticNetCV(l1_ratio=[0.2, 0.5, 0.9])`` against ``sklearn
    ElasticNetCV``, both given one explicit grid shared by all l1_ratios (dreg's
    automatic grid for the smallest l1_ratio, which is the widest);
(c) ``dreg.RidgeCV(standardize=False)`` against what a scikit-learn user does
    for K-fold ridge: ``GridSearchCV(Ridge(), {"alpha": n_train * alphas})``,
    on a shorter grid (``--ridge-alphas``, default 20) because every point of it
    costs scikit-learn K + 1 full Ridge fits.

Each repetition runs every contender once, in an order that alternates between
repetitions, with ``gc.collect()`` before each timed fit; the report gives the
median of each timing and the ratio of medians.  The results go to the
``bench_cv`` section of ``benchmarks/RESULTS.md`` (between the
``<!-- bench_cv:start -->`` and ``<!-- bench_cv:end -->`` markers, or those of
``--section NAME``); other sections of that file are left untouched.

Usage::

    python benchmarks/bench_cv.py                # n=1,000,000, p=100, reps=3
    python benchmarks/bench_cv.py --quick        # n=100,000 smoke run
    python benchmarks/bench_cv.py --n 200000 --p 50 --reps 5 --no-write
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_facts, write_section  # noqa: E402

SECTION = "bench_cv"
L1_RATIOS = [0.2, 0.5, 0.9]
TIGHT_TOL = 1e-10
# scikit-learn's default max_iter (1000) is too few sweeps for tol=1e-10
TIGHT_MAX_ITER = 100_000
LASSO_SPEEDUP_TARGET = 5.0
ENET_SPEEDUP_TARGET = 10.0
COEF_TARGET = 1e-6


# --------------------------------------------------------------------------- data
def make_data(n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlated features with a sparse known truth.

    ``X = Z @ L + mu`` with ``L^T L`` the AR(1) correlation ``0.5^|i-j|`` and
    column means ``mu ~ N(0, 1)`` (so the intercept matters);
    ``y = 1 + X @ beta + 2 * noise`` with ``beta`` non-zero on ``max(1, p // 10)``
    features, of mixed signs and sizes (some small enough that the lasso path
    takes them in late).
    """
    rng = np.random.default_rng(seed)
    lags = np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    L = np.linalg.cholesky(0.5**lags).T
    X = rng.standard_normal((n, p))
    X = X @ L
    X += rng.standard_normal(p)
    beta = np.zeros(p)
    k = max(1, p // 10)
    support = rng.choice(p, size=k, replace=False)
    beta[support] = rng.choice([-1.0, 1.0], size=k) * np.geomspace(2.0, 0.02, k)
    y = 1.0 + X @ beta + 2.0 * rng.standard_normal(n)
    return np.ascontiguousarray(X), y, beta


# --------------------------------------------------------------------------- timing
@dataclass
class Timings:
    """Seconds of each repetition, per contender (insertion order is the table order)."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.runs.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return float(np.median(self.runs[name]))


# 1-minute load average sampled before every timed fit
LOAD_SAMPLES: list[float] = []


def loadavg() -> float:
    try:
        return float(_read("/proc/loadavg").split()[0])
    except (IndexError, ValueError):
        return float("nan")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    LOAD_SAMPLES.append(loadavg())
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleave(contenders: dict[str, Callable[[], object]], reps: int, label: str) -> tuple[Timings, dict[str, object]]:
    """Run every contender once per repetition, alternating the order.

    Returns the timings and the last fitted model of each contender.
    """
    times = Timings()
    last: dict[str, object] = {}
    names = list(contenders)
    for r in range(reps):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            t, model = timed(contenders[name])
            times.add(name, t)
            last[name] = model
            print(f"  [{label}] rep {r + 1}/{reps} {name:<28s} {t:9.3f} s", flush=True)
    return times, last


# --------------------------------------------------------------------------- checks
def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max|b|`` (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = float(np.max(np.abs(b), initial=0.0))
    num = float(np.max(np.abs(a - b), initial=0.0))
    return num / den if den > 0 else num


def cv_gap(mean_mse: np.ndarray, i_chosen: int) -> float:
    """How much worse (relative) the CV error at ``i_chosen`` is than the minimum."""
    best = float(np.min(mean_mse))
    return (float(mean_mse[i_chosen]) - best) / best


def index_of(grid: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(np.asarray(grid) - value)))


# --------------------------------------------------------------------------- benchmarks
def bench_lasso(X, y, folds, K, reps):
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import PredefinedSplit

    import dreg

    # untimed: dreg's own grid, which scikit-learn is then given
    grid = dreg.LassoCV(standardize=False, cv=K).fit(X, y).alphas_.copy()
    split = PredefinedSplit(folds)
    contenders = {
        "dreg LassoCV": lambda: dreg.LassoCV(standardize=False, cv=K).fit(X, y),
        "sklearn LassoCV (tol=1e-4)": lambda: LassoCV(alphas=grid, cv=split).fit(X, y),
        "sklearn LassoCV (tol=1e-10)": lambda: LassoCV(
            alphas=grid, cv=split, tol=TIGHT_TOL, max_iter=TIGHT_MAX_ITER
        ).fit(X, y),
    }
    times, m = interleave(contenders, reps, "lasso")
    d, s, st = (m[k] for k in contenders)
    assert np.array_equal(d.alphas_, grid)
    checks = {
        "grid identical (dreg alphas_ == sklearn alphas_)": bool(
            np.array_equal(s.alphas_, grid) and np.array_equal(st.alphas_, grid)
        ),
        "alpha_ dreg": d.alpha_,
        "alpha_ sklearn tol=1e-4": s.alpha_,
        "alpha_ sklearn tol=1e-10": st.alpha_,
        "alpha_ identical to sklearn tol=1e-4": d.alpha_ == s.alpha_,
        "alpha_ identical to sklearn tol=1e-10": d.alpha_ == st.alpha_,
        "coef rel. diff vs sklearn tol=1e-10": rel_diff(d.coef_, st.coef_),
        "coef rel. diff sklearn tol=1e-4 vs tol=1e-10": rel_diff(s.coef_, st.coef_),
        "intercept abs. diff vs sklearn tol=1e-10": abs(d.intercept_ - st.intercept_),
        "mse_path_ rel. diff vs sklearn tol=1e-10": rel_diff(d.mse_path_, st.mse_path_),
        "nonzero coefs dreg / sklearn tol=1e-10": (f"{np.count_nonzero(d.coef_)} / {np.count_nonzero(st.coef_)}"),
    }
    if d.alpha_ != st.alpha_:
        checks["CV-error excess of dreg's alpha_ on sklearn's tight curve"] = cv_gap(
            st.mse_path_.mean(axis=1), index_of(grid, d.alpha_)
        )
    return (
        times,
        checks,
        {"grid": f"dreg's automatic 100-alpha grid, {grid[0]:.4g} .. {grid[-1]:.4g}"},
    )


def bench_enet(X, y, folds, K, reps):
    from sklearn.linear_model import ElasticNetCV
    from sklearn.model_selection import PredefinedSplit

    import dreg

    # untimed: dreg's per-l1_ratio grids; the widest (smallest l1_ratio) is shared
    auto = dreg.ElasticNetCV(l1_ratio=L1_RATIOS, standardize=False, cv=K).fit(X, y)
    i_wide = int(np.argmin(L1_RATIOS))
    grid = np.asarray(auto.alphas_)[i_wide].copy()
    split = PredefinedSplit(folds)
    contenders = {
        "dreg ElasticNetCV": lambda: dreg.ElasticNetCV(l1_ratio=L1_RATIOS, alphas=grid, standardize=False, cv=K).fit(
            X, y
        ),
        "sklearn ElasticNetCV (tol=1e-4)": lambda: ElasticNetCV(l1_ratio=L1_RATIOS, alphas=grid, cv=split).fit(X, y),
        "sklearn ElasticNetCV (tol=1e-10)": lambda: ElasticNetCV(
            l1_ratio=L1_RATIOS, alphas=grid, cv=split, tol=TIGHT_TOL, max_iter=TIGHT_MAX_ITER
        ).fit(X, y),
    }
    times, m = interleave(contenders, reps, "enet")
    d, s, st = (m[k] for k in contenders)
    s_alphas = np.broadcast_to(np.asarray(s.alphas_), (len(L1_RATIOS), grid.size))
    checks = {
        "grid identical (shared, all l1_ratios)": bool(
            np.all(np.asarray(d.alphas_) == grid) and np.all(s_alphas == grid)
        ),
        "alpha_, l1_ratio_ dreg": f"{d.alpha_:.6g}, {d.l1_ratio_:g}",
        "alpha_, l1_ratio_ sklearn tol=1e-4": f"{s.alpha_:.6g}, {s.l1_ratio_:g}",
        "alpha_, l1_ratio_ sklearn tol=1e-10": f"{st.alpha_:.6g}, {st.l1_ratio_:g}",
        "(alpha_, l1_ratio_) identical to sklearn tol=1e-4": (d.alpha_, d.l1_ratio_) == (s.alpha_, s.l1_ratio_),
        "(alpha_, l1_ratio_) identical to sklearn tol=1e-10": (d.alpha_, d.l1_ratio_) == (st.alpha_, st.l1_ratio_),
        "coef rel. diff vs sklearn tol=1e-10": rel_diff(d.coef_, st.coef_),
        "coef rel. diff sklearn tol=1e-4 vs tol=1e-10": rel_diff(s.coef_, st.coef_),
        "intercept abs. diff vs sklearn tol=1e-10": abs(d.intercept_ - st.intercept_),
        "mse_path_ rel. diff vs sklearn tol=1e-10": rel_diff(d.mse_path_, st.mse_path_),
    }
    if (d.alpha_, d.l1_ratio_) != (st.alpha_, st.l1_ratio_):
        curve = st.mse_path_.mean(axis=-1)  # (l1_ratio, alpha) on the shared grid
        chosen = L1_RATIOS.index(d.l1_ratio_) * grid.size + index_of(grid, d.alpha_)
        checks["CV-error excess of dreg's choice on sklearn's tight curves"] = cv_gap(curve.ravel(), chosen)
    info = {
        "grid": f"dreg's l1_ratio={L1_RATIOS[i_wide]} grid (the widest), "
        f"{grid[0]:.4g} .. {grid[-1]:.4g}, "
        "passed as `alphas=` to both",
    }
    return times, checks, info


def bench_ridge(X, y, folds, K, reps, n_grid):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, PredefinedSplit

    import dreg

    full = dreg.RidgeCV(standardize=False, cv=K).fit(X, y).alphas_  # untimed
    take = np.unique(np.round(np.linspace(0, full.size - 1, min(n_grid, full.size))).astype(int))
    grid = full[take].copy()
    n = X.shape[0]
    n_train = n - np.bincount(folds, minlength=K)
    # sklearn's Ridge penalty is unscaled: alpha_sklearn = n_train * alpha_dreg.
    # One sklearn grid serves every fold, so it is scaled by the mean n_train;
    # with n divisible by K every fold has exactly n - n/K training rows and the
    # conversion is exact.
    scale = float(n_train.mean())
    exact = bool(np.all(n_train == n_train[0]))
    split = PredefinedSplit(folds)
    contenders = {
        "dreg RidgeCV": lambda: dreg.RidgeCV(alphas=grid, standardize=False, cv=K).fit(X, y),
        "sklearn GridSearchCV(Ridge)": lambda: GridSearchCV(
            Ridge(), {"alpha": scale * grid}, cv=split, scoring="neg_mean_squared_error"
        ).fit(X, y),
    }
    times, m = interleave(contenders, reps, "ridge")
    d, s = (m[k] for k in contenders)
    s_alpha = float(s.best_params_["alpha"]) / scale
    i_s = index_of(grid, s_alpha)
    sk_mse = -np.asarray(s.cv_results_["mean_test_score"])  # same order as the grid
    # reference for the coefficients: sklearn Ridge on all rows at dreg's alpha_
    ref = Ridge(alpha=n * d.alpha_).fit(X, y)
    i_d = index_of(grid, d.alpha_)
    checks = {
        "alpha_ dreg": d.alpha_,
        "best alpha sklearn / n_train": s_alpha,
        "chosen alpha identical (same grid point)": bool(grid[i_s] == d.alpha_),
        "chosen grid point (0 = largest alpha)": f"dreg {i_d}, sklearn {i_s} of {grid.size}"
        + (" (an end of the grid)" if i_d in (0, grid.size - 1) else ""),
        "mean CV MSE rel. diff (dreg vs sklearn, whole grid)": rel_diff(d.mse_mean_, sk_mse),
        "coef rel. diff vs sklearn Ridge(alpha=n*alpha_) on all rows": rel_diff(d.coef_, ref.coef_),
    }
    info = {
        "grid": f"{grid.size} alphas evenly spaced (in log) along dreg's automatic "
        f"{full.size}-alpha ridge grid, "
        f"{grid[0]:.4g} .. {grid[-1]:.4g}, the same grid for both (`--ridge-alphas`)",
        "scaling": f"sklearn alpha = n_train * dreg alpha with n_train = {scale:.0f} "
        + (
            "(every fold has exactly this many training rows: exact)"
            if exact
            else f"(mean over folds; fold n_train ranges {n_train.min()}..{n_train.max()}, "
            f"a relative mismatch up to {(n_train.max() - n_train.min()) / scale:.1e})"
        ),
        "sklearn refit": "GridSearchCV refits Ridge on all rows at n_train * alpha (included in its time)",
    }
    return times, checks, info


# --------------------------------------------------------------------------- environment
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def environment() -> dict[str, str]:
    """``machine_facts`` (date, CPU, cores, RAM, versions) plus the BLAS, dreg's git state, load."""
    import threadpoolctl

    pools = []
    for info in threadpoolctl.threadpool_info():
        pools.append(
            f"{info.get('internal_api')} {info.get('version')} ({info.get('user_api')}, "
            f"{info.get('num_threads')} threads, {info.get('threading_layer', '-')}, "
            f"arch {info.get('architecture', '-')}, {Path(info.get('filepath', '')).name})"
        )

    def git(*args: str) -> str:
        try:
            return (
                subprocess.run(
                    ["git", *args], cwd=HERE.parent, capture_output=True, text=True, timeout=30
                ).stdout.strip()
                or "?"
            )
        except (OSError, subprocess.SubprocessError):
            return "?"

    dirty = git("diff", "--name-only", "HEAD", "--", "dreg")
    return {
        "machine and versions": machine_facts(),
        "dreg source": f"git {git('rev-parse', '--short', 'HEAD')}"
        + (f"; uncommitted changes in {', '.join(dirty.split())}" if dirty else "; dreg/ clean"),
        "BLAS (threadpoolctl)": "; ".join(pools) or "?",
        "load average at start": " ".join(_read("/proc/loadavg").split()[:3]),
    }


# --------------------------------------------------------------------------- report
def fmt(v: object) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "**no**"
    if isinstance(v, float | np.floating):
        return f"{v:.3g}"
    return str(v)


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def title(args: argparse.Namespace) -> str:
    threads = "" if args.blas_threads is None else f", BLAS limited to {args.blas_threads} thread"
    return f"Cross-validation against scikit-learn (`bench_cv.py`{threads})"


def report(args, env, sections, command, warned) -> str:
    """The section's body; ``write_section`` adds the markers and the title."""
    out = [
        f"Command: `{command}`",
        "",
        f"Data: n = {args.n:,} rows, p = {args.p} features, float64 in memory; "
        f"AR(1) correlation 0.5, column means ~ N(0, 1), {max(1, args.p // 10)} non-zero "
        "true coefficients (2 .. 0.02, mixed signs), "
        f"intercept 1, noise sd 2 (`make_data`, seed 0). {args.cv} folds: "
        f"`PredefinedSplit(dreg.fold_ids(0, n, {args.cv}, 0))` for scikit-learn, "
        "dreg's own (identical) folds. "
        f"{args.reps} repetitions, contenders interleaved (order alternates per repetition), "
        "`gc.collect()` before each fit; medians of wall time (`time.perf_counter`).",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in env.items()]
    out += [
        "",
        "The machine is shared (other jobs may run concurrently); "
        "only ratios measured in this same run "
        "should be compared. Per-repetition times are listed under each table.",
        "",
        "### Timings (median seconds)",
        "",
        "| comparison | dreg | scikit-learn (default tol) | ratio sklearn/dreg | "
        "scikit-learn (tol=1e-10) | ratio tight/dreg |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for sec in sections:
        names = list(sec["times"].runs)
        med = [sec["times"].median(k) for k in names]
        row = [sec["title"], f"{med[0]:.2f}", f"{med[1]:.2f}", f"{med[1] / med[0]:.1f}x"]
        row += [f"{med[2]:.2f}", f"{med[2] / med[0]:.1f}x"] if len(med) > 2 else ["—", "—"]
        out.append("| " + " | ".join(row) + " |")
    out += ["", "### Targets", "", "| target | measured | result |", "|---|---|---|"]
    rows = targets(sections)
    for target, measured, ok in rows:
        out.append(f"| {target} | {measured} | {verdict(ok)} |")
    if not rows:
        out.append("| (no targeted comparison in this run) | | |")
    for sec in sections:
        out += ["", f"### {sec['title']}", ""]
        out += [f"- {k}: {v}" for k, v in sec["info"].items()]
        out += ["", "| check | value |", "|---|---|"]
        out += [f"| {k} | {fmt(v)} |" for k, v in sec["checks"].items()]
        out += [
            "",
            "Per-repetition seconds: "
            + "; ".join(f"{k}: {', '.join(f'{t:.2f}' for t in ts)}" for k, ts in sec["times"].runs.items()),
        ]
    out += [
        "",
        "Warnings raised during the run: " + ("; ".join(f"`{w}`" for w in warned) if warned else "none"),
    ]
    loads = np.asarray(LOAD_SAMPLES)
    out += [
        "",
        f"1-minute load average before the timed fits: min {np.nanmin(loads):.2f}, "
        f"median {np.nanmedian(loads):.2f}, max {np.nanmax(loads):.2f} "
        f"({os.cpu_count()} cores); at the end: {' '.join(_read('/proc/loadavg').split()[:3])}",
    ]
    return "\n".join(out) + "\n"


def targets(sections) -> list[tuple[str, str, bool]]:
    by = {s["key"]: s for s in sections}
    rows = []
    if "lasso" in by:
        s = by["lasso"]
        names = list(s["times"].runs)
        ratio = s["times"].median(names[1]) / s["times"].median(names[0])
        same = bool(s["checks"]["alpha_ identical to sklearn tol=1e-10"])
        coef = float(s["checks"]["coef rel. diff vs sklearn tol=1e-10"])
        rows.append(
            (
                f"LassoCV >= {LASSO_SPEEDUP_TARGET:g}x faster than sklearn LassoCV (default tol)",
                f"{ratio:.1f}x",
                ratio >= LASSO_SPEEDUP_TARGET,
            )
        )
        rows.append(("LassoCV alpha_ identical to sklearn (tol=1e-10)", fmt(same), same))
        rows.append(
            (
                f"LassoCV coef within {COEF_TARGET:g} relative of sklearn (tol=1e-10)",
                f"{coef:.2e}",
                coef <= COEF_TARGET,
            )
        )
    if "enet" in by:
        s = by["enet"]
        names = list(s["times"].runs)
        ratio = s["times"].median(names[1]) / s["times"].median(names[0])
        rows.append(
            (
                f"ElasticNetCV (3 l1_ratios) >= {ENET_SPEEDUP_TARGET:g}x faster than sklearn "
                "ElasticNetCV (default tol)",
                f"{ratio:.1f}x",
                ratio >= ENET_SPEEDUP_TARGET,
            )
        )
    return rows


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    ap.add_argument("--p", type=int, default=100, help="features (default 100)")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
    ap.add_argument("--cv", type=int, default=5, help="folds (default 5)")
    ap.add_argument(
        "--ridge-alphas",
        type=int,
        default=20,
        help="alphas in the ridge comparison (default 20; sklearn fits cv+1 Ridges per alpha)",
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (threadpoolctl) for every contender; default: library default",
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: n=100,000 (unless --n is given)")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["lasso", "enet", "ridge"],
        default=["lasso", "enet", "ridge"],
        help="comparisons to run (default all)",
    )
    ap.add_argument("--no-write", action="store_true", help="print the report, do not touch RESULTS.md")
    ap.add_argument(
        "--section",
        default=SECTION,
        help=f"name of the section of benchmarks/RESULTS.md to replace (default {SECTION})",
    )
    args = ap.parse_args(argv)
    if args.quick and "--n" not in (argv if argv is not None else sys.argv[1:]):
        args.n = 100_000
    if args.n < 2 * args.cv or args.p < 1 or args.reps < 1 or args.cv < 2:
        ap.error("need n >= 2 * cv, p >= 1, reps >= 1, cv >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench_cv.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    import sklearn  # noqa: F401  (loads the BLAS libraries threadpoolctl reports)

    import dreg

    if args.blas_threads is not None:
        import threadpoolctl

        threadpoolctl.threadpool_limits(args.blas_threads)
    env = environment()
    for k, v in env.items():
        print(f"{k}: {v}")
    t0 = time.perf_counter()
    X, y, _ = make_data(args.n, args.p)
    folds = dreg.fold_ids(0, args.n, args.cv, 0)
    print(f"data: {X.shape} in {time.perf_counter() - t0:.1f} s", flush=True)

    sections = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if "lasso" in args.only:
            times, checks, info = bench_lasso(X, y, folds, args.cv, args.reps)
            sections.append(
                dict(
                    key="lasso",
                    title="(a) LassoCV, 100 alphas",
                    times=times,
                    checks=checks,
                    info=info,
                )
            )
        if "enet" in args.only:
            times, checks, info = bench_enet(X, y, folds, args.cv, args.reps)
            sections.append(
                dict(
                    key="enet",
                    title="(b) ElasticNetCV, l1_ratio [0.2, 0.5, 0.9] x 100 alphas",
                    times=times,
                    checks=checks,
                    info=info,
                )
            )
        if "ridge" in args.only:
            times, checks, info = bench_ridge(X, y, folds, args.cv, args.reps, args.ridge_alphas)
            sections.append(
                dict(
                    key="ridge",
                    title=f"(c) RidgeCV vs GridSearchCV(Ridge), {args.ridge_alphas} alphas",
                    times=times,
                    checks=checks,
                    info=info,
                )
            )
    warned = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}" for w in caught})

    text = report(args, env, sections, command, warned)
    print()
    print(f"## {title(args)}\n\n{text}")
    if not args.no_write:
        write_section(args.section, title(args), text)
        print(f"wrote the {args.section} section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
