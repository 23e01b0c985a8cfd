"""Sparse logistic lasso CV: dreg's wide GLM engine against scikit-learn's LogisticRegressionCV (issue 15).

The matrix: ``n x p`` scipy.sparse CSR (default 10,000 x 5,000) at density
``--density`` (2e-3) with standard-normal stored values; ``y ~ Bernoulli(sigmoid(X beta - 0.5))``
with ``--nonzeros`` (250) true coefficients of size 1-3.  Both contenders get the
same 5 folds (``dreg.fold_ids(0, n, 5, 0)``; scikit-learn as ``(train, test)``
splits) and unstandardized features:

* ``dreg.LogisticRegressionCV(l1_ratio=1.0, alphas=--alphas, eps=--eps, standardize=False)``:
  ``engine='auto'`` takes the wide engine (sparse input); the 5 fold models
  and the all-rows model of every alpha move together in each pass;
* ``sklearn.linear_model.LogisticRegressionCV(Cs, l1_ratios=(1.0,), solver='liblinear' or 'saga')``
  at its default tol (1e-4) on the same grid: ``C = 1 / (alpha n_train)``
  with ``n_train`` the mean training rows of a fold (scikit-learn uses one C
  for all folds; dreg one alpha), refit on all rows at the best C.

Reported: wall times (median), ratio, dreg's passes and working set, both
chosen alphas, and the largest |coef difference| of dreg's final model from
scikit-learn ``LogisticRegression`` (liblinear, ``tol=1e-8``,
``intercept_scaling=1e4`` so that its penalized intercept column is nearly
free) refit at dreg's ``alpha_``.

Usage::

    python benchmarks/bench_wide_glm.py                 # 10,000 x 5,000, 20 alphas to 0.3 alpha_max, reps=3
    python benchmarks/bench_wide_glm.py --quick         # 4,000 x 5,000 smoke run
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

SECTION = "bench_wide_glm"


def make_data(n: int, p: int, density: float, nonzeros: int, seed: int):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    beta = np.zeros(p)
    beta[rng.choice(p, nonzeros, replace=False)] = rng.uniform(1.0, 3.0, nonzeros) * rng.choice([-1.0, 1.0], nonzeros)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta - 0.5)))).astype(np.int64)
    return X, y


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=5_000)
    ap.add_argument("--density", type=float, default=2e-3)
    ap.add_argument("--nonzeros", type=int, default=250)
    ap.add_argument("--alphas", type=int, default=20)
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--solver", default="liblinear", choices=["liblinear", "saga"])
    ap.add_argument("--sklearn-budget", type=float, default=300.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(args, argv, n=4_000, p=5_000, density=4e-3, reps=1)

    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.linear_model import LogisticRegressionCV as SkLRCV

    import dreg

    X, y = make_data(args.n, args.p, args.density, args.nonzeros, 0)
    n, p = X.shape
    folds = dreg.fold_ids(0, n, 5, 0)
    splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(5)]
    n_train = float(np.mean([len(tr) for tr, _ in splits]))

    def fit_dreg():
        return dreg.LogisticRegressionCV(l1_ratio=1.0, alphas=args.alphas, eps=args.eps, cv=splits, standardize=False).fit(X, y)

    grid = None

    def fit_sklearn():
        Cs = 1.0 / (grid * n_train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SkLRCV(Cs=Cs, cv=splits, l1_ratios=(1.0,), solver=args.solver, n_jobs=2, max_iter=1000,
                          scoring="neg_log_loss").fit(X, y)  # fmt: skip

    times: dict[str, list[float]] = {"dreg": [], "sklearn": []}
    loads = []
    last: dict[str, object] = {}
    for rep in range(args.reps):
        order = ["dreg", "sklearn"] if rep % 2 == 0 else ["sklearn", "dreg"]
        if grid is None:
            order = ["dreg", "sklearn"]
        for who in order:
            if who == "sklearn" and times["sklearn"] and max(times["sklearn"]) > args.sklearn_budget:
                continue
            gc.collect()
            loads.append(os.getloadavg()[0])
            t = time.perf_counter()
            model = fit_dreg() if who == "dreg" else fit_sklearn()
            times[who].append(time.perf_counter() - t)
            last[who] = model
            if who == "dreg":
                grid = np.asarray(model.alphas_, dtype=np.float64)
            print(f"{who}: {times[who][-1]:.2f} s", flush=True)
    ours, theirs = last["dreg"], last["sklearn"]
    sk_alpha = 1.0 / (float(theirs.C_[0]) * n_train)
    sk_index = int(np.argmin(np.abs(grid - sk_alpha)))
    t = time.perf_counter()
    ref = SkLR(C=1.0 / (ours.alpha_ * n), l1_ratio=1.0, solver="liblinear", tol=1e-8, max_iter=100_000,
               intercept_scaling=1e4).fit(X, y)  # fmt: skip
    t_ref = time.perf_counter() - t
    diff = float(np.abs(ref.coef_ - ours.coef_).max())
    d_med, s_med = float(np.median(times["dreg"])), float(np.median(times["sklearn"]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "dreg"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    cmd = "python benchmarks/bench_wide_glm.py" + ("" if not argv else " " + shlex.join(argv))
    body = "\n".join(
        [
            machine_facts(),
            "",
            f"Command: `{cmd}`",
            "",
            f"Code measured: {commit}{' with uncommitted changes under dreg/' if dirty else ''}.",
            "",
            f"Matrix: {n:,} x {p:,} scipy.sparse CSR, density {args.density:g} ({X.nnz:,} stored values, standard normal), "
            f"{args.nonzeros} true coefficients of size 1-3, logistic with offset -0.5 ({y.mean():.3f} positives). "
            f"The same 5 folds; dreg's grid of {args.alphas} alphas from alpha_max down to {args.eps} alpha_max, "
            f"scikit-learn's Cs = 1 / (alpha x {n_train:,.0f} mean training rows); unstandardized features; "
            f"scikit-learn LogisticRegressionCV(l1_ratios=(1.0,), solver='{args.solver}', tol=1e-4 default, n_jobs=2, "
            "scoring='neg_log_loss'); dreg LogisticRegressionCV (engine 'auto' -> "
            f"'{ours.engine_}', tol=1e-8 default).",
            "",
            "| contender | median wall s | all runs s |",
            "|---|---:|---|",
            f"| scikit-learn LogisticRegressionCV ({args.solver}) | {s_med:.2f} | {', '.join(f'{v:.2f}' for v in times['sklearn'])} |",
            f"| dreg LogisticRegressionCV (wide engine) | {d_med:.2f} | {', '.join(f'{v:.2f}' for v in times['dreg'])} |",
            "",
            f"- Ratio scikit-learn / dreg: **{s_med / d_med:.2f}x** ({'dreg' if d_med < s_med else 'scikit-learn'} faster).",
            f"- dreg: {ours.n_passes_} passes over the data in all ({ours.n_rounds_} working-set rounds, each a restricted "
            f"path solve plus one gradient pass over all {p:,} features), final working set {ours.working_set_:,} features, "
            f"{int(np.count_nonzero(ours.coef_))} non-zero coefficients at alpha_.",
            f"- alpha_: dreg {ours.alpha_:.6g} (grid index {ours.chosen_alpha_index_}); scikit-learn's best C is alpha "
            f"{sk_alpha:.6g} (nearest grid index {sk_index}; deviance vs log-loss scoring and one C for all folds "
            "can pick a neighbouring point).",
            f"- Largest |coef difference| of dreg's final model from scikit-learn LogisticRegression(liblinear, tol=1e-8, "
            f"intercept_scaling=1e4) at dreg's alpha_: {diff:.1e} (that refit took {t_ref:.2f} s); dreg's KKT violation "
            f"{ours.kkt_violation_:.1e}.",
            f"- 1-minute load average before each fit: {', '.join(f'{v:.2f}' for v in loads)}.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(SECTION, "Sparse logistic lasso CV: scikit-learn vs the wide GLM engine (issue 15)", body)


if __name__ == "__main__":
    main(sys.argv[1:])
