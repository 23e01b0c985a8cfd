"""The data pass over a lake, as a Dask graph: one task per file, then a merge tree.

On the dashboard the pass reads as ``dreg-read-stats-<token>-<i>`` (one per
file: read, or load from the statistics cache) and ``dreg-merge-<token>-...``
(the tree of :func:`dreg._dask.tree_merge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from dask.base import tokenize
from dask.delayed import Delayed, delayed

from dreg._dask import tree_merge, tree_reduce
from dreg.job.cache import cached_file_stats, cached_only, file_key
from dreg.job.errors import DataError
from dreg.job.lake import FilePart, failed_part, merge_parts

__all__ = ["file_identity", "lake_from_cache", "lake_graph"]


def file_identity(path: str, size: int | None, mtime: str | None, etag: str | None) -> tuple[Any, ...]:
    """What makes two listings of a file the same file: path (URL), size, mtime and ETag.

    The fields of a ``model.json`` ``data.fingerprint`` entry (without ``rows``).
    """
    return (path, size, mtime, etag)


def _new_marks(lake, trained_on: Iterable[Mapping[str, Any]] | None) -> list[bool | frozenset[str] | None]:
    """Per file: True (new by its listing), the footers a champion recorded for the same listing
    identity (checked against the file's footer fingerprint once read), or False (not new);
    all False without a champion."""
    known: dict[tuple[Any, ...], set[str | None]] | None = None
    if trained_on is not None:
        known = {}
        for e in trained_on:
            ident = file_identity(e.get("path"), e.get("size"), e.get("mtime"), e.get("etag"))
            known.setdefault(ident, set()).add(e.get("footer"))
    # per file: True (new by its listing), or the footers the champion recorded for the same
    # listing identity, checked on the worker against the file's footer fingerprint (None: not new)
    new: list[bool | frozenset[str] | None] = []
    for f in lake.files:
        if known is None:
            new.append(False)
            continue
        footers = known.get(file_identity(lake.full_url(f), f.size, f.mtime, f.etag))
        if footers is None:
            new.append(True)
        elif None in footers:  # recorded before footer fingerprints: trust the listing
            new.append(False)
        else:
            new.append(frozenset(footers))
    return new


def lake_graph(lake, spec, cache=None, trained_on: Iterable[Mapping[str, Any]] | None = None) -> Delayed:
    """One ``dreg-read-stats`` task per lake file, merged by a ``dreg-merge`` tree.

    The result is a :class:`dreg.job.lake.FilePart`: the statistics of every file
    and the per-file account of rows read and dropped.  With a
    :class:`dreg.job.cache.StatsCache`, each task first looks for the file's cached
    statistics and only reads the file when they are missing (then caches
    them).  Leaves are in the lake's file order whether cached or not, so the
    merge tree, and hence the result, is the same bit for bit.

    ``trained_on`` (a champion's ``data.fingerprint`` entries): the files whose
    identity (:func:`file_identity`) is not among them, or whose footer
    fingerprint (:func:`dreg.job.cache.footer_fingerprint`, computed in the file's
    task) differs from the one recorded for that identity, are *new*, and the same
    tree also merges their statistics alone into ``FilePart.new_stats`` (``None``
    when no file is new), in the same single pass.  ``stats`` does not change.
    """
    new = _new_marks(lake, trained_on)
    token = tokenize(lake.url, [f.identity() for f in lake.files], spec, cache, *([new] if any(m is not False for m in new) else []))[:16]
    so = None if cache is None else cache.storage_options
    leaves = [
        delayed(_file_stats_or_error, pure=True)(
            f,
            spec,
            lake.full_url(f),
            None if cache is None else cache.entry(f),
            so,
            is_new,
            dask_key_name=f"dreg-read-stats-{token}-{i}",
        )
        for i, (f, is_new) in enumerate(zip(lake.files, new, strict=True))
    ]
    if not leaves:
        raise ValueError("no files to read")
    return tree_merge(leaves, token, func=merge_parts)


def lake_from_cache(
    lake, spec, cache, trained_on: Iterable[Mapping[str, Any]] | None = None, threads: int = 16
) -> FilePart | None:
    """The result of :func:`lake_graph` when every file is in the statistics cache, else None.

    Run by the coordinator, without a cluster: one listing of the cache folder
    first (a file without an entry: None at once, nothing loaded), then per file
    its footer fingerprint and its entry (``threads`` at a time, I/O), checked as
    a worker checks them; any miss (a file rewritten in place) gives None.  The
    parts are merged with :func:`dreg._dask.tree_merge`'s grouping, so the result
    equals the cluster's bit for bit.
    """
    from concurrent.futures import ThreadPoolExecutor

    from dreg.job.storage import url_to_fs

    if not lake.files:
        return None
    fs, folder = url_to_fs(cache.folder, cache.storage_options)
    try:
        present = {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False)}
    except (FileNotFoundError, NotADirectoryError):
        return None
    if any(file_key(f) + ".npz" not in present for f in lake.files):
        return None
    new = _new_marks(lake, trained_on)

    def one(i: int) -> FilePart | None:
        f = lake.files[i]
        part = cached_only(f, spec, lake.full_url(f), cache.entry(f), cache.storage_options)
        if part is None:
            return None
        return _mark_new(part, new[i])

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(lake.files)))) as pool:
        parts = list(pool.map(one, range(len(lake.files))))
    if any(p is None for p in parts):
        return None
    return tree_reduce(parts, func=merge_parts)


def _file_stats_or_error(
    f, spec, url, entry, cache_storage_options, is_new: bool | frozenset[str] | None = False
) -> FilePart:
    """A lake file's statistics, or its :class:`dreg.job.lake.DataError` as a value.

    A bad file is an expected outcome, not a crash: returned, the error skips
    distributed's "Compute Failed" traceback on the worker's console and the
    retries, and the merge tree carries it to the client, which raises it
    (:meth:`dreg.job.lake.FilePart.raise_errors`) naming the file.  A new file's
    statistics are also its part's ``new_stats`` (the cache entry is the same).
    ``is_new`` as a set: the champion's recorded footer fingerprints for this
    file's listing identity; the file is new when its footer is not among them
    (rewritten in place with the same size and mtime).
    """
    try:
        part = cached_file_stats(f, spec, url, entry, cache_storage_options)
    except DataError as exc:
        return failed_part(len(spec.features), exc)
    return _mark_new(part, is_new)


def _mark_new(part: FilePart, is_new: bool | frozenset[str] | None) -> FilePart:
    """The part with its statistics also as ``new_stats`` when its file is new to the champion."""
    if isinstance(is_new, frozenset):
        is_new = any(info.footer not in is_new for info in part.files)
    return replace(part, new_stats=part.stats, new_design=part.design) if is_new else part
