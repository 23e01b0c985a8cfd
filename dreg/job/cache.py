"""Per-file statistics cache: a retrain reads only the files that changed.

Statistics are additive, so the statistics of a lake are the merge of its
files' statistics.  Each file's per-fold statistics are stored, after the
first time they are computed, as one ``.npz`` file (plain arrays, loaded with
``allow_pickle=False``; never pickle)::

    CACHE/<stats key>/<file key>.npz

``CACHE`` is ``cache.path`` of the configuration, by default
``<registry>-stats-cache/<name>`` (:func:`default_cache_url`).

* the **stats key** hashes everything that changes a file's statistics: the
  feature list (in order), target, weight and fold columns, the fold scheme
  (number of folds and ``random_state``), ``on_invalid_rows`` and the
  statistics format version.  Standardization and the penalty do not enter:
  they are applied on the coordinator, so one cache serves ridge, lasso and
  elastic net alike;
* the **file key** hashes the file's identity: path, size, and mtime or ETag,
  and its path relative to the lake root (from which its rows' folds are drawn).
  A changed file gets a new key and is recomputed; a deleted file's entry is
  never read again and is pruned after the next successful fit;
* the **footer fingerprint** (:func:`footer_fingerprint`) catches what the
  listing cannot: a file rewritten in place with new values, the same size and
  a preserved mtime (``rsync -a``, ``cp -p``).  It is a hash of the file's
  Parquet footer (``FileMetaData``: schema, row-group offsets, sizes and column
  statistics), read on the worker, inside the file's task, before the cache is
  consulted: one ranged read of the file's last 64 KiB (a second one only for a
  larger footer), no extra round trip from the client.  On a miss the same
  bytes give pyarrow the file's ``FileMetaData`` (:class:`FileTail`), so the
  footer is read once per task, not twice; a file no larger than 64 KiB is
  then read from those bytes alone.  It is stored in the
  entry's file account and must match; a mismatch (or an entry written before
  fingerprints, or a file that is not Parquet) is a miss, and the file is
  rescanned and its entry overwritten.  It also goes into ``model.json``'s
  ``data.fingerprint`` (``footer``), so promotion sees such a file as new.
  A rewrite that leaves the footer byte for byte identical (same row-group
  sizes and offsets *and* the same min/max statistics) is not detected; writers
  that record no statistics make that likelier.

Folds are drawn from each file's path and row positions
(:func:`dreg.job.lake.file_fold_ids`), so cached and fresh statistics agree when
files are added.

Size: one entry holds ``n_folds * n_features^2`` float64 numbers for the
Gram matrices (plus smaller arrays): about ``8 * K * p^2`` bytes per file,
e.g. 400 kB for 5 folds and 100 features, 40 MB for 1,000 features.  The
cache grows with files x folds x features^2.  Entries of deleted or changed
files are removed after each successful fit; entries for another feature set
or fold scheme live in their own ``<stats key>`` folder and can be deleted
whole (``rm -r CACHE/<key>``) when that configuration is retired; deleting
the whole cache is always safe (the next fit rescans).

Pure numpy/pyarrow/fsspec: no Dask import.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import zipfile
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dreg.core.design import DesignStats
from dreg.core.stats import SufficientStats
from dreg.job.lake import FilePart, LakeFile, ReadSpec, read_file_stats
from dreg.job.record import FileAccount
from dreg.job.storage import atomic_write, is_local, url_to_fs

__all__ = [
    "STATS_FORMAT_VERSION",
    "FileTail",
    "StatsCache",
    "cached_file_stats",
    "default_cache_url",
    "file_key",
    "footer_fingerprint",
    "read_tail",
    "stats_key",
]

STATS_FORMAT_VERSION = 1
_TAIL = 64 * 1024  # bytes read from a file's end: the footer of most files, in one ranged read


@dataclass(frozen=True)
class FileTail:
    """The last bytes of a Parquet file, read once per task (:func:`read_tail`).

    ``data`` ends with the footer (``FileMetaData``), its 4-byte length
    ``footer_length`` and the ``PAR1`` magic; it is the whole file when the
    file is no larger than the tail read (``whole``).
    """

    size: int
    data: bytes
    footer_length: int

    @property
    def whole(self) -> bool:
        return len(self.data) == self.size

    @property
    def fingerprint(self) -> str:
        """Hash of the footer bytes (:func:`footer_fingerprint`)."""
        end = len(self.data) - 8
        return hashlib.sha256(self.data[end - self.footer_length : end]).hexdigest()[:24]

    def metadata(self) -> pq.FileMetaData | None:
        """The footer parsed by pyarrow (Parquet is parsed from its end), or ``None`` if it
        does not parse: the file is then opened as usual and fails with pyarrow's message."""
        try:
            return pq.ParquetFile(pa.BufferReader(self.data)).metadata
        except (pa.ArrowException, OSError, ValueError):
            return None


def read_tail(url: str, size: int | None, storage_options: dict[str, Any] | None = None) -> FileTail | None:
    """A Parquet file's tail, footer included, or ``None`` if it has no footer.

    One ranged read of the file's last ``min(size, 64 KiB)`` bytes (the 4-byte
    footer length and the ``PAR1`` magic end the file); a footer longer than
    that costs one more read.  Works through fsspec with ``storage_options``
    (S3 and other object stores).  ``None``: not Parquet, too short, or
    unreadable.
    """
    try:
        fs, path = url_to_fs(url, storage_options)
        if size is None:
            size = int(fs.size(path))
        if size < 12:
            return None
        start = max(0, size - _TAIL)
        tail = fs.cat_file(path, start=start, end=size)
        if len(tail) < 8 or tail[-4:] != b"PAR1":
            return None
        n = int.from_bytes(tail[-8:-4], "little")
        if n <= 0 or n + 8 > size - 4:
            return None
        if n + 8 > len(tail):
            tail = fs.cat_file(path, start=size - 8 - n, end=size)
            if len(tail) != n + 8:
                return None
    except (OSError, ValueError):
        return None
    return FileTail(size=size, data=bytes(tail), footer_length=n)


def footer_fingerprint(url: str, size: int | None, storage_options: dict[str, Any] | None = None) -> str | None:
    """Hash of a Parquet file's footer (``FileMetaData``), or ``None`` if it has none.

    The reads of :func:`read_tail`: one ranged read of the file's last
    ``min(size, 64 KiB)`` bytes, a second one only for a longer footer.
    ``None`` (not Parquet, unreadable) is never equal to a cached fingerprint,
    so such a file is read and fails as usual.
    """
    tail = read_tail(url, size, storage_options)
    return None if tail is None else tail.fingerprint


def default_cache_url(registry: str, name: str) -> str:
    """``<registry>-stats-cache/<name>``: beside the registry, so the registry itself
    only ever holds complete model versions.  (For a bucket-root registry such as
    ``s3://bucket``: ``s3://bucket/_dreg_stats_cache/<name>``.)"""
    reg = registry.rstrip("/")
    scheme, sep, rest = reg.partition("://")
    if sep and "/" not in rest:
        return f"{reg}/_dreg_stats_cache/{name}"
    return f"{reg}-stats-cache/{name}"


def stats_key(spec: ReadSpec) -> str:
    """Hash of everything that changes a file's statistics."""
    payload = {
        "format": STATS_FORMAT_VERSION,
        "features": list(spec.features),
        "target": spec.target,
        "weight": spec.weight,
        "fold_column": spec.fold_column,
        "n_folds": spec.n_folds,
        "random_state": spec.random_state if spec.fold_column is None else None,
        "on_invalid_rows": spec.on_invalid_rows,
    }
    if spec.encoded is not None:
        # which columns are categorical or imputed changes the pass design; the imputation
        # rule, the indicators and the lumping do not (they act on the merged statistics)
        payload["categorical"] = spec.encoded.categorical
        payload["imputed"] = spec.encoded.imputed
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def file_key(f: LakeFile) -> str:
    """Hash of a file's identity (path, size, mtime, ETag) and of its path relative to the
    lake root, from which its rows' folds are drawn (the same file under another root has
    other statistics)."""
    ident = json.dumps([f.path, f.relpath, f.size, f.mtime, f.etag])
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StatsCache:
    """Where the cache lives (a folder or URL that the workers can reach)."""

    url: str
    storage_options: dict[str, Any]
    key: str

    @property
    def folder(self) -> str:
        return posixpath.join(self.url.rstrip("/"), self.key)

    def entry(self, f: LakeFile) -> str:
        return posixpath.join(self.folder, file_key(f) + ".npz")

    def prune(self, keep: list[LakeFile]) -> int:
        """Delete entries of files that are no longer in ``keep`` (the whole lake listing)."""
        fs, folder = url_to_fs(self.folder, self.storage_options)
        if not fs.exists(folder):
            return 0
        wanted = {file_key(f) + ".npz" for f in keep}
        removed = 0
        for p in fs.ls(folder, detail=False):
            name = posixpath.basename(p.rstrip("/"))
            if name.endswith(".npz") and name not in wanted:
                fs.rm(p)
                removed += 1
        return removed


def _save(part: FilePart, url: str, storage_options: dict[str, Any]) -> None:
    fs, path = url_to_fs(url, storage_options)
    arrays = part.design.to_arrays() if part.design is not None else part.stats.to_arrays()
    arrays["files"] = np.array(json.dumps([f.to_json() for f in part.files]))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    if is_local(fs):  # object stores have no folders (s3fs's makedirs costs a HeadBucket per entry)
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
    atomic_write(fs, path, buf.getvalue())  # readers never see a half-written entry


def _load(url: str, storage_options: dict[str, Any]) -> FilePart | None:
    fs, path = url_to_fs(url, storage_options)
    try:
        # one GET on an object store: ``open`` adds a HEAD, and so does s3fs's ``cat_file``
        # without a range (for the size)
        raw = fs.cat_file(path, start=0)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        files = tuple(FileAccount.from_json(d) for d in json.loads(str(arrays.pop("files"))))
        if "design_levels" in arrays:
            design = DesignStats.from_arrays(arrays)
            return FilePart(stats=design.stats, files=files, design=design)
        return FilePart(stats=SufficientStats.from_arrays(arrays), files=files)
    # FileNotFoundError is an OSError, JSONDecodeError a ValueError; a truncated entry fails
    # in zipfile (BadZipFile, EOFError), a bare .npy in the `with` (TypeError)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # missing or unreadable: recompute


def _lookup(entry: str, footer: str, spec: ReadSpec, storage_options: dict[str, Any]) -> FilePart | None:
    """The entry's statistics when it was stored for this footer and this spec's columns, else None."""
    hit = _load(entry, storage_options)
    if (
        hit is not None
        and (hit.design is not None) == (spec.encoded is not None)
        and (hit.design is not None or hit.stats.n_features == len(spec.features))
        and hit.files
        and all(info.footer == footer for info in hit.files)
    ):
        files = tuple(replace(info, from_cache=True) for info in hit.files)
        return FilePart(stats=hit.stats, files=files, design=hit.design)
    return None


def cached_only(
    f: LakeFile, spec: ReadSpec, url: str, entry: str, cache_storage_options: dict[str, Any] | None = None
) -> FilePart | None:
    """A file's statistics from the cache, or None on a miss: the rows are never read.

    The same check as :func:`cached_file_stats` (the file's footer fingerprint
    against the one stored with the entry), run by the coordinator when every
    file may be in the cache (:func:`dreg.job.scan.lake_from_cache`).
    """
    tail = read_tail(url, f.size, spec.storage_options)
    footer = None if tail is None else tail.fingerprint
    return None if footer is None else _lookup(entry, footer, spec, dict(cache_storage_options or {}))


def cached_file_stats(
    f: LakeFile,
    spec: ReadSpec,
    url: str,
    entry: str | None,
    cache_storage_options: dict[str, Any] | None = None,
) -> FilePart:
    """A file's statistics from the cache, or read from the file and cached.

    Runs on a worker; the returned account says which (``from_cache``).  An
    entry is used only if the file's footer fingerprint (:func:`footer_fingerprint`,
    read here before the lookup) equals the one it was stored with.  On a miss
    the file is read with the footer already fetched (:class:`FileTail`): no
    second footer read.  A cache that cannot be written does not fail the fit.
    """
    so = dict(cache_storage_options or {})
    tail = read_tail(url, f.size, spec.storage_options)
    footer = None if tail is None else tail.fingerprint
    if entry is not None and footer is not None:
        hit = _lookup(entry, footer, spec, so)
        if hit is not None:
            return hit
    metadata = None if tail is None else tail.metadata()
    content = tail.data if metadata is not None and tail.whole else None
    part = read_file_stats(f, spec, url, metadata=metadata, content=content)
    part = replace(part, files=tuple(replace(info, footer=footer) for info in part.files))
    wrote = False
    if entry is not None:
        try:
            _save(part, entry, so)
            wrote = True
        except OSError:
            wrote = False
    files = tuple(replace(info, from_cache=False, cached=wrote) for info in part.files)
    return FilePart(stats=part.stats, files=files, design=part.design)
