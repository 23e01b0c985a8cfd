"""Each file's task reads the Parquet footer once (issue 16, item 3).

:func:`dreg.job.cache.cached_file_stats` hashes a file's footer before it looks
in the statistics cache (:func:`dreg.job.cache.read_tail`); on a miss, and with
the cache off, the same bytes give pyarrow the file's ``FileMetaData``, so the
footer is not fetched a second time, and a file no larger than the tail read
is read from those bytes alone.

The requests are counted on S3: a real moto server on 127.0.0.1, s3fs, and a
botocore ``before-call`` hook on the very s3fs instance that dreg's reads use
(fsspec caches instances by their options), recording each S3 operation with
its key and ``Range``.  Nothing is mocked: the files are real Parquet files,
uploaded, and the statistics are compared bit for bit with the old read path
(hash, then a plain open) and with a read of the local copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.job.cache import cached_file_stats, footer_fingerprint, read_tail
from dreg.job.errors import DataError
from dreg.job.lake import LakeFile, ReadSpec, open_lake, read_file_stats
from tests.job.lake_helpers import FEATURES, MODEL, TARGET, assert_identical_stats, make_table, write_table
from tests.job.s3_helpers import moto_endpoint, s3_client
from tests.job.s3_helpers import storage_options as s3_storage_options

BUCKET = "dreg-footer-reads"
TAIL = 64 * 1024


@pytest.fixture(scope="module")
def endpoint():
    """A moto S3 server on 127.0.0.1 (random port)."""
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def storage_options(endpoint: str) -> dict[str, Any]:
    return s3_storage_options(endpoint)


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shapes of file: smaller than the tail read, larger (several row groups), and
    one whose footer alone is longer than the tail read (many columns x row groups)."""
    rng = np.random.default_rng(16)
    root = tmp_path_factory.mktemp("footer") / "lake"
    write_table(root / "day=2026-11-01/small.parquet", make_table(rng, 700, "s"), 256)
    write_table(root / "day=2026-11-01/large.parquet", make_table(rng, 6000, "l"), 1000)
    wide = make_table(rng, 2000, "w")
    for j in range(150):
        wide = wide.append_column(f"pad{j:03d}", pa.array(rng.standard_normal(2000)))
    write_table(root / "day=2026-11-02/wide.parquet", wide, 100)
    (root / "day=2026-11-02/not-parquet.parquet").write_bytes(b"a CSV file, misnamed\n" * 200)
    good = (root / "day=2026-11-01/large.parquet").read_bytes()
    (root / "day=2026-11-02/truncated.parquet").write_bytes(good[: len(good) // 2])
    # footer intact (it parses), the data pages of the first row group overwritten
    broken = bytearray(good)
    broken[4 : len(good) // 4] = b"\x7f" * (len(good) // 4 - 4)
    (root / "day=2026-11-02/bad-pages.parquet").write_bytes(bytes(broken))
    # the last 8 bytes intact (length and PAR1), the footer itself garbage
    n = int.from_bytes(good[-8:-4], "little")
    garbled = bytearray(good)
    garbled[-8 - n : -8] = b"\x01" * n
    (root / "day=2026-11-02/bad-footer.parquet").write_bytes(bytes(garbled))
    return root


@pytest.fixture(scope="module")
def lake_url(endpoint: str, local_lake: Path) -> str:
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket=BUCKET)
    for p in sorted(local_lake.rglob("*.parquet")):
        s3.upload_file(str(p), BUCKET, f"lake/{p.relative_to(local_lake).as_posix()}")
    return f"s3://{BUCKET}/lake"


@pytest.fixture(scope="module")
def s3_log(storage_options: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """``(operation, key, Range)`` of every S3 call made through dreg's s3fs instance."""
    fs = fsspec.filesystem("s3", **storage_options)
    fs.connect()
    log: list[tuple[str, str, str | None]] = []

    def record(model, params, **kwargs) -> None:
        headers = params.get("headers", {})
        url = params.get("url_path", "")
        log.append((model.name, url.split("?", 1)[0], headers.get("Range")))

    fs.s3.meta.events.register("before-call.s3", record)
    return log


def s3_calls(
    log: list[tuple[str, str, str | None]], storage_options: dict[str, Any], fn: Callable[[], Any]
) -> tuple[Any, list[tuple[str, str, str | None]]]:
    """``fn()`` and the S3 calls it made, with s3fs's listing cache emptied first (a
    worker starts without one)."""
    fsspec.filesystem("s3", **storage_options).invalidate_cache()
    log.clear()
    out = fn()
    return out, list(log)


def spec(storage_options: dict[str, Any], protocol: str = "s3") -> ReadSpec:
    return ReadSpec(
        protocol=protocol,
        storage_options=storage_options if protocol == "s3" else {},
        features=tuple(FEATURES),
        target=TARGET,
        n_folds=MODEL["cv"],
        random_state=MODEL["random_state"],
    )


def file_of(lake_url: str, storage_options: dict[str, Any], name: str) -> tuple[LakeFile, str]:
    lake = open_lake(lake_url, storage_options)
    f = next(f for f in lake.files if f.relpath.endswith("/" + name))
    return f, lake.full_url(f)


def local_file(local_lake: Path, name: str) -> tuple[LakeFile, str]:
    lake = open_lake(str(local_lake))
    f = next(f for f in lake.files if f.relpath.endswith("/" + name))
    return f, lake.full_url(f)


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """``[start, stop)`` of a ``Range: bytes=a-b`` header (no header: the whole object)."""
    if header is None:
        return 0, size
    a, _, b = header.removeprefix("bytes=").partition("-")
    return int(a), (int(b) + 1 if b else size)


def footer_reads(calls: list[tuple[str, str, str | None]], f: LakeFile) -> int:
    """GETs of ``f`` that start inside its footer's tail read (the last 64 KiB, or the
    footer when longer): requests made to read the footer, not to read data pages."""
    n = pq.ParquetFile(pa.BufferReader(read_bytes(f))).metadata.serialized_size
    first = min(f.size - TAIL, f.size - 8 - n)
    return sum(1 for op, k, rng in calls if op == "GetObject" and _is(k, f) and byte_range(rng, f.size)[0] >= max(first, 0))


def data_reads(calls: list[tuple[str, str, str | None]], f: LakeFile) -> list[tuple[int, int]]:
    """The byte ranges of the GETs of ``f`` that are not footer reads, sorted."""
    n = pq.ParquetFile(pa.BufferReader(read_bytes(f))).metadata.serialized_size
    first = max(min(f.size - TAIL, f.size - 8 - n), 0)
    ranges = [byte_range(rng, f.size) for op, k, rng in calls if op == "GetObject" and _is(k, f)]
    return sorted(r for r in ranges if r[0] < first)


def _is(key: str, f: LakeFile) -> bool:
    """Whether a request's (URL-encoded) path is ``f``'s object."""
    return unquote(key).endswith("/" + f.path.split("/", 1)[1])


_BYTES: dict[str, bytes] = {}


def read_bytes(f: LakeFile) -> bytes:
    return _BYTES[f.path]


@pytest.fixture(scope="module", autouse=True)
def _remember_bytes(lake_url: str, storage_options: dict[str, Any], local_lake: Path) -> None:
    for f in open_lake(lake_url, storage_options).files:
        _BYTES[f.path] = (local_lake / f.relpath).read_bytes()


def old_read_path(f: LakeFile, sp: ReadSpec, url: str):
    """What a task did before: hash the footer, then open the file as if nothing was read."""
    footer = footer_fingerprint(url, f.size, sp.storage_options)
    return footer, read_file_stats(f, sp, url)


@pytest.mark.parametrize("name", ["small.parquet", "large.parquet", "wide.parquet"])
def test_cache_off_reads_the_footer_once(
    name: str, lake_url: str, storage_options: dict[str, Any], local_lake: Path, s3_log
) -> None:
    sp = spec(storage_options)
    f, url = file_of(lake_url, storage_options, name)
    n_footer = pq.ParquetFile(pa.BufferReader(read_bytes(f))).metadata.serialized_size
    (footer, old), old_calls = s3_calls(s3_log, storage_options, lambda: old_read_path(f, sp, url))
    new, new_calls = s3_calls(s3_log, storage_options, lambda: cached_file_stats(f, sp, url, None))
    print(name, f.size, n_footer, "\n old", old_calls, "\n new", new_calls)

    # the same statistics bit for bit: as the old path, and as a read of the local copy
    assert_identical_stats(new.stats, old.stats)
    lf, lurl = local_file(local_lake, name)
    assert_identical_stats(new.stats, read_file_stats(lf, spec({}, "file"), lurl).stats)
    assert new.files[0].footer == footer is not None and new.files[0].rows == old.files[0].rows
    assert dataclasses.replace(new.files[0], footer=None, from_cache=None, cached=None) == old.files[0]

    # no HEAD (s3fs sends one to open a file of unknown size), and the footer fetched once
    assert [op for op, _, _ in old_calls].count("HeadObject") == 1
    assert [op for op, _, _ in new_calls].count("HeadObject") == 0
    # the footer: one GET of the tail (two for a footer longer than the tail read),
    # where the old path made the same reads twice (to hash it, then to open the file)
    per_read = 1 if n_footer + 8 <= TAIL else 2
    assert (footer_reads(new_calls, f), footer_reads(old_calls, f)) == (per_read, 2 * per_read)
    if f.size <= TAIL:
        # the tail read is the whole file: one request in all
        assert new_calls == [("GetObject", new_calls[0][1], f"bytes=0-{f.size - 1}")]
    else:
        # the data pages are fetched exactly as before (the same ranges)
        assert data_reads(new_calls, f) == data_reads(old_calls, f)
        assert len(data_reads(new_calls, f)) >= 1
        assert len(new_calls) == len(old_calls) - 1 - per_read  # no HEAD, no second footer read



@pytest.mark.parametrize("name", ["small.parquet", "large.parquet", "wide.parquet"])
def test_cache_miss_then_hit_on_s3(
    name: str, lake_url: str, storage_options: dict[str, Any], s3_log, tmp_path: Path
) -> None:
    """Miss: the tail, the data pages, and the entry written; hit: the tail and the entry
    (one GET each for a footer within the tail read), no data page and no HEAD."""
    sp = spec(storage_options)
    f, url = file_of(lake_url, storage_options, name)
    entry = str(tmp_path / "cache" / "entry.npz")
    miss, miss_calls = s3_calls(s3_log, storage_options, lambda: cached_file_stats(f, sp, url, entry))
    hit, hit_calls = s3_calls(s3_log, storage_options, lambda: cached_file_stats(f, sp, url, entry))
    assert (miss.files[0].from_cache, hit.files[0].from_cache) == (False, True)
    assert_identical_stats(hit.stats, miss.stats)
    n_footer = pq.ParquetFile(pa.BufferReader(read_bytes(f))).metadata.serialized_size
    per_read = 1 if n_footer + 8 <= TAIL else 2
    assert [op for op, _, _ in hit_calls] == ["GetObject"] * per_read, hit_calls
    assert footer_reads(hit_calls, f) == per_read and data_reads(hit_calls, f) == []
    assert footer_reads(miss_calls, f) == per_read and "HeadObject" not in [op for op, _, _ in miss_calls]


def test_tail_fingerprint_is_the_footer_hash(lake_url: str, storage_options: dict[str, Any]) -> None:
    """``read_tail`` and ``footer_fingerprint`` hash exactly the footer bytes, for a footer
    shorter and one longer than the tail read; files without a footer have none."""
    import hashlib

    for name in ("small.parquet", "large.parquet", "wide.parquet"):
        f, url = file_of(lake_url, storage_options, name)
        raw = read_bytes(f)
        n = int.from_bytes(raw[-8:-4], "little")
        want = hashlib.sha256(raw[-8 - n : -8]).hexdigest()[:24]
        tail = read_tail(url, f.size, storage_options)
        assert tail is not None and tail.footer_length == n and raw.endswith(tail.data)
        assert tail.whole == (f.size <= TAIL)
        assert tail.fingerprint == want == footer_fingerprint(url, f.size, storage_options)
        md = tail.metadata()
        assert md is not None and md.num_rows == pq.ParquetFile(pa.BufferReader(raw)).metadata.num_rows
    f, url = file_of(lake_url, storage_options, "not-parquet.parquet")
    assert read_tail(url, f.size, storage_options) is None
    assert footer_fingerprint(url, f.size, storage_options) is None
    f, url = file_of(lake_url, storage_options, "bad-footer.parquet")
    tail = read_tail(url, f.size, storage_options)
    assert tail is not None and tail.metadata() is None  # the length and magic are intact, the footer is not


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("not-parquet.parquet", r"not a readable Parquet file"),
        ("truncated.parquet", r"not a readable Parquet file"),
        ("bad-footer.parquet", r"not a readable Parquet file"),
        ("bad-pages.parquet", r"cannot read row group 0"),
    ],
)
def test_broken_files_fail_as_before(
    name: str, pattern: str, lake_url: str, storage_options: dict[str, Any], local_lake: Path
) -> None:
    """A file that is not Parquet, cut short, with a garbled footer or garbled data pages:
    the same DataError, naming the file, through the single-read path (S3, cache on and
    off) as through a plain read of the local copy."""
    sp = spec(storage_options)
    f, url = file_of(lake_url, storage_options, name)
    with pytest.raises(DataError, match=pattern) as old:
        read_file_stats(f, sp, url)
    for entry in (None, "memory://dreg-footer-reads/cache/" + name + ".npz"):
        with pytest.raises(DataError, match=pattern) as new:
            cached_file_stats(f, sp, url, entry)
        assert str(new.value).startswith(url + ": ") and str(new.value) == str(old.value)
    lf, lurl = local_file(local_lake, name)
    with pytest.raises(DataError, match=pattern) as local:
        read_file_stats(lf, spec({}, "file"), lurl)
    assert str(local.value).startswith(lurl + ": ")
