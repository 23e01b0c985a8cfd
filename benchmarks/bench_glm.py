"""Penalized logistic and Poisson CV paths: dreg against glum and scikit-learn, side by side in one run.

On the same in-memory float64 data, the same folds (``PredefinedSplit(dreg.fold_ids(0, n, 5, 0))``,
exactly dreg's assignment at ``random_state=0``) and the same alpha grid (dreg's
automatic 100-alpha grid, ``standardize=False`` everywhere so that the three
objectives are the same):

(a) binomial, ``l1_ratio`` 1 and 0: ``dreg.LogisticRegressionCV`` against glum's
    ``GeneralizedLinearRegressorCV(family='binomial')`` on the whole grid and
    scikit-learn's ``LogisticRegressionCV`` (``Cs = 1/(alpha n_train)``, saga for
    L1, lbfgs for L2, ``scoring='neg_log_loss'``);
(b) Poisson, ``l1_ratio`` 0 (scikit-learn's ``PoissonRegressor`` is L2 only):
    ``dreg.PoissonRegressorCV`` against glum's CV and scikit-learn
    ``PoissonRegressor`` warm-started along the grid on each fold.

scikit-learn is too slow on this shared 2-core machine for the whole grid at
1M rows, so it runs on ``--sk-alphas`` consecutive alphas of the grid (around
dreg's chosen alpha, warm-started as in its own path) on ``--sk-folds`` folds,
and its time is extrapolated linearly to 100 alphas x 5 folds (its final
refit is not counted: the extrapolation favours scikit-learn).  The chosen
alpha is compared on that same sub-grid and those folds (scikit-learn's best
``C`` against the argmin of dreg's held-out deviance there); glum's against
dreg's on the whole grid.

Usage::

    python benchmarks/bench_glm.py                 # n=1,000,000, p=100
    python benchmarks/bench_glm.py --n 100000 --no-write
    python benchmarks/bench_glm.py --configs binomial:0   # one path
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _results import machine_facts, write_section  # noqa: E402

import dreg  # noqa: E402


def data(n: int, p: int, family: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:20] = rng.standard_normal(20) * 0.3
    eta = X @ beta - 0.5
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(np.float64)
    return X, y


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run_glum(X, y, fold, family, l1_ratio, alphas):
    from glum import GeneralizedLinearRegressorCV
    from sklearn.model_selection import PredefinedSplit

    m = GeneralizedLinearRegressorCV(
        family=family, l1_ratio=l1_ratio, alphas=alphas, cv=PredefinedSplit(fold), scale_predictors=False, n_jobs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(X, y)


def sk_block(dr, k):
    """``k`` consecutive indices of the grid centred on dreg's chosen alpha."""
    A = dr.alphas_.size
    c = int(np.argmin(np.abs(dr.alphas_ - dr.alpha_)))
    lo = min(max(c - k // 2, 0), A - k)
    return np.arange(lo, lo + k)


def run_sklearn_logistic(X, y, fold, l1_ratio, alphas, folds_used):
    from sklearn.linear_model import LogisticRegressionCV

    n_train = float(np.mean([np.sum(fold != k) for k in range(5)]))
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in folds_used]
    kw = {"solver": "saga"} if l1_ratio > 0 else {"solver": "lbfgs"}
    m = LogisticRegressionCV(
        Cs=1 / (alphas * n_train), l1_ratios=(l1_ratio,), cv=splits, scoring="neg_log_loss", max_iter=1000,
        use_legacy_attributes=False, refit=False, **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(X, y)


def run_sklearn_poisson(X, y, fold, alphas, folds_used):
    from sklearn.linear_model import PoissonRegressor

    dev = np.zeros((alphas.size, len(folds_used)))
    for j, k in enumerate(folds_used):
        tr = fold != k
        m = PoissonRegressor(alpha=alphas[0], warm_start=True, max_iter=1000)
        for i, a in enumerate(alphas):
            m.set_params(alpha=a)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.fit(X[tr], y[tr])
            mu = m.predict(X[~tr])
            yk = y[~tr]
            dev[i, j] = 2 * np.mean(np.where(yk > 0, yk * np.log(np.where(yk > 0, yk, 1) / mu), 0) - (yk - mu))
    return dev


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--sk-alphas", type=int, default=3)
    ap.add_argument("--sk-folds", type=int, default=1)
    ap.add_argument("--no-glum", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--configs",
        nargs="+",
        default=["binomial:1", "binomial:0", "poisson:0"],
        metavar="FAMILY:L1_RATIO",
        help="which paths to run (default: binomial:1 binomial:0 poisson:0)",
    )
    args = ap.parse_args()
    n, p = args.n, args.p
    fold = dreg.fold_ids(0, n, 5, 0)
    folds_used = list(range(args.sk_folds))
    scale = (100 / args.sk_alphas) * (5 / args.sk_folds)
    rows = []
    configs = [(c.split(":")[0], float(c.split(":")[1])) for c in args.configs]
    for family, l1_ratio in configs:
        X, y = data(n, p, family)
        if family == "binomial":
            est = dreg.LogisticRegressionCV(l1_ratio=l1_ratio, alphas=100, standardize=False)
        else:
            est = dreg.PoissonRegressorCV(l1_ratio=l1_ratio, alphas=100, standardize=False)
        dr, t_dreg = timed(lambda: est.fit(X, y, folds=fold))  # noqa: B023
        row = {
            "family": family, "l1_ratio": l1_ratio, "dreg_s": t_dreg, "passes": dr.n_passes_,
            "per_pass_s": t_dreg / dr.n_passes_, "dreg_alpha": dr.alpha_,
        }
        print(family, l1_ratio, f"dreg {t_dreg:.1f}s, {dr.n_passes_} passes, alpha_={dr.alpha_:.4g}", flush=True)
        if not args.no_glum:
            gl, t_glum = timed(lambda: run_glum(X, y, fold, family, l1_ratio, dr.alphas_))  # noqa: B023
            row.update(glum_s=t_glum, glum_alpha=float(gl.alpha_), same_alpha_glum=bool(np.isclose(gl.alpha_, dr.alpha_)))
            print(f"  glum {t_glum:.1f}s alpha_={gl.alpha_:.4g}", flush=True)
        block = sk_block(dr, args.sk_alphas)
        sub = dr.alphas_[block]
        dev_sub = dr.deviance_path_[0][np.ix_(block, folds_used)].mean(axis=1)
        dreg_pick = float(sub[int(np.argmin(dev_sub))])
        if family == "binomial":
            sk, t_sk = timed(lambda: run_sklearn_logistic(X, y, fold, l1_ratio, sub, folds_used))  # noqa: B023
            n_train = float(np.mean([np.sum(fold != k) for k in range(5)]))
            sk_pick = float(1 / (np.ravel(sk.C_)[0] * n_train))
        else:
            dev, t_sk = timed(lambda: run_sklearn_poisson(X, y, fold, sub, folds_used))  # noqa: B023
            sk_pick = float(sub[int(np.argmin(dev.mean(axis=1)))])
        row.update(sk_measured_s=t_sk, sk_extrapolated_s=t_sk * scale, sk_pick=sk_pick, dreg_pick=dreg_pick,
                   same_alpha_sk=bool(np.isclose(sk_pick, dreg_pick, rtol=1e-6)))
        print(f"  sklearn {t_sk:.1f}s on {args.sk_alphas} alphas x {args.sk_folds} fold(s) -> {t_sk * scale:.0f}s", flush=True)
        rows.append(row)
        del X, y
    cmd = "python benchmarks/bench_glm.py " + " ".join(sys.argv[1:])
    lines = [
        machine_facts(),
        "",
        f"`{cmd.strip()}`: n={n:,}, p={p}, 5 folds, 100 alphas (dreg's grid, `standardize=False` for all), "
        f"the same folds for all. scikit-learn ran {args.sk_alphas} consecutive alphas around dreg's choice on "
        f"{args.sk_folds} fold(s), its time extrapolated x{scale:.0f} to the 100 x 5 path (its refit not counted); "
        + ("glum was not run (`--no-glum`)." if args.no_glum else "glum ran the whole grid."),
        "",
        "| family | l1_ratio | dreg s | passes (incl. pass 0, AUC) | s/pass | glum CV s | sklearn s (extrapolated) "
        "| sklearn / dreg | glum / dreg | same alpha as glum | same alpha as sklearn (sub-grid) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = r.get("glum_s")
        glum_s = "-" if g is None else f"{g:.1f}"
        glum_ratio = "-" if g is None else f"{g / r['dreg_s']:.1f}x"
        if g is None:
            glum_same = "-"
        elif r["same_alpha_glum"]:
            glum_same = "yes"
        else:
            glum_same = f"no ({r['glum_alpha']:.4g} vs {r['dreg_alpha']:.4g})"
        sk_same = "yes" if r["same_alpha_sk"] else f"no ({r['sk_pick']:.4g} vs {r['dreg_pick']:.4g})"
        lines.append(
            f"| {r['family']} | {r['l1_ratio']:g} | {r['dreg_s']:.1f} | {r['passes']} | {r['per_pass_s']:.1f} | "
            f"{glum_s} | {r['sk_extrapolated_s']:.0f} (measured {r['sk_measured_s']:.1f}) | "
            f"{r['sk_extrapolated_s'] / r['dreg_s']:.1f}x | {glum_ratio} | {glum_same} | {sk_same} |"
        )
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        if args.configs == ap.get_default("configs"):
            write_section("bench_glm", "Logistic and Poisson CV paths (bench_glm.py)", body)
        else:  # a subset gets its own section: the full run's stays
            key = "bench_glm_" + "_".join(c.replace(":", "-").replace(".", "") for c in args.configs)
            write_section(key, f"Logistic and Poisson CV paths (bench_glm.py {' '.join(args.configs)})", body)


if __name__ == "__main__":
    main()
