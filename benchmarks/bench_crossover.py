"""Where the wide engine beats the Gram engine on scipy.sparse input, on this machine (issue 15, item 6).

dreg's least-squares estimators fit scipy.sparse ``X`` with two exact engines:
``engine='gram'`` builds ``K + 1`` dense ``p x p`` Grams (``K`` folds and the
refit) in one sparse pass and solves the paths from them; ``engine='wide'``
(:mod:`dreg.core.wide`) grows a working set with strong rules and KKT passes
over the data.  This script times both, side by side, on sparse matrices like
one-hot or hashed data and reports, per density, the smallest ``p`` of the grid
from which the wide engine is faster (the crossover).  A few cases at other
``n`` tell which property of the matrix decides it: the density ``d``, the
stored values per column ``n d``, or the rows two columns share on average,
``n d^2`` (``(nnz / p)^2 / n``), which measures how far the columns are from
orthogonal (``engine='auto'``'s rule in ``dreg/estimators/_base.py`` uses the last).

The matrices: ``n x p`` (default 20,000 rows) scipy.sparse CSC with stored
entries at uniformly random positions (density ``d``, so ``n d`` stored values
per column on average) and values ``+1`` or ``-1`` (signed feature hashing;
``--values normal`` gives bench_wide.py's standard-normal values);
``y = X beta + 1.5 + noise`` with ``--nonzeros`` (50) true coefficients of size
1-3 and noise sd 0.5, as in bench_wide.py.  One matrix per (density, p), seeded
by both.

A case is ``KIND:DENSITY:P,P,...[@N]`` (``--case``, repeatable; ``@N``: ``N``
rows instead of ``--n``):

* ``lasso``: ``dreg.LassoCV(cv=5, alphas=100, standardize=False, engine=...)``;
* ``enet<r>`` (e.g. ``enet0.5``, ``enet0.01``): ``dreg.ElasticNetCV`` with
  ``l1_ratio=r``, same settings (``r = 0.01`` is ridge-like);

at the defaults otherwise (``tol=1e-7``, ``n_jobs=None``: every CPU).  For
each (case, p) the two engines run ``--reps`` (3) times, interleaved, the
order reversed on every other repetition, ``gc.collect()`` before each fit,
wall time by ``time.perf_counter``; the table gives the medians.  A warm-up fit
of both engines on a small matrix (numba compilation) runs before any timing.

Checks, per (case, p): both engines pick the same ``alpha_`` (the same index
of ``alphas_``; the two engines compute ``alpha_max`` in different orders, so
the grids may differ in the last bits), and the largest |coef_ difference| is
at most ``1e-6``.  Recorded: the wide engine's passes over the data per alpha
(``passes_``: one gradient pass per KKT check, one Gram-column pass per
admission to the working set), its final working set, and the 1-minute load
average before every fit.

Usage::

    python benchmarks/bench_crossover.py                 # the default cases: ~8 min on a quiet 2-core box (3-4x longer at a load of 14)
    python benchmarks/bench_crossover.py --quick         # n = 4,000, small p, 1 repetition
    python benchmarks/bench_crossover.py --case lasso:1e-3:500,1000 --reps 1 --no-write
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_facts, quick_defaults, write_section  # noqa: E402

SECTION = "bench_crossover"
DEFAULT_CASES = [
    "lasso:1e-3:250,500,1000,1500,2000,3000",
    "lasso:2e-3:1000,1500,2000",
    "lasso:3e-3:2000",
    "lasso:5e-3:2000",
    "lasso:1e-2:250,1000,2000",
    # other n: is the boundary a density, stored values per column, or rows shared by two columns?
    "lasso:1e-3:1000,2000@80000",
    "lasso:4e-3:1000,2000@5000",
    "lasso:1e-2:1000@5000",
    "enet0.5:1e-3:1000,2000",
    "enet0.01:1e-3:1000,2000",
]
QUICK_CASES = ["lasso:1e-3:100,400", "lasso:1e-2:100,400", "lasso:1e-2:400@1000", "enet0.5:1e-3:400"]
ENGINES = ("gram", "wide")


def make_data(n: int, p: int, density: float, nonzeros: int, noise: float, values: str, seed: int):
    rng = np.random.default_rng(seed)
    if values == "sign":
        data_rvs = lambda k: rng.choice([-1.0, 1.0], k)  # noqa: E731
    else:
        data_rvs = rng.standard_normal
    X = sp.random(n, p, density=density, format="csc", random_state=rng, data_rvs=data_rvs)
    beta = np.zeros(p)
    k = min(nonzeros, p)
    beta[rng.choice(p, k, replace=False)] = rng.uniform(1.0, 3.0, k) * rng.choice([-1.0, 1.0], k)
    y = X @ beta + 1.5 + noise * rng.standard_normal(n)
    return X, y


@dataclass(frozen=True)
class Case:
    kind: str
    l1_ratio: float
    density: float
    ps: tuple[int, ...]
    n: int | None = None

    @classmethod
    def parse(cls, text: str) -> Case:
        text, _, n = text.partition("@")
        kind, density, ps = text.split(":")
        if kind == "lasso":
            l1 = 1.0
        elif kind.startswith("enet"):
            l1 = float(kind[4:])
        else:
            raise SystemExit(f"--case kind must be 'lasso' or 'enet<l1_ratio>', got {kind!r}")
        return cls(kind, l1, float(density), tuple(int(v) for v in ps.split(",")), int(n) if n else None)

    @property
    def label(self) -> str:
        return "LassoCV" if self.kind == "lasso" else f"ElasticNetCV(l1_ratio={self.l1_ratio:g})"

    def estimator(self, engine: str, folds: int, alphas: int):
        import dreg

        kw = dict(cv=folds, alphas=alphas, standardize=False, engine=engine)
        if self.kind == "lasso":
            return dreg.LassoCV(**kw)
        return dreg.ElasticNetCV(l1_ratio=self.l1_ratio, **kw)


@dataclass
class Row:
    case: Case
    n: int
    p: int
    nnz: int
    times: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENGINES})
    loads: list[float] = field(default_factory=list)
    same_alpha: bool = False
    alpha_rel: float = 0.0
    coef_diff: float = 0.0
    passes_mean: float = 0.0
    passes_max: int = 0
    n_passes: int = 0
    working_set: int = 0
    n_nonzero: int = 0

    def median(self, engine: str) -> float:
        return float(np.median(self.times[engine]))

    @property
    def ratio(self) -> float:
        """Gram time over wide time: above 1 the wide engine is faster."""
        return self.median("gram") / self.median("wide")

    @property
    def shared(self) -> float:
        """Rows two features share on average, ``(nnz / p)^2 / n`` (``n d^2`` at density ``d``)."""
        return (self.nnz / self.p) ** 2 / self.n


def crossover(rows: list[Row]) -> str:
    """The smallest p of the grid from which the wide engine is faster at every larger p measured."""
    rows = sorted(rows, key=lambda r: r.p)
    wins = [r.ratio > 1.0 for r in rows]
    first = next((i for i in range(len(rows)) if all(wins[i:])), None)
    if first is None:
        return f"none up to p = {rows[-1].p:,} (wide slower at the largest p, {rows[-1].ratio:.2f}x)"
    if first == 0:
        return f"at or below p = {rows[0].p:,} (the smallest p measured)"
    return f"between p = {rows[first - 1].p:,} and {rows[first].p:,}"


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument(
        "--case", action="append", help="KIND:DENSITY:P,P,...[@N] (repeatable); default: " + " ".join(DEFAULT_CASES)
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--alphas", type=int, default=100)
    ap.add_argument("--nonzeros", type=int, default=50)
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--values", choices=["sign", "normal"], default="sign")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="n = 4,000, small p, 1 repetition")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(args, argv, n=4_000, reps=1)
        if not args.case:
            args.case = QUICK_CASES
    cases = [Case.parse(c) for c in (args.case or DEFAULT_CASES)]

    started = time.perf_counter()
    # numba compiles both engines' kernels on their first fit: not part of any timing
    Xw, yw = make_data(2_000, 200, 0.01, 10, args.noise, args.values, args.seed)
    for case in {c.kind: c for c in cases}.values():
        for engine in ENGINES:
            case.estimator(engine, args.folds, 10).fit(Xw, yw)

    rows: list[Row] = []
    for case in cases:
        n = case.n or args.n
        for p in case.ps:
            seed = [args.seed, p, int(round(case.density * 1e6))] + ([n] if case.n else [])
            X, y = make_data(n, p, case.density, args.nonzeros, args.noise, args.values, seed)
            row = Row(case, n, p, int(X.nnz))
            models = {}
            for rep in range(args.reps):
                for engine in ENGINES if rep % 2 == 0 else ENGINES[::-1]:
                    gc.collect()
                    row.loads.append(os.getloadavg()[0])
                    start = time.perf_counter()
                    models[engine] = case.estimator(engine, args.folds, args.alphas).fit(X, y)
                    row.times[engine].append(time.perf_counter() - start)
            gram, wide = models["gram"], models["wide"]
            assert (gram.engine_, wide.engine_) == ENGINES
            # selection='min' (the default): coef_ is at alpha_, index chosen_alpha_index_ of alphas_
            row.same_alpha = int(gram.chosen_alpha_index_) == int(wide.chosen_alpha_index_)
            row.alpha_rel = float(abs(gram.alpha_ - wide.alpha_) / gram.alpha_)
            row.coef_diff = float(np.max(np.abs(gram.coef_ - wide.coef_)))
            passes = np.asarray(wide.passes_)
            row.passes_mean, row.passes_max = float(passes.mean()), int(passes.max())
            row.n_passes, row.working_set = int(wide.n_passes_), int(wide.working_set_)
            row.n_nonzero = int(np.count_nonzero(wide.coef_))
            rows.append(row)
            print(
                f"{case.label} n={n} d={case.density:g} p={p}: gram {row.median('gram'):.2f} s, wide {row.median('wide'):.2f} s "
                f"(gram/wide {row.ratio:.2f}), same alpha {row.same_alpha}, coef diff {row.coef_diff:.1e}, "
                f"passes/alpha {row.passes_mean:.2f}, load {row.loads[-1]:.2f}",
                flush=True,
            )
    elapsed = time.perf_counter() - started

    command = "python benchmarks/bench_crossover.py " + shlex.join(a for a in argv if a != "--no-write")
    root = HERE.parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "dreg"], cwd=root, capture_output=True, text=True).stdout
    blas = {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    blas_text = ", ".join(f"{k}={v}" for k, v in blas.items() if v is not None) or "library defaults"
    all_loads = [v for r in rows for v in r.loads]
    ok_alpha = all(r.same_alpha for r in rows)
    ok_coef = all(r.coef_diff <= 1e-6 for r in rows)
    lines = [
        machine_facts(),
        "",
        f"Command: `{command.strip()}` ({elapsed / 60:.1f} min).",
        "",
        f"Code measured: {commit.strip() or 'unknown'}{' with uncommitted changes under dreg/' if dirty.strip() else ''}.",
        "",
        f"Matrices: n x p (n = {args.n:,} unless the row says otherwise), scipy.sparse CSC, stored entries at uniformly random positions with values "
        f"{'+1/-1 (signed hashing)' if args.values == 'sign' else 'standard normal'}; y = X beta + 1.5 + noise, "
        f"{args.nonzeros} true coefficients of size 1-3, noise sd {args.noise:g}. Estimators: cv={args.folds}, "
        f"alphas={args.alphas} (automatic grid, alpha_max down to 1e-4 alpha_max), standardize=False, tol and "
        f"n_jobs at their defaults, BLAS threads: {blas_text}. Per row: {args.reps} repetitions of each engine, "
        "interleaved, order reversed every other repetition; medians. gram/wide above 1: the wide engine is faster.",
        "",
        "| estimator | n | density | nnz / column | rows shared by two columns, (nnz/p)^2/n | p | gram s (median) | wide s (median) | gram / wide | faster "
        "| wide passes / alpha (mean, max) | wide working set | same alpha_ | max abs coef diff | load (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.case.label} | {r.n:,} | {r.case.density:g} | {r.nnz / r.p:.0f} | {r.shared:.2f} | {r.p:,} | {r.median('gram'):.2f} "
            f"| {r.median('wide'):.2f} | {r.ratio:.2f} | {'wide' if r.ratio > 1 else 'gram'} "
            f"| {r.passes_mean:.2f}, {r.passes_max} | {r.working_set:,} | {'yes' if r.same_alpha else 'NO'} "
            f"| {r.coef_diff:.1e} | {', '.join(f'{v:.1f}' for v in r.loads)} |"
        )
    lines += ["", "Crossover (the smallest p of the grid from which 'wide' is faster at every larger p measured):", ""]
    groups: dict[tuple[str, int, float], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.case.label, r.n, r.case.density), []).append(r)
    for (label, n, density), group in groups.items():
        lines.append(
            f"- {label}, n = {n:,}, density {density:g} (~{n * density:.0f} stored values per column, "
            f"{n * density**2:.2f} rows shared by two columns): {crossover(group)}."
        )
    gram_p = int(np.sqrt(2**31 / 8 / (args.folds + 1)))
    lines += [
        "",
        f"- Memory rule for comparison: 'auto' must go wide beyond `max_gram_bytes` = 2 GiB, i.e. p > {gram_p:,} "
        f"with {args.folds} folds ({args.folds + 1} Grams of p^2 8 bytes).",
        f"- Both engines picked the same alpha_ in every row: {'yes' if ok_alpha else 'NO'}; coef_ agree to 1e-6 "
        f"in every row: {'yes' if ok_coef else 'NO'} (largest |alpha_ relative difference| "
        f"{max(r.alpha_rel for r in rows):.1e}).",
        f"- 1-minute load average over the run: median {np.median(all_loads):.2f}, min {min(all_loads):.2f}, "
        f"max {max(all_loads):.2f} (2-core machine shared with other work: the ratios of one row are comparable, "
        "absolute times are not).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(SECTION, "Gram vs wide engine on scipy.sparse input: the crossover p (issue 15)", body)


if __name__ == "__main__":
    main(sys.argv[1:])
