"""`dreg fit` on a lake with categorical columns and missing values vs numeric-only lakes (issue 13, item 7).

Writes with pyarrow, file by file (``--files`` files of ``--rows / --files``
rows, row groups of ``--row-group`` rows, snappy) under ``--workdir``:

* ``cat``: ``--numeric`` float64 columns ``x00 ..`` with ``--null-frac`` Arrow
  nulls each, and 3 string columns ``c10``, ``c100``, ``c1000`` of 10, 100 and
  1,000 levels (``--levels``) drawn with Zipf-like frequencies (level ``k`` has
  weight ``1 / (k + 1)^1.1``), plus ``--cat-null-frac`` nulls; ``y`` is linear
  in the numerics (their values before nulling) and a random effect per level
  (null included), plus noise;
* ``num`` (b1): the same numerics without nulls and 3 more float64 columns in
  place of the strings, ``y`` likewise: the same 53 source columns, the same
  I/O width, no nulls;
* ``wide`` (b2, ``--wide`` only): a numeric-only lake with as many float64
  columns as the categorical model has features (50 + 50 indicators + every
  level and each column's null level = 1,213), at ``--wide-rows`` rows
  (default ``--rows / 16``: 4M x 1,213 float64 is 39 GB); its data pass is
  also reported scaled linearly to ``--rows``.

Lakes whose manifest matches the parameters are reused.  Each fit is the real
command ``dreg fit --config <cfg>`` in a fresh process (wall time of the whole
process: interpreter, imports, the embedded LocalCluster of ``--workers`` x 1
thread with no dashboard, the data pass, the CV path, the report, the registry
write, the exit): lasso, 5 folds x 100 alphas, statistics cache off, promotion
off; ``cat`` with ``data.impute: mean`` and ``data.missing_indicator: true``,
features inferred (the string columns are categorical by their type).
``psutil`` samples every ``--interval`` s the RSS of the command's process and
of all its descendants (``bench_memory_n.TreeSampler``); the peak of the sum
is the figure, and the kernel's ``ru_maxrss`` of the largest single process is
a cross-check.  ``data_pass_seconds`` and ``seconds`` come from the run's
``metrics.json``.  Lakes are interleaved (order reversed every other
repetition); medians of ``--repeats``.  Checks: every run exits 0; the
categorical model has 50 + 50 + (levels + null level per column) features,
named ``column=level``.  Results go to the ``bench_categorical`` section of
``benchmarks/RESULTS.md``.

    python benchmarks/bench_categorical.py                   # 4,000,000 rows, 3 repeats
    python benchmarks/bench_categorical.py --wide            # + the 1,213-column numeric lake at 250,000 rows
    python benchmarks/bench_categorical.py --wide --src HEAD # the committed dreg, not the working tree's edits
    python benchmarks/bench_categorical.py --rows 400000 --repeats 1 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_facts, write_section  # noqa: E402
from bench_memory_n import TreeSampler  # noqa: E402

SECTION = "bench_categorical"
GENERATOR = "dreg-bench-categorical-v1"
MiB = 2**20
ZIPF = 1.1


# --------------------------------------------------------------------------- data


def _truth(args) -> dict:
    rng = np.random.default_rng(args.seed)
    p = args.numeric
    beta = np.zeros(p)
    k = max(1, p // 5)
    beta[rng.choice(p, size=k, replace=False)] = rng.choice([-1.0, 1.0], size=k) * np.geomspace(2.0, 0.05, k)
    effects = [rng.normal(0.0, 1.0, size=L + 1) for L in args.levels]  # the last one: the null level
    probs = []
    for L in args.levels:
        w = 1.0 / np.arange(1, L + 1) ** ZIPF
        probs.append(w / w.sum())
    return {"beta": beta, "mu": rng.normal(0.0, 1.0, size=p), "effects": effects, "probs": probs}


def _level_names(L: int) -> object:
    import pyarrow as pa

    width = len(str(L - 1))
    return pa.array([f"L{k:0{width}d}" for k in range(L)], pa.string())


def _write_lake_pair(args, cat_dir: Path, num_dir: Path) -> dict:
    """Both lakes, one file of each at a time; returns the level counts actually written."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    truth = _truth(args)
    p = args.numeric
    per_file = args.rows // args.files
    names = [f"x{j:02d}" for j in range(p)]
    cat_names = [f"c{L}" for L in args.levels]
    dictionaries = [_level_names(L) for L in args.levels]
    seen = [np.zeros(L + 1, dtype=np.int64) for L in args.levels]
    for d in (cat_dir, num_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    for i in range(args.files):
        rng = np.random.default_rng([args.seed, i])
        X = rng.standard_normal((per_file, p))
        X += truth["mu"]
        y = 1.0 + X @ truth["beta"] + rng.standard_normal(per_file)
        cat_cols = {}
        for c, (L, probs, eff, dic) in enumerate(
            zip(args.levels, truth["probs"], truth["effects"], dictionaries, strict=True)
        ):
            codes = rng.choice(L, size=per_file, p=probs)
            null = rng.random(per_file) < args.cat_null_frac
            codes_n = np.where(null, L, codes)
            y += eff[codes_n]
            seen[c] += np.bincount(codes_n, minlength=L + 1)
            cat_cols[cat_names[c]] = pc.take(dic, pa.array(codes, pa.int32(), mask=null))
        extra = rng.standard_normal((per_file, len(args.levels)))
        nulls = rng.random((per_file, p)) < args.null_frac
        cat = {n: pa.array(X[:, j], pa.float64(), mask=nulls[:, j]) for j, n in enumerate(names)}
        cat.update(cat_cols)
        cat["y"] = pa.array(y)
        num = {n: pa.array(X[:, j]) for j, n in enumerate(names)}
        num.update({f"z{c}": pa.array(extra[:, c]) for c in range(len(args.levels))})
        num["y"] = pa.array(y)
        pq.write_table(pa.table(cat), cat_dir / f"part-{i:05d}.parquet", row_group_size=args.row_group)
        pq.write_table(pa.table(num), num_dir / f"part-{i:05d}.parquet", row_group_size=args.row_group)
        del X, y, cat, num, cat_cols, nulls, extra
    return {"levels_seen": [int((s[:-1] > 0).sum()) for s in seen], "nulls_seen": [int(s[-1]) for s in seen]}


def _write_wide(args, wide_dir: Path, width: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng0 = np.random.default_rng([args.seed, 10_000])
    beta = np.zeros(width)
    beta[rng0.choice(width, size=width // 10, replace=False)] = rng0.standard_normal(width // 10)
    per_file = args.wide_rows // args.files
    shutil.rmtree(wide_dir, ignore_errors=True)
    wide_dir.mkdir(parents=True)
    for i in range(args.files):
        rng = np.random.default_rng([args.seed, 10_001 + i])
        X = rng.standard_normal((per_file, width))
        y = 1.0 + X @ beta + rng.standard_normal(per_file)
        cols = {f"w{j:04d}": pa.array(X[:, j]) for j in range(width)}
        cols["y"] = pa.array(y)
        pq.write_table(pa.table(cols), wide_dir / f"part-{i:05d}.parquet", row_group_size=args.row_group)
        del X, y, cols


def ensure_lakes(args) -> tuple[dict[str, Path], dict]:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    key = {
        "generator": GENERATOR,
        "rows": args.rows,
        "files": args.files,
        "numeric": args.numeric,
        "levels": args.levels,
        "null_frac": args.null_frac,
        "cat_null_frac": args.cat_null_frac,
        "row_group": args.row_group,
        "seed": args.seed,
    }
    lakes = {"cat": work / "cat", "num": work / "num"}
    manifest = work / "manifest.json"
    old = json.loads(manifest.read_text()) if manifest.exists() else {}
    if old.get("key") != key:
        t0 = time.perf_counter()
        info = _write_lake_pair(args, lakes["cat"], lakes["num"])
        old = {"key": key, "info": info, "write_seconds": time.perf_counter() - t0}
        manifest.write_text(json.dumps(old, indent=1))
        print(f"wrote the cat and num lakes in {old['write_seconds']:.0f} s", flush=True)
    else:
        print("reusing the cat and num lakes", flush=True)
    info = old["info"]
    info["width"] = 2 * args.numeric + sum(info["levels_seen"]) + sum(1 for n in info["nulls_seen"] if n)
    if args.wide:
        lakes["wide"] = work / "wide"
        wkey = {**key, "rows": args.wide_rows, "width": info["width"]}
        wman = work / "manifest-wide.json"
        wold = json.loads(wman.read_text()) if wman.exists() else {}
        if wold.get("key") != wkey:
            t0 = time.perf_counter()
            _write_wide(args, lakes["wide"], info["width"])
            wold = {"key": wkey, "write_seconds": time.perf_counter() - t0}
            wman.write_text(json.dumps(wold, indent=1))
            print(f"wrote the wide lake in {wold['write_seconds']:.0f} s", flush=True)
        else:
            print("reusing the wide lake", flush=True)
    return lakes, info


def lake_facts(path: Path) -> dict:
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet"))
    meta = [pq.ParquetFile(f).metadata for f in files]
    return {
        "files": len(files),
        "rows": sum(m.num_rows for m in meta),
        "columns": meta[0].num_columns,
        "row_groups": sum(m.num_row_groups for m in meta),
        "mib": sum(f.stat().st_size for f in files) / MiB,
    }


# --------------------------------------------------------------------------- runs


def fit_config(lake: Path, registry: Path, name: str, workers: int, categorical: bool) -> dict:
    data = {"path": str(lake), "target": "y"}
    if categorical:
        data.update({"impute": "mean", "missing_indicator": True})
    return {
        "data": data,
        "model": {"penalty": "lasso", "cv": 5, "alphas": 100},
        "cluster": {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None},
        "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
        "cache": {"enabled": False},
    }


def run_once(cfg_path: Path, registry: Path, name: str, interval: float) -> dict:
    before = {d.name for d in (registry / name).iterdir() if d.is_dir()} if (registry / name).exists() else set()
    cmd = ["dreg", "fit", "--config", str(cfg_path)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=registry.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(proc.pid, interval)
    sampler.start()
    out_chunks: list[str] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.stop()
    reader.join(timeout=10)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = "".join(out_chunks)
    if proc.returncode != 0:
        raise SystemExit(f"`{shlex.join(cmd)}` exited {proc.returncode}:\n{output[-4000:]}")
    new = sorted(
        d for d in (registry / name).iterdir() if d.is_dir() and d.name not in before and not d.name.startswith(".")
    )
    if len(new) != 1:
        raise SystemExit(f"expected one new version under {registry / name}, found {[d.name for d in new]}")
    metrics = json.loads((new[0] / "metrics.json").read_text())
    model = json.loads((new[0] / "model.json").read_text())
    return {
        "wall": wall,
        "exit": proc.returncode,
        "seconds": metrics["seconds"],
        "data_pass": metrics["data_pass_seconds"],
        "rows": metrics["rows"],
        "n_nonzero": metrics["n_nonzero"],
        "alpha": metrics["alpha"],
        "features": _model_features(model),
        "peak_total_mib": sampler.peak_total / MiB,
        "peak_client_mib": sampler.peak_root / MiB,
        "peak_workers_mib": sampler.peak_children / MiB,
        "ru_maxrss_mib": usage.ru_maxrss * 1024 / MiB,
        "samples": sampler.samples,
        "version": new[0].name,
    }


def _model_features(model: dict) -> list[str]:
    for key in ("feature_names", "features"):
        if isinstance(model.get(key), list):
            return list(model[key])
    coef = model.get("coef") or model.get("coefficients")
    if isinstance(coef, dict):
        return list(coef)
    raise SystemExit(f"no feature list in model.json (keys {sorted(model)})")


def use_source(rev: str | None, workdir: Path) -> str:
    """With ``rev``, extract ``git archive <rev> dreg`` under ``workdir`` and put it first on the
    PYTHONPATH of the `dreg` commands (committed code only, whatever the working tree holds);
    returns what the runs import, for the report."""
    repo = HERE.parent

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    if rev is not None:
        sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
        src = workdir / f"src-{sha[:12]}"
        if not (src / "dreg" / "__init__.py").exists():
            shutil.rmtree(src, ignore_errors=True)
            src.mkdir(parents=True)
            archive = subprocess.run(["git", "archive", sha, "dreg"], cwd=repo, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH")) if p)
    where = subprocess.run(
        [sys.executable, "-c", "import dreg; print(dreg.__file__)"], capture_output=True, text=True, cwd="/"
    ).stdout.strip()
    where = str(Path(where).parent.parent)
    if rev is not None:
        return f"`git archive {sha[:7]} dreg` (`--src {rev}`: committed code, uncommitted edits left out), imported from `{where}`"
    dirty = git("status", "--porcelain", "--", "dreg")
    return f"dreg imported from `{where}`; repository HEAD {git('rev-parse', '--short', 'HEAD')}" + (
        ", with uncommitted changes under dreg/" if dirty else ""
    )


def loadavg() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--numeric", type=int, default=50)
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--null-frac", type=float, default=0.05, help="Arrow nulls per numeric column (cat lake)")
    ap.add_argument("--cat-null-frac", type=float, default=0.005, help="nulls per categorical column")
    ap.add_argument("--row-group", type=int, default=65_536)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.2, help="RSS sampling interval, seconds")
    ap.add_argument("--wide", action="store_true", help="also the numeric lake as wide as the categorical model")
    ap.add_argument("--wide-rows", type=int, default=None, help="rows of the wide lake (default --rows / 16)")
    ap.add_argument("--workdir", default="/tmp/dreg-bench-categorical")
    ap.add_argument(
        "--src",
        default=None,
        metavar="REV",
        help="run the dreg of this commit (git archive under --workdir, first on PYTHONPATH), not the working tree",
    )
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    ap.add_argument("--json", default=None)
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.wide_rows is None:
        args.wide_rows = args.rows // 16
    if args.rows % args.files or args.wide_rows % args.files:
        ap.error("--rows and --wide-rows must be multiples of --files")
    command = "python benchmarks/bench_categorical.py" + (" " + shlex.join(argv) if argv else "")

    source = use_source(args.src, Path(args.workdir))
    print(source, flush=True)
    lakes, info = ensure_lakes(args)
    facts = {k: lake_facts(v) for k, v in lakes.items()}
    width = info["width"]
    registry = Path(args.workdir) / "registry"
    shutil.rmtree(registry, ignore_errors=True)
    cfgs = {}
    for k, lake in lakes.items():
        cfg = fit_config(lake, registry, f"bench-{k}", args.workers, categorical=(k == "cat"))
        path = Path(args.workdir) / f"{k}.yaml"
        path.write_text(json.dumps(cfg, indent=1))  # JSON is YAML
        cfgs[k] = path

    # untimed: fill dreg's numba cache, so no timed run compiles (`dreg warmup`, as a user would after install)
    subprocess.run(["dreg", "warmup"], cwd=registry.parent, check=True, capture_output=True)
    order = list(lakes)
    runs: dict[str, list[dict]] = {k: [] for k in order}
    loads = []
    for r in range(args.repeats):
        for k in order if r % 2 == 0 else order[::-1]:
            loads.append(loadavg())
            res = run_once(cfgs[k], registry, f"bench-{k}", args.interval)
            runs[k].append(res)
            print(
                f"  rep {r + 1}/{args.repeats} {k:>4}: wall {res['wall']:6.1f} s, fit {res['seconds']:6.1f} s, "
                f"data pass {res['data_pass']:6.1f} s, peak {res['peak_total_mib']:6.0f} MiB "
                f"(client {res['peak_client_mib']:.0f}, workers {res['peak_workers_mib']:.0f}, "
                f"ru_maxrss {res['ru_maxrss_mib']:.0f}), {len(res['features'])} features, load {loads[-1]:.2f}",
                flush=True,
            )

    # correctness, cheaply
    feats = runs["cat"][0]["features"]
    checks = []
    ok_width = len(feats) == width
    checks.append(
        f"categorical model: {len(feats):,} features, expected {args.numeric} numeric + {args.numeric} "
        f"indicators + {' + '.join(f'{a} levels + {1 if b else 0} null' for a, b in zip(info['levels_seen'], info['nulls_seen'], strict=True))} "
        f"= {width:,}: {'OK' if ok_width else 'MISMATCH'}"
    )
    per_col: dict[str, int] = {}
    for f in feats:
        col = f.split("=", 1)[0]
        per_col[col] = per_col.get(col, 0) + ("=" in f)
    cat_cols = [f"c{L}" for L in args.levels]
    indicators = sum(per_col.get(f"x{j:02d}", 0) for j in range(args.numeric))
    checks.append(
        "`column=level` features: "
        + ", ".join(f"{c} {per_col.get(c, 0):,}" for c in cat_cols)
        + f"; missing indicators `x..=<null>` {indicators}"
    )
    same = all(r["features"] == feats for r in runs["cat"]) and all(
        r["alpha"] == runs["cat"][0]["alpha"] for r in runs["cat"]
    )
    checks.append(f"the {args.repeats} categorical runs chose the same alpha and features: {'yes' if same else 'NO'}")
    checks.append(f"all {sum(len(v) for v in runs.values())} runs exited 0")
    for k in order:
        if any(r["rows"] != facts[k]["rows"] for r in runs[k]):
            checks.append(f"{k}: rows used {runs[k][0]['rows']:,} != rows in the lake {facts[k]['rows']:,}")

    def med(k, key):
        return statistics.median(r[key] for r in runs[k])

    labels = {
        "cat": "(a) categorical + nulls",
        "num": "(b1) numeric, same 53 source columns",
        "wide": f"(b2) numeric, {width:,} columns",
    }
    lines = [
        machine_facts(),
        "",
        f"Command: `{command}`",
        "",
        f"Code measured: {source}.",
        "",
        f"Lakes written with pyarrow, {args.files} files each, {args.row_group:,}-row row groups, snappy. "
        f"(a) {args.numeric} float64 columns with {args.null_frac:.0%} Arrow nulls each, 3 string columns of "
        f"{', '.join(f'{L:,}' for L in args.levels)} levels (Zipf-like frequencies, weight 1/(k+1)^{ZIPF}; "
        f"{args.cat_null_frac:.1%} nulls), y linear in the numerics and the level effects plus noise; "
        f"(b1) the same numerics without nulls and 3 float64 columns in place of the strings"
        + (
            f"; (b2) {width:,} float64 columns at {args.wide_rows:,} rows (the categorical model's width)."
            if args.wide
            else "."
        )
        + f" Each fit is the whole process `dreg fit --config cfg.yaml`: embedded LocalCluster {args.workers} workers "
        "x 1 thread, no dashboard, lasso 5 folds x 100 alphas, statistics cache off, promotion off; (a) with "
        "`data.impute: mean`, `data.missing_indicator: true`, features inferred (the string columns are categorical "
        f"by type). Wall time includes interpreter start, imports, cluster start and exit; *fit s* and *data pass s* "
        f"are `seconds` and `data_pass_seconds` of the run's metrics.json. Peak RSS: `psutil` every "
        f"{args.interval:g} s over the dreg process and all its descendants (client + scheduler + workers), the "
        f"peak of the sum. {args.repeats} repetitions, lakes interleaved (order reversed every other repetition); "
        "medians.",
        "",
        "| lake | files | rows | source columns | model features | lake MiB | wall s median (min-max) | fit s | "
        "data pass s | peak RSS MiB (workers) | wall / (b1) | data pass / (b1) | rows/s (wall) | rows/s (data pass) |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in order:
        f = facts[k]
        wall = [r["wall"] for r in runs[k]]
        lines.append(
            f"| {labels[k]} | {f['files']} | {f['rows']:,} | {f['columns'] - 1} | {len(runs[k][0]['features']):,} | "
            f"{f['mib']:,.0f} | {med(k, 'wall'):.1f} ({min(wall):.1f}-{max(wall):.1f}) | {med(k, 'seconds'):.1f} | "
            f"{med(k, 'data_pass'):.1f} | {med(k, 'peak_total_mib'):,.0f} ({med(k, 'peak_workers_mib'):,.0f}) | "
            f"{med(k, 'wall') / med('num', 'wall'):.2f} | {med(k, 'data_pass') / med('num', 'data_pass'):.2f} | "
            f"{f['rows'] / med(k, 'wall'):,.0f} | {f['rows'] / med(k, 'data_pass'):,.0f} |"
        )
    lines += [""]
    if args.wide:
        scale = args.rows / args.wide_rows
        lines.append(
            f"- (b2) is at {args.wide_rows:,} rows, 1/{scale:g} of (a) ({args.rows:,} x {width:,} float64 would be "
            f"{args.rows * (width + 1) * 8 / 2**30:.0f} GiB); its data pass scaled linearly to {args.rows:,} rows "
            f"would be {med('wide', 'data_pass') * scale:.0f} s, {med('wide', 'data_pass') * scale / med('cat', 'data_pass'):.1f}x "
            "the categorical lake's (an extrapolation, not a measurement; the rest of its fit does not scale with rows)."
        )
    lines += [f"- {c}." for c in checks]
    lines.append(
        "- Per run (lake: wall / fit / data pass s, peak total / client / workers MiB, ru_maxrss MiB): "
        + "; ".join(
            f"{k}: "
            + ", ".join(
                f"{r['wall']:.1f}/{r['seconds']:.1f}/{r['data_pass']:.1f} s "
                f"{r['peak_total_mib']:.0f}/{r['peak_client_mib']:.0f}/{r['peak_workers_mib']:.0f}/{r['ru_maxrss_mib']:.0f} MiB"
                for r in runs[k]
            )
            for k in order
        )
        + "."
    )
    lines.append(f"- 1-minute load average before each run: {', '.join(f'{v:.2f}' for v in loads)}.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"command": command, "info": info, "facts": facts, "runs": runs}, indent=1)
        )
    if not args.no_write:
        write_section(
            SECTION,
            "Categorical columns and missing values vs numeric-only lakes (issue 13)",
            text,
        )
        print(f"wrote the {SECTION} section of benchmarks/RESULTS.md")
    return 0 if ok_width and same else 1


if __name__ == "__main__":
    sys.exit(main())
