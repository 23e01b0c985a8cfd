"""The ``dreg`` command line: fit, predict, export, demo, show, history, promote, warmup.

Exit codes
----------
0  success
1  unexpected failure (a bug, or the registry could not be written)
2  usage or configuration error
3  bad data (missing/non-numeric columns, invalid values, unreadable files)
4  the Dask cluster is unreachable or was lost
5  the new model was stored but not promoted to ``latest`` (worse than the champion,
   a failed gate, or ``latest`` pinned); with ``--dry-run``: would not be promoted

Codes 1-5 are the ``exit_code`` of the errors in :mod:`dreg.job.errors`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_USAGE = 2  # argparse's own code for a bad command line

_EPILOG = """exit codes: 0 success, 1 unexpected failure, 2 usage or configuration error,
3 bad data, 4 Dask cluster unreachable or lost, 5 model stored but not promoted"""


def _log(msg: str) -> None:
    print(msg, flush=True)


def _parser() -> argparse.ArgumentParser:
    from dreg import __version__

    p = argparse.ArgumentParser(
        prog="dreg",
        description="Lasso, ridge and elastic-net with one-pass cross-validation on Parquet lakes with Dask.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"dreg {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    f = sub.add_parser("fit", help="cross-validate and fit a model on a lake, write it to the registry", epilog=_EPILOG)
    f.add_argument("--config", required=True, metavar="FILE", help="YAML configuration (see configs/)")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask scheduler (tcp:// or tls://)")
    g.add_argument("--scheduler-file", metavar="FILE", help="use an existing Dask scheduler via its scheduler file")
    f.add_argument("--performance-report", metavar="FILE", help="save Dask's HTML performance report of the run")
    f.add_argument(
        "--dry-run",
        action="store_true",
        help="do everything but write to the registry; exit 5 if the model would not be promoted",
    )
    f.add_argument("--report", metavar="FILE", help="also write the HTML report to FILE (the only copy with --dry-run)")
    f.add_argument(
        "--if-changed",
        action="store_true",
        help="write no new version when the lake's files (listing and Parquet footers) and the config's "
        "data and model sections are those of the newest version (checked before any cluster starts)",
    )

    pr = sub.add_parser(
        "predict", help="score a lake with a registry model, one output file per input file", epilog=_EPILOG
    )
    pr.add_argument("--model", required=True, metavar="REGISTRY/NAME[/VERSION]")
    pr.add_argument("--data", required=True, metavar="LAKE", help="folder or URL of Parquet files")
    pr.add_argument("--output", required=True, metavar="DIR", help="output folder or URL")
    pr.add_argument("--keep", nargs="*", default=[], metavar="COLUMN", help="input columns to copy to the output")
    at = pr.add_mutually_exclusive_group()
    at.add_argument(
        "--alpha",
        type=float,
        metavar="A",
        help="score with the model of the stored CV path at this alpha (a grid point; see dreg show --json)",
    )
    at.add_argument(
        "--selection", choices=["min", "1se"], help="score with the path's model at alpha_min or alpha_1se"
    )
    pr.add_argument(
        "--on-unseen",
        choices=["zero", "error"],
        default="zero",
        help="a categorical level the model does not know: all-zero dummies, counted per column and level "
        "(zero, the default), or exit 3 naming the file, column and level (error)",
    )
    pr.add_argument(
        "--glob",
        default="*.parquet",
        metavar="PATTERN",
        help="the lake's files: matched against the file name, or with a '/' against the path under "
        "LAKE (default '*.parquet')",
    )
    pr.add_argument(
        "--storage-options",
        metavar="JSON",
        default=None,
        help="fsspec options for the model, data and output URLs, e.g. '{\"anon\": false}'",
    )
    g = pr.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS")
    g.add_argument("--scheduler-file", metavar="FILE")
    pr.add_argument("--n-workers", type=int, default=2, help="workers of the embedded cluster (default 2)")

    ex = sub.add_parser(
        "export",
        help="write a registry model as a SQL SELECT or an ONNX graph that scores as dreg predict does",
        epilog=_EPILOG,
    )
    ex.add_argument("model", metavar="REGISTRY/NAME[/VERSION]")
    ex.add_argument("--format", required=True, choices=["sql", "onnx"], help="a SQL SELECT or an ONNX graph")
    ex.add_argument("--output", metavar="FILE", help="write to FILE (SQL: standard output without it)")
    ex.add_argument("--table", metavar="T", help="SQL: the table to score (default: the model's name)")
    ex.add_argument(
        "--keep", nargs="*", default=[], metavar="COLUMN", help="SQL: columns of the table to select too"
    )
    at = ex.add_mutually_exclusive_group()
    at.add_argument("--alpha", type=float, metavar="A", help="export the stored CV path's model at this alpha")
    at.add_argument("--selection", choices=["min", "1se"], help="export the path's model at alpha_min or alpha_1se")
    ex.add_argument(
        "--storage-options",
        metavar="JSON",
        default=None,
        help="fsspec options for the model and output URLs, e.g. '{\"anon\": false}'",
    )

    d = sub.add_parser("demo", help="fit a cross-validated lasso on a synthetic lake, end to end", epilog=_EPILOG)
    d.add_argument(
        "--workdir", default="dreg-demo", help="where the lake, registry and report go (default ./dreg-demo)"
    )
    d.add_argument("--n-workers", type=int, default=None, help="workers of the embedded cluster (default 2)")

    pm = sub.add_parser(
        "promote",
        help="point 'latest' at a version (roll back or forward), pin it, or unpin; recorded in history",
        epilog=_EPILOG,
    )
    pm.add_argument("model", metavar="REGISTRY/NAME")
    pm.add_argument("version", nargs="?", metavar="VERSION", help="a stored version (see dreg history)")
    pm.add_argument("--pin", action="store_true", help="keep 'latest' on VERSION: later fits are stored, not promoted")
    pm.add_argument("--unpin", action="store_true", help="remove the pin ('latest' stays where it is)")
    pm.add_argument("--reason", default="", help="why, recorded in the event")

    h = sub.add_parser("history", help="list a model's versions: window, rows, alpha, CV error, status", epilog=_EPILOG)
    h.add_argument("model", metavar="REGISTRY/NAME")
    h.add_argument("--json", action="store_true", help="print the rows as JSON")

    sub.add_parser(
        "warmup",
        help="compile every numba kernel into numba's cache (NUMBA_CACHE_DIR), so the first fit starts warm",
        epilog=_EPILOG,
    )

    s = sub.add_parser("show", help="summarize a stored model", epilog=_EPILOG)
    s.add_argument("model", metavar="REGISTRY/NAME[/VERSION]")
    s.add_argument("--json", action="store_true", help="print metrics and model facts as JSON")
    return p


# model.json keys that `dreg show --json` prints, with the coefficients and the metrics
_SHOW_KEYS = (
    "name",
    "version",
    "created",
    "estimator",
    "penalty",
    "alpha",
    "alpha_min",
    "alpha_1se",
    "l1_ratio",
    "selection",
    "intercept",
    "rows",
    "target",
)


def _show(ref: str, as_json: bool) -> int:
    from dreg.job.record import DataInfo, RowsInfo
    from dreg.job.registry import read_record

    r, model, metrics = read_record(ref)
    feats, coef = model.features, model.fit["coef"]
    if as_json:
        doc = model.to_json()
        facts = {k: doc.get(k) for k in _SHOW_KEYS}
        facts["coef"] = dict(zip(feats, coef, strict=True))
        facts["metrics"] = None if metrics is None else metrics.to_json()
        print(json.dumps(facts, indent=1))
        return EXIT_OK
    fit = model.fit
    print(f"{r.name} version {r.version}  ({model.created or '?'})")
    print(f"  estimator   {model.estimator} ({fit.get('penalty')}), target {model.target!r}")
    print(
        f"  alpha       {model.alpha:.6g} (selection={fit.get('selection')}; "
        f"min {fit.get('alpha_min', float('nan')):.6g}, 1se {fit.get('alpha_1se', float('nan')):.6g})"
    )
    print(f"  l1_ratio    {model.l1_ratio}")
    data = model.data or DataInfo.from_json({})
    rows = model.rows or RowsInfo.from_json({})
    print(f"  data        {data.path}: {data.files} file(s), {rows.used} rows used, {rows.dropped} dropped")
    if metrics is not None and metrics.cv_mse is not None:
        print(
            f"  CV MSE      {metrics.cv_mse:.6g} ± {metrics.cv_mse_se:.3g} (train {metrics.train_mse:.6g}); CV R² {metrics.cv_r2}"
        )
        print(f"  run         {metrics.seconds:.1f}s, {metrics.files_scanned} file(s) scanned")
    nz = [(f, c) for f, c in zip(feats, coef, strict=True) if c != 0]
    print(f"  intercept   {model.intercept:.6g}")
    print(f"  non-zero    {len(nz)} of {len(feats)} coefficients")
    for f, c in sorted(nz, key=lambda t: -abs(t[1]))[:25]:
        print(f"    {f:>24}  {c: .6g}")
    if len(nz) > 25:
        print(f"    ... and {len(nz) - 25} more")
    return EXIT_OK


def _history(ref: str, as_json: bool) -> int:
    from dreg.job.errors import RegistryError
    from dreg.job.registry import history, list_events, parse_ref

    r = parse_ref(ref)
    rows = history(r.registry, r.name)
    if not rows:
        raise RegistryError(f"no versions of {r.name!r} in {r.registry!r}")
    if as_json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    print(
        f"{'version':<23} {'status':<10} {'window':<28} {'rows':>10} {'alpha':>10} {'CV MSE':>11} {'champion':>11} "
        f"{'scanned':>8} {'cached':>7}  gates"
    )
    for row in rows:
        status = row["status"] + ("*" if row["latest"] else "") + ("^" if row.get("pinned") else "")
        print(
            f"{row['version']:<23} {status:<10} {row['window'][:28]:<28} {num(row['rows'], 'd'):>10} "
            f"{num(row['alpha'], '.4g'):>10} {num(row['cv_mse'], '.5g'):>11} {num(row['champion_mse'], '.5g'):>11} "
            f"{num(row['files_scanned'], 'd'):>8} {num(row['files_from_cache'], 'd'):>7}  {row.get('gates', '-')}"
        )
    print("* = latest, ^ = pinned; gates: ok, - (none ran) or the failed gates")
    events = list_events(r.registry, r.name)
    if events:
        print("registry operations:")
        for e in events:
            who = f" by {e.user}" if e.user else ""
            prev = f" (latest was {e.previous})" if e.previous and e.action in ("promote", "pin") else ""
            why = f": {e.reason}" if e.reason else ""
            print(f"  {e.time[:19]}  {e.action:<7} {e.version or '-'}{prev}{who}{why}")
    return EXIT_OK


def _promote(args: argparse.Namespace) -> int:
    from dreg.job.errors import ConfigError
    from dreg.job.registry import parse_ref, promote_version, unpin

    r = parse_ref(args.model)
    version = args.version or r.version
    if args.unpin:
        if version is not None or args.pin:
            raise ConfigError("--unpin takes no VERSION and no --pin")
        e = unpin(r.registry, r.name, reason=args.reason)
        print(f"dreg: unpinned {r.name} (was pinned to {e.version}); 'latest' stays at {e.previous}")
        return EXIT_OK
    if version is None:
        raise ConfigError("give the VERSION to promote (see dreg history), or --unpin")
    e = promote_version(r.registry, r.name, version, pin=args.pin, reason=args.reason)
    print(
        f"dreg: 'latest' of {r.name} is now {version}" + (" (pinned)" if args.pin else "") + f"; it was {e.previous}"
    )
    return EXIT_OK


def _storage_options(text: str | None) -> dict | None:
    from dreg.job.errors import ConfigError

    try:
        so = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--storage-options is not valid JSON: {exc}") from None
    if so is not None and not isinstance(so, dict):
        raise ConfigError("--storage-options must be a JSON object")
    return so


def _export(args: argparse.Namespace) -> int:
    """``dreg export``: the model (or the path's model at --alpha / --selection) as SQL or ONNX."""
    from dreg.job.errors import ConfigError, RegistryError
    from dreg.job.export import to_onnx, to_sql
    from dreg.job.pipeline import path_model, read_record

    so = _storage_options(args.storage_options)
    if args.format == "onnx" and not args.output:
        raise ConfigError("--format onnx writes a binary file: give --output FILE")
    if args.format == "onnx" and (args.table or args.keep):
        raise ConfigError("--table and --keep are for --format sql")
    ref, model, _ = read_record(args.model, so)

    def refit(a: float):
        """Between grid points: the exact refit from the version's statistics (as dreg predict)."""
        from dreg.estimators.serialize import estimator_from_dict
        from dreg.job.registry import read_fit_stats

        est = estimator_from_dict(model.fit)
        stats = read_fit_stats(ref, so) if hasattr(est, "restore_refit") else None
        if stats is None:
            return None
        est.restore_refit(stats)
        return est._model_at(a)

    coef, intercept, used_alpha = path_model(model, args.alpha, args.selection, refit)
    if args.format == "sql":
        out = to_sql(model, args.table or ref.name, args.keep, coef, intercept, alpha=used_alpha).encode()
    else:
        out = to_onnx(model, coef, intercept, alpha=used_alpha)
    if not args.output:
        sys.stdout.write(out.decode())
        sys.stdout.flush()
        return EXIT_OK
    from dreg.job.storage import atomic_write, is_local, url_to_fs

    fs, path = url_to_fs(args.output, so)
    try:
        if is_local(fs):
            parent = os.path.dirname(path)
            if parent:
                fs.makedirs(parent, exist_ok=True)
        atomic_write(fs, path, out)
    except OSError as exc:
        raise RegistryError(f"cannot write {args.output}: {exc}") from None
    at = f" at alpha {used_alpha:.6g}" if args.alpha is not None or args.selection is not None else ""
    print(f"dreg: wrote {ref.name}/{ref.version}{at} as {args.format} to {args.output}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from dreg.job.config import load_config
    from dreg.job.errors import ConfigError, DregError

    try:
        if args.command == "fit":
            from dreg.job.pipeline import run_fit

            cfg = load_config(args.config)
            run_fit(
                cfg,
                scheduler=args.scheduler,
                scheduler_file=args.scheduler_file,
                performance_report=args.performance_report,
                log=_log,
                dry_run=args.dry_run,
                report=args.report,
                if_changed=args.if_changed,
            )
            return EXIT_OK
        if args.command == "predict":
            from dreg.job.config import ClusterConfig
            from dreg.job.pipeline import run_predict

            try:
                so = json.loads(args.storage_options) if args.storage_options else None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--storage-options is not valid JSON: {exc}") from None
            if so is not None and not isinstance(so, dict):
                raise ConfigError("--storage-options must be a JSON object")
            run_predict(
                args.model,
                args.data,
                args.output,
                keep=args.keep,
                storage_options=so,
                glob=args.glob,
                alpha=args.alpha,
                selection=args.selection,
                on_unseen=args.on_unseen,
                cluster_cfg=ClusterConfig(n_workers=args.n_workers),
                scheduler=args.scheduler,
                scheduler_file=args.scheduler_file,
                log=_log,
            )
            return EXIT_OK
        if args.command == "export":
            return _export(args)
        if args.command == "demo":
            from dreg.job.demo import run_demo

            return run_demo(args.workdir, args.n_workers, log=_log)
        if args.command == "warmup":
            from dreg.job.warmup import warm_up

            warm_up(log=_log)
            return EXIT_OK
        if args.command == "show":
            return _show(args.model, args.json)
        if args.command == "history":
            return _history(args.model, args.json)
        if args.command == "promote":
            return _promote(args)
    except DregError as exc:  # each error class carries its label and exit code
        print(f"dreg: {exc.label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dreg: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


def run() -> None:  # pragma: no cover - the console script, exercised by the CLI tests' subprocesses
    """The ``dreg`` console script: :func:`main`, then exit without the interpreter's teardown.

    By then every file is written and closed and the cluster is stopped; what
    is left is freeing the ~1,000 imported modules (scikit-learn, scipy,
    pandas, matplotlib, numba, distributed), about 1 s of a small run.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
