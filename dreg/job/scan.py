"""The data pass over a lake, as a Dask graph: one task per file, then a merge tree.

On the dashboard the pass reads as ``dreg-read-stats-<token>-<i>`` (one per
file: read, or load from the statistics cache) and ``dreg-merge-<token>-...``
(the tree of :func:`dreg._dask.tree_merge`).
"""

from __future__ import annotations

from dask.base import tokenize
from dask.delayed import Delayed, delayed

from dreg._dask import tree_merge
from dreg.job.cache import cached_file_stats
from dreg.job.errors import DataError
from dreg.job.lake import failed_part, merge_parts

__all__ = ["lake_graph"]


def lake_graph(lake, spec, cache=None) -> Delayed:
    """One ``dreg-read-stats`` task per lake file, merged by a ``dreg-merge`` tree.

    The result is a :class:`dreg.job.lake.FilePart`: the statistics of every file
    and the per-file account of rows read and dropped.  With a
    :class:`dreg.job.cache.StatsCache`, each task first looks for the file's cached
    statistics and only reads the file when they are missing (then caches
    them).  Leaves are in the lake's file order whether cached or not, so the
    merge tree, and hence the result, is the same bit for bit.
    """
    token = tokenize(lake.url, [f.identity() for f in lake.files], spec, cache)[:16]
    so = None if cache is None else cache.storage_options
    leaves = [
        delayed(_file_stats_or_error, pure=True)(
            f,
            spec,
            lake.full_url(f),
            None if cache is None else cache.entry(f),
            so,
            dask_key_name=f"dreg-read-stats-{token}-{i}",
        )
        for i, f in enumerate(lake.files)
    ]
    if not leaves:
        raise ValueError("no files to read")
    return tree_merge(leaves, token, func=merge_parts)


def _file_stats_or_error(f, spec, url, entry, cache_storage_options):
    """A lake file's statistics, or its :class:`dreg.job.lake.DataError` as a value.

    A bad file is an expected outcome, not a crash: returned, the error skips
    distributed's "Compute Failed" traceback on the worker's console and the
    retries, and the merge tree carries it to the client, which raises it
    (:meth:`dreg.job.lake.FilePart.raise_errors`) naming the file.
    """
    try:
        return cached_file_stats(f, spec, url, entry, cache_storage_options)
    except DataError as exc:
        return failed_part(len(spec.features), exc)
