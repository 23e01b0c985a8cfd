"""What the footer fingerprint costs: a 2,000-file lake on local disk and on S3 (moto) (issue 16, item 3).

The statistics cache keys each file by a hash of its Parquet footer, so a
rewrite that keeps the size and mtime cannot serve stale statistics.  The
footer is read inside the file's task, before the cache lookup
(:func:`dreg.job.cache.read_tail`: one ranged read of the last 64 KiB), and on
a miss the same bytes give pyarrow the file's metadata, so a miss reads the
footer once, and a file of at most 64 KiB is read from those bytes alone.

For each store, one thread, files in lake order, each step timed over every
file of the lake (medians of ``--reps`` repetitions after one warm-up):

* ``list``:          ``open_lake`` (one listing);
* ``tail only``:     :func:`read_tail` of every file: the fingerprint's own cost;
* ``scan, no fingerprint``: :func:`read_file_stats` of every file: a scan that
  never reads the footer for a fingerprint (the baseline);
* ``scan, cache off``: :func:`cached_file_stats` without an entry: what a fit with
  ``cache: {enabled: false}`` does (the fingerprint goes into model.json);
* ``miss``:          :func:`cached_file_stats` with an empty cache: tail, data, entry written;
* ``hit``:           :func:`cached_file_stats` again: tail and entry read (a retrain with no new file).

On S3 every request is counted with a botocore hook on dreg's own s3fs
instance: GETs and HEADs per file for each step.  The moto server runs in
this process on 127.0.0.1, so S3 times are those of a local HTTP server:
real round trips on AWS cost more (tens of ms each), which makes the request
counts the figure that carries over.

    python benchmarks/bench_footer.py                      # 2,000 files x 200 rows x 20 features
    python benchmarks/bench_footer.py --files 200 --no-write
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_facts, write_section  # noqa: E402

BUCKET = "dreg-bench-footer"
STEPS = ("list", "tail only", "scan, no fingerprint", "scan, cache off", "miss", "hit")


def write_lake(root: Path, files: int, rows: int, p: int, seed: int = 0) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(p)
    total = 0
    for i in range(files):
        X = rng.standard_normal((rows, p))
        table = pa.table({**{f"x{j:02d}": X[:, j] for j in range(p)}, "y": X @ beta + rng.standard_normal(rows)})
        path = root / f"day=2026-11-{1 + i % 20:02d}" / f"part-{i:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="snappy")
        total += path.stat().st_size
    return total


def start_moto():
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NO_PROXY": "127.0.0.1",
    }.items():
        os.environ[k] = v
    from moto import server as moto_server

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def upload(root: Path, endpoint: str) -> None:
    import boto3
    from concurrent.futures import ThreadPoolExecutor

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    paths = sorted(root.rglob("*.parquet"))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: s3.upload_file(str(p), BUCKET, f"lake/{p.relative_to(root).as_posix()}"), paths))


def measure(url: str, so: dict[str, Any], cache_url: str, reps: int, log: list | None, p: int) -> dict[str, Any]:
    import fsspec

    from dreg.job.cache import cached_file_stats, read_tail
    from dreg.job.lake import ReadSpec, open_lake, read_file_stats

    def clear() -> None:
        if log is not None:
            fsspec.filesystem("s3", **so).invalidate_cache()
            log.clear()

    lake = open_lake(url, so)
    files = lake.files
    features = tuple(f"x{j:02d}" for j in range(p))
    spec = ReadSpec(
        protocol=lake.protocol, storage_options=so, features=features, target="y", n_folds=5, random_state=0
    )
    urls = [lake.full_url(f) for f in files]
    steps: dict[str, list[float]] = {k: [] for k in STEPS}
    requests: dict[str, Counter] = {}

    def step(name: str, fn) -> None:
        clear()
        t = time.perf_counter()
        fn()
        steps[name].append(time.perf_counter() - t)
        if log is not None:
            requests[name] = Counter(op for op, _ in log)

    for r in range(reps + 1):  # the first repetition warms up (numba kernels, page cache) and is dropped
        if r == 1:
            for v in steps.values():
                v.clear()
        step("list", lambda: open_lake(url, so))
        step("tail only", lambda: [read_tail(u, f.size, so) for f, u in zip(files, urls, strict=True)])
        step("scan, no fingerprint", lambda: [read_file_stats(f, spec, u) for f, u in zip(files, urls, strict=True)])
        step("scan, cache off", lambda: [cached_file_stats(f, spec, u, None) for f, u in zip(files, urls, strict=True)])
        entries = [f"{cache_url}/r{r}/{i:05d}.npz" for i in range(len(files))]
        step("miss", lambda: [cached_file_stats(f, spec, u, e, so) for f, u, e in zip(files, urls, entries, strict=True)])
        parts = []
        step("hit", lambda: parts.extend(cached_file_stats(f, spec, u, e, so) for f, u, e in zip(files, urls, entries, strict=True)))
        assert all(p.files[0].from_cache for p in parts), "a cached file was read again"
    return {"n": len(files), "steps": {k: statistics.median(v) for k, v in steps.items()}, "requests": requests}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dreg-bench-footer-"))
    server = None
    try:
        root = tmp / "lake"
        size = write_lake(root, args.files, args.rows, args.features)
        print(f"lake: {args.files} files, {size / 2**20:.1f} MiB", flush=True)
        local = measure(str(root), {}, str(tmp / "cache"), args.reps, None, args.features)
        print("local", local["steps"], flush=True)
        server, endpoint = start_moto()
        upload(root, endpoint)
        so = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
        import fsspec

        fs = fsspec.filesystem("s3", **so)
        fs.connect()
        log: list[tuple[str, str]] = []
        fs.s3.meta.events.register("before-call.s3", lambda model, params, **kw: log.append((model.name, "")))
        s3 = measure(f"s3://{BUCKET}/lake", so, f"s3://{BUCKET}/cache", args.reps, log, args.features)
        print("s3", s3["steps"], {k: dict(v) for k, v in s3["requests"].items()}, flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.files
    lines = [
        machine_facts(),
        "",
        f"Command: `{' '.join(['python benchmarks/bench_footer.py', *sys.argv[1:]])}`",
        "",
        f"Lake: {n:,} files x {args.rows} rows x {args.features} float64 features + target "
        f"({size / 2**20:.1f} MiB, {size / n / 1024:.0f} KiB per file, 20 day partitions). One thread, "
        f"files in lake order, median of {args.reps} repetitions after a warm-up; S3 is moto on 127.0.0.1 in the same process.",
        "",
        "| step | local: s for the lake | local: ms per file | S3 (moto): s | S3: ms per file | S3 requests per file |",
        "|---|---|---|---|---|---|",
    ]
    for k in STEPS:
        a, b = local["steps"][k], s3["steps"][k]
        req = s3["requests"].get(k, Counter())
        per = ", ".join(f"{op} {c / n:.2f}" for op, c in sorted(req.items())) if k != "list" else ", ".join(
            f"{op} {c}" for op, c in sorted(req.items())
        ) + " (whole lake)"
        lines.append(f"| {k} | {a:.2f} | {1e3 * a / n:.2f} | {b:.2f} | {1e3 * b / n:.2f} | {per} |")
    for store, res in (("local", local), ("S3", s3)):
        st = res["steps"]
        lines.append("")
        lines.append(
            f"{store}: the footer read alone is {st['tail only'] / st['hit']:.0%} of a cache hit and "
            f"{st['tail only'] / st['scan, no fingerprint']:.0%} of a plain scan; a scan with the cache off "
            f"(fingerprint included) takes {st['scan, cache off'] / st['scan, no fingerprint']:.2f}x the plain "
            f"scan; a hit takes {st['hit'] / st['scan, no fingerprint']:.2f}x it."
        )
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("bench_footer", "The footer fingerprint's cost: 2,000 files, local and S3 (issue 16)", body)


if __name__ == "__main__":
    main()
