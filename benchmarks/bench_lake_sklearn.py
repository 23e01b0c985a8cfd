"""`dreg fit` on a Parquet lake against scikit-learn reading the same lake into memory.

For each lake size ``n`` (default 1,000,000 and 4,000,000 rows, p = 100; lakes of
``_lakes.py``: 250,000-row files, 64Ki-row row groups) and each comparison

(a) LassoCV, 100 alphas;
(b) ElasticNetCV, l1_ratio [0.2, 0.5, 0.9] x 100 alphas;
(c) RidgeCV against ``GridSearchCV(Ridge)``, ``--ridge-alphas`` (20) alphas,

the contenders are timed interleaved over ``--reps`` repetitions (order
reversed every other repetition, ``gc.collect()`` before each, wall time by
``time.perf_counter``, 1-minute load average sampled before each):

* **dreg**: ``dreg.job.pipeline.run_fit`` (what ``dreg fit`` runs: list the lake,
  one ``dreg-read-stats`` task per file, the merge tree, the CV paths and the
  refit from the statistics, the HTML report and the registry version) with
  ``standardize: false`` on a LocalCluster of ``--workers`` x 1 thread started
  beforehand (its start-up is reported, not counted), statistics cache off;
* **scikit-learn**: read the lake into numpy with pyarrow
  (``_lakes.read_lake_numpy``: file by file, columns into one preallocated
  float64 array) **and** fit ``LassoCV`` / ``ElasticNetCV`` /
  ``GridSearchCV(Ridge)`` with ``cv=PredefinedSplit(folds)``, where ``folds``
  are exactly the folds dreg gives the lake's rows (``_lakes.lake_folds``), on
  dreg's grid (ridge: ``alpha_sk = n_train * alpha_dreg``);
* **pyarrow read** alone (the share of scikit-learn's time that is reading).

Checks: same grid, same ``alpha_`` (and ``l1_ratio_``), coefficient difference,
and the whole held-out ``mse_path_`` of dreg against scikit-learn's (equal to
~1e-5 only when the folds are the same rows); with ``--tight lasso`` (default)
an extra untimed-for-the-ratio ``LassoCV(tol=1e-10)`` gives the reference the
coefficients are compared with.  Results go to the ``bench_lake_sklearn``
section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_lake_sklearn.py                   # n = 1M and 4M, p = 100, reps 3
    python benchmarks/bench_lake_sklearn.py --quick --no-write  # n = 100k, 200k, 1 rep
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _lakes  # noqa: E402
import bench_cv  # noqa: E402
from _results import quick_defaults, write_section  # noqa: E402
from bench_cv import cv_gap, fmt, index_of, interleave, rel_diff, timed, verdict  # noqa: E402

SECTION = "bench_lake_sklearn"
L1_RATIOS = [0.2, 0.5, 0.9]
LASSO_TARGET, ENET_TARGET = 5.0, 10.0
# bytes scikit-learn needs, as a multiple of X's float64 size: X, one training-fold copy
# (0.8 X), a test fold, the pyarrow table of one file, slack
SK_MEMORY_FACTOR = 3.0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000], help="lake rows")
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--rows-per-file", type=int, default=250_000)
    ap.add_argument("--row-group", type=int, default=65_536)
    ap.add_argument("--data-dir", default=_lakes.DEFAULT_DATA_DIR)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cv", type=int, default=5)
    ap.add_argument("--ridge-alphas", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="dreg's LocalCluster workers (1 thread each)")
    ap.add_argument("--only", nargs="+", choices=["lasso", "enet", "ridge"], default=["lasso", "enet", "ridge"])
    ap.add_argument(
        "--tight",
        choices=["none", "lasso", "all"],
        default="lasso",
        help="extra scikit-learn fits at tol=1e-10 as the coefficient reference (default: lasso only)",
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads in this process (scikit-learn and dreg's coordinator; not dreg's workers)",
    )
    ap.add_argument("--quick", action="store_true", help="n = 100k, 200k; 25k-row files; 1 rep")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", default=None, help="also write the headline figures to this JSON file")
    ap.add_argument("--section", default=SECTION)
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(
            args,
            argv if argv is not None else sys.argv[1:],
            sizes=[100_000, 200_000],
            rows_per_file=25_000,
            row_group=8_192,
            reps=1,
        )
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench_lake_sklearn.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    import psutil
    import sklearn  # noqa: F401  (loads the BLAS threadpoolctl reports)
    from distributed import Client, LocalCluster

    if args.blas_threads is not None:
        import threadpoolctl

        threadpoolctl.threadpool_limits(args.blas_threads)
    env = bench_cv.environment()
    for k, v in env.items():
        print(f"{k}: {v}", flush=True)
    spec = _lakes.LakeSpec(p=args.p, rows_per_file=args.rows_per_file, row_group=args.row_group)
    for n in args.sizes:
        spec.files_for(n)
    features = spec.features()
    tmp = Path(tempfile.mkdtemp(prefix="dreg-bench-lake-sklearn-"))
    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = Client(cluster)
    startup = time.perf_counter() - t0
    results = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for n in args.sizes:
                results.append(run_size(args, spec, features, n, cluster, tmp, psutil))
        warned = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}" for w in caught})
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)

    text, targets = report(args, env, results, command, warned, startup)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"section": args.section, "command": command, "sizes": results, "targets": targets}, indent=1)
        )
    if not args.no_write:
        write_section(
            args.section,
            "`dreg fit` on a lake vs scikit-learn reading the lake (`bench_lake_sklearn.py`, issue 6)",
            text,
        )
        print(f"wrote the {args.section} section of benchmarks/RESULTS.md")
    return 0


def run_size(args, spec, features, n, cluster, tmp, psutil) -> dict:
    from sklearn.linear_model import ElasticNetCV, LassoCV, Ridge
    from sklearn.model_selection import GridSearchCV, PredefinedSplit

    from dreg.job.pipeline import run_fit

    K = args.cv
    t = time.perf_counter()
    lake = _lakes.ensure_lake(Path(args.data_dir), spec, n)
    print(
        f"\n=== n = {n:,}: lake {lake} ({spec.files_for(n)} files, ready in {time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    folds = _lakes.lake_folds(lake, K)
    n_train = n - np.bincount(folds, minlength=K)
    split = PredefinedSplit(folds)
    x_bytes = n * args.p * 8
    avail = psutil.virtual_memory().available
    sk_ok = SK_MEMORY_FACTOR * x_bytes < avail
    out: dict = {
        "n": n,
        "files": spec.files_for(n),
        "lake": str(lake),
        "x_gib": x_bytes / 2**30,
        "available_gib": avail / 2**30,
        "sklearn_run": sk_ok,
        "n_train": [int(v) for v in n_train],
        "comparisons": {},
    }
    keep: dict = {}  # (grid, dreg estimator, sklearn estimator) per comparison, for the references
    if not sk_ok:
        print(
            f"skipping scikit-learn at n = {n:,}: needs ~{SK_MEMORY_FACTOR * x_bytes / 2**30:.1f} GiB, "
            f"{avail / 2**30:.1f} GiB available",
            flush=True,
        )

    def cfg(name: str, model: dict):
        return _lakes.fit_config(
            lake,
            features,
            tmp / "registry",
            name,
            {"cv": K, "standardize": False, **model},
            {"address": cluster.scheduler_address},
        )

    def dreg_fit(c):
        return lambda: run_fit(c, log=lambda m: None, tty=False).estimator

    def read():
        return _lakes.read_lake_numpy(lake, features)

    def sk(make):
        def run():
            X, y = read()
            return make().fit(X, y)

        return run

    def read_only():
        read()
        return None

    # --------------------------------------------------------------- (a) lasso
    if "lasso" in args.only:
        c = cfg("lasso", {"penalty": "lasso", "alphas": 100})
        t = time.perf_counter()
        grid = dreg_fit(c)().alphas_.copy()  # untimed: warm-up and dreg's grid
        print(f"  dreg warm-up (lasso) {time.perf_counter() - t:.2f} s", flush=True)
        contenders = {"dreg fit (lake)": dreg_fit(c)}
        if sk_ok:
            contenders["sklearn read + LassoCV (tol=1e-4)"] = sk(lambda: LassoCV(alphas=grid, cv=split))
            contenders["pyarrow read only"] = read_only
        times, m = interleave(contenders, args.reps, f"lasso n={n:,}")
        d = m["dreg fit (lake)"]
        sec = {"times": times.runs, "alpha_dreg": float(d.alpha_), "nonzero_dreg": int(np.count_nonzero(d.coef_))}
        if sk_ok:
            s = m["sklearn read + LassoCV (tol=1e-4)"]
            sec.update(
                grid_identical=bool(np.array_equal(s.alphas_, grid) and np.array_equal(d.alphas_, grid)),
                alpha_sklearn=float(s.alpha_),
                same_alpha=bool(d.alpha_ == s.alpha_),
                coef_diff=rel_diff(d.coef_, s.coef_),
                intercept_diff=abs(float(d.intercept_) - float(s.intercept_)),
                mse_path_diff=rel_diff(d.mse_path_, s.mse_path_),
                nonzero_sklearn=int(np.count_nonzero(s.coef_)),
            )
            if d.alpha_ != s.alpha_:
                sec["cv_excess"] = cv_gap(s.mse_path_.mean(axis=1), index_of(grid, d.alpha_))
        sec["grid"] = f"dreg's automatic 100-alpha grid {grid[0]:.4g} .. {grid[-1]:.4g}"
        out["comparisons"]["lasso"] = sec
        keep["lasso"] = (grid, d, m.get("sklearn read + LassoCV (tol=1e-4)"))

    # --------------------------------------------------------------- (b) elastic net
    if "enet" in args.only:
        auto = dreg_fit(cfg("enet-auto", {"penalty": "elasticnet", "l1_ratio": L1_RATIOS, "alphas": 100}))()
        i_wide = int(np.argmin(L1_RATIOS))
        grid = np.asarray(auto.alphas_)[i_wide].copy()
        c = cfg("enet", {"penalty": "elasticnet", "l1_ratio": L1_RATIOS, "alphas": [float(a) for a in grid]})
        contenders = {"dreg fit (lake)": dreg_fit(c)}
        if sk_ok:
            contenders["sklearn read + ElasticNetCV (tol=1e-4)"] = sk(
                lambda: ElasticNetCV(l1_ratio=L1_RATIOS, alphas=grid, cv=split)
            )
        times, m = interleave(contenders, args.reps, f"enet n={n:,}")
        d = m["dreg fit (lake)"]
        sec = {"times": times.runs, "alpha_dreg": f"{d.alpha_:.6g}, {d.l1_ratio_:g}"}
        if sk_ok:
            s = m["sklearn read + ElasticNetCV (tol=1e-4)"]
            s_alphas = np.broadcast_to(np.asarray(s.alphas_), (len(L1_RATIOS), grid.size))
            sec.update(
                grid_identical=bool(np.all(np.asarray(d.alphas_) == grid) and np.all(s_alphas == grid)),
                alpha_sklearn=f"{s.alpha_:.6g}, {s.l1_ratio_:g}",
                same_alpha=bool((d.alpha_, d.l1_ratio_) == (s.alpha_, s.l1_ratio_)),
                coef_diff=rel_diff(d.coef_, s.coef_),
                intercept_diff=abs(float(d.intercept_) - float(s.intercept_)),
                mse_path_diff=rel_diff(d.mse_path_, s.mse_path_),
            )
            if not sec["same_alpha"]:
                curve = s.mse_path_.mean(axis=-1)
                chosen = L1_RATIOS.index(d.l1_ratio_) * grid.size + index_of(grid, d.alpha_)
                sec["cv_excess"] = cv_gap(curve.ravel(), chosen)
        sec["grid"] = (
            f"dreg's automatic grid for l1_ratio={L1_RATIOS[i_wide]} (the widest), {grid[0]:.4g} .. {grid[-1]:.4g}, "
            "given to both as one shared grid"
        )
        out["comparisons"]["enet"] = sec
        keep["enet"] = (grid, d, m.get("sklearn read + ElasticNetCV (tol=1e-4)"))

    # --------------------------------------------------------------- (c) ridge
    if "ridge" in args.only:
        full = dreg_fit(cfg("ridge-auto", {"penalty": "ridge", "alphas": 100}))().alphas_
        take = np.unique(np.round(np.linspace(0, full.size - 1, min(args.ridge_alphas, full.size))).astype(int))
        grid = full[take].copy()
        scale = float(n_train.mean())
        exact = bool(np.all(n_train == n_train[0]))
        c = cfg("ridge", {"penalty": "ridge", "alphas": [float(a) for a in grid]})
        contenders = {"dreg fit (lake)": dreg_fit(c)}
        if sk_ok:
            contenders["sklearn read + GridSearchCV(Ridge)"] = sk(
                lambda: GridSearchCV(Ridge(), {"alpha": scale * grid}, cv=split, scoring="neg_mean_squared_error")
            )
        times, m = interleave(contenders, args.reps, f"ridge n={n:,}")
        d = m["dreg fit (lake)"]
        sec = {
            "times": times.runs,
            "alpha_dreg": float(d.alpha_),
            "grid": f"{grid.size} alphas evenly spaced (in log) along dreg's automatic ridge grid, "
            f"{grid[0]:.4g} .. {grid[-1]:.4g}; sklearn alpha = n_train * alpha with n_train = {scale:.0f}"
            + (" (every fold: exact)" if exact else f" (mean; folds range {n_train.min()}..{n_train.max()})"),
        }
        if sk_ok:
            s = m["sklearn read + GridSearchCV(Ridge)"]
            s_alpha = float(s.best_params_["alpha"]) / scale
            sec.update(
                alpha_sklearn=s_alpha,
                same_alpha=bool(grid[index_of(grid, s_alpha)] == d.alpha_),
                mse_path_diff=rel_diff(d.mse_mean_, -np.asarray(s.cv_results_["mean_test_score"])),
            )
        out["comparisons"]["ridge"] = sec
        keep["ridge"] = (grid, d, m.get("sklearn read + GridSearchCV(Ridge)"))

    # --------------------------------------------------------------- references (one more read, not in the ratios)
    need_ref = sk_ok and (
        ("lasso" in args.only and args.tight != "none")
        or ("enet" in args.only and args.tight == "all")
        or "ridge" in args.only
    )
    if need_ref:
        X, y = read()
        if "lasso" in args.only and args.tight != "none":
            sec = out["comparisons"]["lasso"]
            g, d, s = keep["lasso"]
            t, st = timed(lambda: LassoCV(alphas=g, cv=split, tol=1e-10, max_iter=100_000).fit(X, y))
            sec.update(
                tight_fit_seconds=t,
                alpha_tight=float(st.alpha_),
                same_alpha_tight=bool(d.alpha_ == st.alpha_),
                coef_diff_tight=rel_diff(d.coef_, st.coef_),
                sk_coef_diff_tight=rel_diff(s.coef_, st.coef_),
                mse_path_diff_tight=rel_diff(d.mse_path_, st.mse_path_),
            )
            print(f"  sklearn LassoCV tol=1e-10 (coefficient reference, fit only) {t:.1f} s", flush=True)
        if "enet" in args.only and args.tight == "all":
            sec = out["comparisons"]["enet"]
            g, d, s = keep["enet"]
            t, st = timed(
                lambda: ElasticNetCV(l1_ratio=L1_RATIOS, alphas=g, cv=split, tol=1e-10, max_iter=100_000).fit(X, y)
            )
            sec.update(
                tight_fit_seconds=t,
                same_alpha_tight=bool((d.alpha_, d.l1_ratio_) == (st.alpha_, st.l1_ratio_)),
                coef_diff_tight=rel_diff(d.coef_, st.coef_),
                sk_coef_diff_tight=rel_diff(s.coef_, st.coef_),
            )
            print(f"  sklearn ElasticNetCV tol=1e-10 (coefficient reference, fit only) {t:.1f} s", flush=True)
        if "ridge" in args.only:
            g, d, s = keep["ridge"]
            ref = Ridge(alpha=n * d.alpha_).fit(X, y)
            out["comparisons"]["ridge"]["coef_diff"] = rel_diff(d.coef_, ref.coef_)
        del X, y
    return out


TITLES = {
    "lasso": "(a) LassoCV, 100 alphas",
    "enet": "(b) ElasticNetCV, l1_ratio [0.2, 0.5, 0.9] x 100 alphas",
    "ridge": "(c) RidgeCV vs GridSearchCV(Ridge)",
}
SK_NAMES = {
    "lasso": "sklearn read + LassoCV (tol=1e-4)",
    "enet": "sklearn read + ElasticNetCV (tol=1e-4)",
    "ridge": "sklearn read + GridSearchCV(Ridge)",
}


def _med(v) -> float:
    return float(np.median(v))


def report(args, env, results, command, warned, startup) -> tuple[str, list[dict]]:
    out = [
        f"Command: `{command}`",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in env.items()],
        "",
        f"Lakes (`_lakes.py`, seed 0): `n` rows x {args.p} float64 features `x0..x{args.p - 1}` + `y`, "
        f"{args.rows_per_file:,}-row Parquet files (snappy, {args.row_group:,}-row row groups); rows as "
        "`bench_cv.make_data` (AR(1) 0.5, column means ~ N(0, 1), sparse truth, intercept 1, noise sd 2). "
        f"**dreg**: `run_fit` (= `dreg fit`: listing, data pass, {args.cv}-fold CV paths, refit, report, registry "
        f"write), `standardize: false`, cache off, on a LocalCluster of {args.workers} workers x 1 thread "
        f"(processes, 127.0.0.1) started before the clock (start-up {startup:.1f} s, not counted; an embedded "
        "`dreg fit` pays it once per run). **scikit-learn**: pyarrow read of the same lake into one float64 "
        "array (file by file, columns into a preallocated Fortran-order array) **plus** the fit, on "
        f"`PredefinedSplit(folds)` with `folds` = the fold dreg gives each row of the lake (`_lakes.lake_folds`: "
        "per file `file_fold_ids(file, 0, rows, K, 0)`, a stream keyed by the file's path relative to the lake, "
        "files in dreg's order), and dreg's grid. "
        f"{args.reps} repetitions, contenders interleaved (order reversed every other repetition), "
        "`gc.collect()` before each; medians of wall time (`time.perf_counter`). Ratios are sklearn/dreg "
        "(> 1: dreg faster).",
    ]
    targets: list[dict] = []
    for r in results:
        n = r["n"]
        out += ["", f"### n = {n:,} rows ({r['files']} files, X = {r['x_gib']:.2f} GiB as float64)", ""]
        if not r["sklearn_run"]:
            out += [
                f"**scikit-learn not run at this size**: it would need about {SK_MEMORY_FACTOR:g} x X = "
                f"{SK_MEMORY_FACTOR * r['x_gib']:.1f} GiB and {r['available_gib']:.1f} GiB were available. "
                "dreg's times are still reported.",
                "",
            ]
        out += [
            "| comparison | dreg fit s | sklearn read + fit s | of which pyarrow read s (median) | "
            "ratio sklearn/dreg | same alpha_ | coef rel. diff vs sklearn tol=1e-4 | coef rel. diff vs sklearn tol=1e-10 "
            "| mse_path_ rel. diff |",
            "|---|---:|---:|---:|---:|---|---:|---:|---:|",
        ]
        comps = r["comparisons"]
        read_s = (
            _med(comps["lasso"]["times"]["pyarrow read only"])
            if "pyarrow read only" in comps.get("lasso", {}).get("times", {})
            else None
        )
        for key, sec in comps.items():
            t_d = _med(sec["times"]["dreg fit (lake)"])
            row = [TITLES[key], f"{t_d:.2f}"]
            if r["sklearn_run"]:
                t_s = _med(sec["times"][SK_NAMES[key]])
                ratio = t_s / t_d
                sec["ratio"] = ratio
                row += [
                    f"{t_s:.2f}",
                    f"{read_s:.2f}" if read_s is not None else "—",
                    f"**{ratio:.1f}x**",
                    fmt(sec["same_alpha"]),
                    f"{sec['coef_diff']:.2e}" if key != "ridge" else "—",
                    f"{sec['coef_diff_tight']:.2e}" if "coef_diff_tight" in sec else "—",
                    f"{sec['mse_path_diff']:.2e}",
                ]
            else:
                row += ["not run"] + ["—"] * 6
            out.append("| " + " | ".join(row) + " |")
            if r["sklearn_run"] and key == "lasso":
                targets.append(
                    dict(
                        target=f"n={n:,}: LassoCV >= {LASSO_TARGET:g}x faster than sklearn (read + fit, default tol)",
                        measured=f"{ratio:.1f}x",
                        ok=ratio >= LASSO_TARGET,
                    )
                )
                same = sec["same_alpha"] and sec.get("same_alpha_tight", True)
                targets.append(
                    dict(
                        target=f"n={n:,}: LassoCV same alpha_ as sklearn"
                        + (" (tol=1e-4 and tol=1e-10)" if "same_alpha_tight" in sec else ""),
                        measured=fmt(same),
                        ok=bool(same),
                    )
                )
            if r["sklearn_run"] and key == "enet":
                targets.append(
                    dict(
                        target=f"n={n:,}: ElasticNetCV (3 l1_ratios) >= {ENET_TARGET:g}x faster than sklearn "
                        "(read + fit, default tol)",
                        measured=f"{ratio:.1f}x",
                        ok=ratio >= ENET_TARGET,
                    )
                )
                targets.append(
                    dict(
                        target=f"n={n:,}: ElasticNetCV same (alpha_, l1_ratio_) as sklearn",
                        measured=fmt(sec["same_alpha"]),
                        ok=bool(sec["same_alpha"]),
                    )
                )
        for key, sec in comps.items():
            out += ["", f"{TITLES[key]}, n = {n:,}: grid: {sec['grid']}."]
            facts = {k: v for k, v in sec.items() if k not in ("times", "grid", "ratio")}
            out.append("; ".join(f"{k} = {fmt(v)}" for k, v in facts.items()) + ".")
            out.append(
                "Per-repetition seconds: "
                + "; ".join(f"{k}: {', '.join(f'{t:.2f}' for t in ts)}" for k, ts in sec["times"].items())
                + "."
            )
        if r["sklearn_run"] and "ridge" in comps:
            out.append(
                "Ridge: `coef_diff` is against scikit-learn's `Ridge(alpha=n * alpha_)` on all rows (dreg's refit "
                "objective); `mse_path_diff` compares the mean CV curves over the grid."
            )
    out += ["", "#### Targets", "", "| target | measured | result |", "|---|---|---|"]
    out += [f"| {t['target']} | {t['measured']} | {verdict(t['ok'])} |" for t in targets] or [
        "| (no targeted comparison in this run) | | |"
    ]
    loads = np.asarray(bench_cv.LOAD_SAMPLES) if bench_cv.LOAD_SAMPLES else np.asarray([np.nan])
    out += [
        "",
        "Equal folds check: dreg's held-out `mse_path_` can equal scikit-learn's over the whole path only if "
        "both held out the same rows in each fold; `mse_path_diff_tight` (against scikit-learn at tol=1e-10) "
        "at ~1e-10 shows they did. Against scikit-learn's default tol=1e-4 the paths differ by up to ~1e-3 "
        "(`mse_path_diff`): its coordinate descent stops early along the path.",
        "",
        "Warnings raised during the run: " + ("; ".join(f"`{w}`" for w in warned) if warned else "none"),
        "",
        f"1-minute load average before the timed runs: min {np.nanmin(loads):.2f}, median {np.nanmedian(loads):.2f}, "
        f"max {np.nanmax(loads):.2f} ({os.cpu_count()} cores).",
    ]
    for t in targets:
        t["ok"] = bool(t["ok"])
    return "\n".join(out) + "\n", targets


if __name__ == "__main__":
    sys.exit(main())
