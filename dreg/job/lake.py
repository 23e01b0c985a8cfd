"""Reading a Parquet lake: listing, partition pruning, schema checks, per-file statistics.

A lake is a folder or URL (``/path``, ``file://``, ``s3://`` through fsspec) of
Parquet files, flat or hive-partitioned (``day=2026-11-01/part-0.parquet``).
Files whose name (or any parent folder) starts with ``_`` or ``.`` are
ignored (``_SUCCESS``, ``_metadata``, ``.crc``); every other file must be
Parquet.

Each file is one task: it opens the file, checks the schema, reads only the
needed columns one row group at a time (so memory is bounded by a row group,
not the file) and returns the file's per-fold statistics.  Folds are drawn
from the file's path relative to the lake root and the row's position in the
file (:func:`dreg.core.folds.fold_ids` with ``stream = stream_key(relpath)``), so a
row keeps its fold when other files are added, moved in time windows or
cached.

Pure pyarrow/fsspec/numpy: no Dask import (the Dask graph is in
:mod:`dreg._dask`).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dreg.core._util import integer_labels, nonfinite_rows
from dreg.core.design import DesignAccumulator, DesignSpec, DesignStats, TooManyColumns, merge_design
from dreg.core.folds import fold_ids, stream_key
from dreg.core.stats import SufficientStats, column_block_stats, empty_stats, merge
from dreg.job.errors import DataError
from dreg.job.record import FileAccount

__all__ = [
    "DataError",
    "FilePart",
    "Lake",
    "LakeFile",
    "ReadSpec",
    "file_fold_ids",
    "infer_features",
    "failed_part",
    "merge_parts",
    "open_lake",
    "read_file_stats",
]


# the files of a plain lake: Parquet by name, so a stray README.txt or _SUCCESS marker is not read
DEFAULT_GLOB = "*.parquet"


def matches_glob(relpath: str, pattern: str) -> bool:
    """Whether a lake file matches ``data.glob``: a pattern without ``/`` is matched against the
    file name (``*.parquet``, ``part-*``), one with ``/`` against the path relative to the lake
    root (``day=*/*.parquet``), part by part: ``*`` does not cross ``/``, and ``**`` stands for
    any number of parts."""
    if "/" not in pattern:
        return fnmatch.fnmatchcase(posixpath.basename(relpath), pattern)
    return _match_parts(relpath.split("/"), pattern.strip("/").split("/"))


def _match_parts(parts: list[str], pats: list[str]) -> bool:
    if not pats:
        return not parts
    if pats[0] == "**":
        return any(_match_parts(parts[i:], pats[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pats[0]) and _match_parts(parts[1:], pats[1:])


@dataclass(frozen=True)
class LakeFile:
    """One Parquet file and its identity (what a cache or fingerprint keys on)."""

    path: str
    relpath: str
    size: int
    mtime: str | None = None
    etag: str | None = None
    partitions: tuple[tuple[str, str], ...] = ()

    def identity(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime": self.mtime, "etag": self.etag}


@dataclass(frozen=True)
class Lake:
    """A listed (and filtered) lake."""

    url: str
    protocol: str
    root: str
    storage_options: dict[str, Any]
    files: tuple[LakeFile, ...]
    partition_columns: tuple[str, ...] = ()
    pruned: int = 0
    all_files: tuple[LakeFile, ...] = ()
    window_values: tuple[str, ...] = ()
    # files under the lake that do not match its glob (relative paths; not read)
    ignored: tuple[str, ...] = ()
    glob: str = DEFAULT_GLOB

    def full_url(self, f: LakeFile) -> str:
        return f.path if self.protocol in ("file", "local") else f"{self.protocol}://{f.path}"

    def filesystem(self):
        import fsspec

        return fsspec.filesystem(self.protocol, **self.storage_options)


# what a user can do about a design too wide for the Gram engine (model.max_gram_bytes)
TOO_WIDE_HINT = "raise model.max_gram_bytes if the memory is there, or leave the column out of data.features"


@dataclass(frozen=True)
class ReadSpec:
    """Everything a worker needs to turn one file into statistics."""

    protocol: str
    storage_options: dict[str, Any]
    features: tuple[str, ...]
    target: str
    weight: str | None = None
    fold_column: str | None = None
    n_folds: int | None = None
    random_state: int = 0
    on_invalid_rows: str = "error"
    # categorical columns and imputed numeric columns (None: every feature is numeric, nothing imputed)
    design: DesignSpec | None = None
    # the widest pass design a file may have (model.max_gram_bytes): a wider one is a DataError
    max_columns: int | None = None
    # the model's encoding (levels, imputation values), for passes that read encoded rows after
    # the statistics pass (binomial/Poisson: read_file_arrays)
    encoding: Any = None

    @property
    def encoded(self) -> DesignSpec | None:
        """The design spec when some column is categorical or imputed, else None."""
        return None if self.design is None or self.design.plain else self.design

    @property
    def columns(self) -> list[str]:
        cols = [*self.features, self.target]
        cols += [c for c in (self.weight, self.fold_column) if c]
        return cols


@dataclass(frozen=True)
class FilePart:
    """Statistics of one or more files plus a per-file account of rows read and dropped."""

    stats: SufficientStats
    files: tuple[FileAccount, ...] = field(default_factory=tuple)
    # data errors of the files merged here (a :class:`DataError` on a worker is
    # returned, not raised: no worker traceback on the console, no retry); the
    # first ``_MAX_ERRORS`` messages in lake order, and how many there were
    errors: tuple[str, ...] = ()
    n_errors: int = 0
    # the statistics of the files merged here that the champion never trained on (None: no
    # such file, or nobody asked): :func:`dreg.job.scan.lake_graph` with ``trained_on``
    new_stats: SufficientStats | None = None
    # with categorical or imputed columns (ReadSpec.encoded): the statistics of the pass design
    # with its levels and fills (``stats`` is then ``design.stats``), and those of the new files
    design: DesignStats | None = None
    new_design: DesignStats | None = None

    def raise_errors(self) -> None:
        """Raise :class:`DataError` for the first file that failed, naming how many did."""
        raise_file_errors(self.errors, self.n_errors)


def raise_file_errors(errors: Sequence[str], n_errors: int) -> None:
    """Raise one :class:`DataError` for files that failed (messages ``"<url>: ..."``).

    The first message in full, then how many more files failed and the paths
    of up to three of them.  Nothing is raised when ``n_errors`` is 0.
    """
    if not n_errors:
        return
    more = n_errors - 1
    extra = ""
    if more:
        others = "; ".join(e.split(": ", 1)[0] for e in errors[1:4])
        extra = f" (and {more} more file(s) with errors{', e.g. ' + others if others else ''})"
    raise DataError(errors[0] + extra)


def _mtime(info: dict[str, Any]) -> str | None:
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        v = info.get(key)
        if v is None:
            continue
        if isinstance(v, int | float):
            return _dt.datetime.fromtimestamp(float(v), tz=_dt.UTC).isoformat()
        if isinstance(v, _dt.datetime):
            return (v if v.tzinfo else v.replace(tzinfo=_dt.UTC)).isoformat()
        return str(v)
    return None


def _hidden(relpath: str) -> bool:
    return any(part.startswith(("_", ".")) for part in relpath.split("/"))


def _partitions(relpath: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in relpath.split("/")[:-1]:
        if "=" in part:
            k, v = part.split("=", 1)
            out.append((k, unquote(v)))
    return tuple(out)


def _compare(a: str, op: str, b: Any) -> bool:
    def coerce(x: Any, y: Any) -> tuple[Any, Any]:
        try:
            return float(x), float(y)
        except (TypeError, ValueError):
            return str(x), str(y)

    if op in ("in", "not in"):
        values = b if isinstance(b, list | tuple) else [b]
        hit = any(coerce(a, v)[0] == coerce(a, v)[1] for v in values)
        return hit if op == "in" else not hit
    x, y = coerce(a, b)
    return {
        "==": x == y,
        "!=": x != y,
        "<": x < y,
        "<=": x <= y,
        ">": x > y,
        ">=": x >= y,
    }[op]


def open_lake(
    path: str,
    storage_options: dict[str, Any] | None = None,
    filters: Sequence[Any] = (),
    window: Any = None,
    glob: str = DEFAULT_GLOB,
) -> Lake:
    """List the Parquet files of a lake, pruning hive partitions with ``filters``.

    The files are those under ``path`` that match ``glob`` (:func:`matches_glob`;
    default ``*.parquet``) and whose path has no part starting with ``_`` or
    ``.``; the others are listed in ``Lake.ignored`` and never read.  A
    ``path`` that names one file is read whatever its name.

    ``filters`` are :class:`dreg.job.config.Filter` objects (or anything with
    ``column``, ``op``, ``value``) on partition columns.  ``window`` (a
    :class:`dreg.job.config.Window`, with ``column`` and ``last``) then keeps the
    files of the ``last`` largest values of a partition column (e.g. the last
    7 days), after the filters.
    """
    import fsspec
    from fsspec.core import url_to_fs

    storage_options = dict(storage_options or {})
    try:
        fs, root = url_to_fs(path, **storage_options)
    except (ImportError, ValueError) as exc:
        raise DataError(f"cannot open lake {path!r}: {exc}") from None
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    root = root.rstrip("/")
    try:
        if not fs.exists(root):
            raise DataError(f"lake path {path!r} does not exist")
        if fs.isfile(root):
            listing = {root: fs.info(root)}
            base = posixpath.dirname(root)
        else:
            listing = fs.find(root, detail=True)
            base = root
    except DataError:
        raise
    except (OSError, PermissionError) as exc:
        raise DataError(f"cannot list lake {path!r}: {exc}") from None
    files = []
    ignored = []
    single = base != root  # the path names one file
    for p in sorted(listing):
        info = listing[p]
        if info.get("type", "file") != "file":
            continue
        rel = posixpath.relpath(p, base) if base else p
        if _hidden(rel):
            continue
        if not single and not matches_glob(rel, glob):
            ignored.append(rel)
            continue
        etag = info.get("ETag") or info.get("etag")
        files.append(
            LakeFile(
                path=p,
                relpath=rel,
                size=int(info.get("size") or 0),
                mtime=_mtime(info),
                etag=str(etag).strip('"') if etag else None,
                partitions=_partitions(rel),
            )
        )
    if not files:
        other = (
            f" ({len(ignored)} other file(s), e.g. {', '.join(repr(r) for r in ignored[:3])}; "
            "set data.glob to read them)"
            if ignored
            else ""
        )
        raise DataError(f"lake {path!r} holds no files matching {glob!r}{other}")
    part_cols = tuple(sorted({k for f in files for k, _ in f.partitions}))
    kept = files
    for flt in filters:
        if flt.column not in part_cols:
            raise DataError(
                f"filter on {flt.column!r}: not a partition column of lake {path!r} "
                f"(partition columns: {list(part_cols) or 'none'})"
            )
        kept = [f for f in kept if _compare(dict(f.partitions).get(flt.column, ""), flt.op, flt.value)]
    window_values: tuple[str, ...] = ()
    if window is not None:
        if window.column not in part_cols:
            raise DataError(
                f"window on {window.column!r}: not a partition column of lake {path!r} "
                f"(partition columns: {list(part_cols) or 'none'})"
            )
        values = sorted({dict(f.partitions).get(window.column, "") for f in kept}, key=_sort_key)
        window_values = tuple(values[-window.last :])
        keep_values = set(window_values)
        kept = [f for f in kept if dict(f.partitions).get(window.column, "") in keep_values]
    _ = fsspec  # imported for its registry of protocols
    return Lake(
        url=path,
        protocol=protocol,
        root=root,
        storage_options=storage_options,
        files=tuple(kept),
        partition_columns=part_cols,
        pruned=len(files) - len(kept),
        all_files=tuple(files),
        window_values=window_values,
        ignored=tuple(ignored),
        glob=glob,
    )


def _sort_key(v: str) -> tuple[int, float, str]:
    """Partition values in their natural order: numbers numerically, the rest as text
    (ISO dates sort correctly as text)."""
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)


# a row key needs at least this many non-null rows in the first file to be recognized
ROW_KEY_MIN_ROWS = 10


def _categorical_only(t: pa.DataType) -> bool:
    """String, dictionary and bool columns: categorical without being declared."""
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t) or pa.types.is_boolean(t)


def _row_key_reason(col: pa.ChunkedArray) -> str | None:
    """Why an integer or string column looks like a row key (unique, or monotonic integer values), or None."""
    if _categorical_only(col.type):
        if pa.types.is_boolean(col.type):
            return None
        values = pc.drop_null(col)
        if len(values) >= ROW_KEY_MIN_ROWS and len(pc.unique(values)) == len(values):
            return "unique string values"
        return None
    values = np.asarray(pc.drop_null(col).to_numpy(zero_copy_only=False))
    if values.size < ROW_KEY_MIN_ROWS:
        return None
    if np.unique(values).size == values.size:
        return "unique integer values"
    diff = np.diff(values)
    if values[0] != values[-1] and (np.all(diff >= 0) or np.all(diff <= 0)):
        return "monotonic integer values"
    return None


def infer_feature_columns(
    lake: Lake,
    target: str,
    weight: str | None,
    fold_column: str | None,
    exclude: Sequence[str] = (),
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Features inferred from the first file: ``(features, skipped, row_keys)``.

    ``features``: every numeric, string, dictionary and bool column (the
    last three categorical) except target, weight, fold column, ``exclude``
    and row keys.  ``skipped`` maps each other column of the file to the
    reason it was skipped (``target``, ``weight``, ``fold column``,
    ``excluded (data.exclude)``, ``unsupported type (<type>)``,
    ``row key (...)``).  ``row_keys`` maps each column that looks like a row
    key (unique or monotonic integer values, or unique strings, in the first
    file with at least :data:`ROW_KEY_MIN_ROWS` rows) to why; they are
    skipped too, and the caller warns (list them in ``features`` to use
    them).

    An ``exclude`` name that is neither a column of the first file nor a
    partition column raises :class:`ConfigError` listing them.
    """
    from dreg.job.errors import ConfigError

    fs = lake.filesystem()
    roles = {target: "target"}
    if weight:
        roles[weight] = "weight"
    if fold_column:
        roles[fold_column] = "fold column"
    for f in lake.files:
        url = lake.full_url(f)
        pf = _open(fs, f, url)
        schema = pf.schema_arrow
        unknown = [c for c in exclude if c not in schema.names and c not in lake.partition_columns]
        if unknown:
            raise ConfigError(
                f"data.exclude lists column(s) not in the lake: {unknown} "
                f"(columns of {url}: {schema.names}"
                + (f"; partition columns: {list(lake.partition_columns)}" if lake.partition_columns else "")
                + ")"
            )
        skipped: dict[str, str] = {}
        candidates = []
        for name, t in zip(schema.names, schema.types, strict=True):
            if name in roles:
                skipped[name] = roles[name]
            elif name in exclude:
                skipped[name] = "excluded (data.exclude)"
            elif _categorical_only(t) or _numeric(t):
                candidates.append(name)
            else:
                skipped[name] = f"unsupported type ({t})"
        ints = [
            c for c in candidates if pa.types.is_integer(schema.field(c).type) or _categorical_only(schema.field(c).type)
        ]
        row_keys: dict[str, str] = {}
        if ints and pf.metadata.num_rows >= ROW_KEY_MIN_ROWS:
            try:
                table = pf.read(columns=ints)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise DataError(f"{url}: cannot read columns {ints} ({type(exc).__name__}: {exc})") from None
            for c in ints:
                reason = _row_key_reason(table.column(c))
                if reason:
                    row_keys[c] = f"{reason} in {url}"
                    skipped[c] = f"row key ({reason})"
        feats = [c for c in candidates if c not in row_keys]
        if not feats:
            raise DataError(f"{url}: no numeric or categorical feature columns besides {sorted(skipped)}")
        return feats, skipped, row_keys
    raise DataError(f"lake {lake.url!r} holds no files after filtering")


def check_columns(
    lake: Lake,
    features: Sequence[str] | None,
    target: str,
    weight: str | None = None,
    fold_column: str | None = None,
    categorical: Sequence[str] = (),
) -> None:
    """Check the configured columns against the first file's schema, before any cluster starts.

    One footer read.  Raises :class:`DataError` (exit code 3) naming the file,
    each missing column with the configuration key that asked for it, and the
    nearest column names (``difflib``: a typo or a case difference); types
    are checked as well (numeric, or for features that are categorical --
    string, dictionary, bool, or listed in ``categorical`` -- a type levels
    can be read from).  ``fold_column`` may also be a hive partition
    column.  Later files are checked by the pass itself, each naming its file.
    """
    import difflib

    if not lake.files:
        return
    f = lake.files[0]
    url = lake.full_url(f)
    schema = _open(lake.filesystem(), f, url).schema_arrow
    names = list(schema.names)
    wanted = [(c, "data.features") for c in (features or ())] + [(target, "data.target")]
    wanted += [(c, key) for c, key in ((weight, "data.weight"), (fold_column, "data.fold_column")) if c]
    problems = []
    for col, key in wanted:
        if col in names:
            t = schema.field(col).type
            if key == "data.features" and (_categorical_only(t) or col in categorical):
                if not categorical_type(t):
                    problems.append(f"data.categorical column {col!r} has type {t} (string, dictionary, bool or integer)")
                continue
            if not _numeric(t) and key != "data.fold_column":
                problems.append(f"{key} column {col!r} is not numeric ({t})")
            continue
        if key == "data.fold_column" and col in lake.partition_columns:
            continue
        close = difflib.get_close_matches(col, names, n=3, cutoff=0.6)
        close += [n for n in names if n.lower() == col.lower() and n not in close]
        hint = f"; did you mean {' or '.join(repr(c) for c in close[:3])}?" if close else ""
        problems.append(f"{key} column {col!r} is not in the file{hint}")
    if problems:
        shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
        raise DataError(f"{url}: " + "; ".join(problems) + f" (its columns: {shown})")


def categorical_features(lake: Lake, features: Sequence[str], declared: Sequence[str] = ()) -> list[str]:
    """The features that are categorical: string, dictionary and bool columns of the first
    file, and the ``declared`` ones (``data.categorical``), in ``features`` order."""
    if not lake.files:
        return [c for c in features if c in declared]
    f = lake.files[0]
    schema = _open(lake.filesystem(), f, lake.full_url(f)).schema_arrow
    out = []
    for c in features:
        if c in declared:
            out.append(c)
        elif c in schema.names and _categorical_only(schema.field(c).type):
            out.append(c)
    return out


def infer_features(
    lake: Lake, target: str, weight: str | None, fold_column: str | None, exclude: Sequence[str] = ()
) -> list[str]:
    """The features of :func:`infer_feature_columns`: every numeric column of the
    first file except target, weight, fold column, ``exclude`` and row keys."""
    return infer_feature_columns(lake, target, weight, fold_column, exclude)[0]


def _open(
    fs, f: LakeFile, url: str, metadata: pq.FileMetaData | None = None, content: bytes | None = None
) -> pq.ParquetFile:
    """Open a lake file for reading, as :class:`pyarrow.parquet.ParquetFile`.

    ``metadata``: the file's footer, already read (:class:`dreg.job.cache.FileTail`),
    so pyarrow does not read it again; ``content``: the whole file, already read
    with its footer (a file no larger than that read), so it is not opened at all.
    """
    from fsspec.implementations.local import LocalFileSystem

    try:
        if content is not None:
            return pq.ParquetFile(pa.BufferReader(content), metadata=metadata)
        if isinstance(fs, LocalFileSystem):
            # Arrow's own file reader: a Python file object costs twice the read
            # time on Dask workers (distributed sets MALLOC_TRIM_THRESHOLD_, so every
            # large bytes buffer Python allocates for a read is a fresh mmap)
            return pq.ParquetFile(f.path, metadata=metadata)
        # with the footer read at the listed size, that size is the file's: s3fs then skips
        # the HEAD request it otherwise sends to open a file
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
        s3 = metadata is not None and "s3" in protocols and f.size is not None
        handle = fs.open(f.path, "rb", **({"size": f.size} if s3 else {}))
        if s3:
            # s3fs reads ``details`` (a HEAD) at the first range fetch, for the ETag it
            # checks each GET against: the listing's are those of the file read
            details = {"name": f.path, "size": f.size, "type": "file"}
            if f.etag:
                details["ETag"] = f'"{f.etag}"'
            handle.details = details
        return pq.ParquetFile(handle, metadata=metadata)
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{url}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None


# Arrow's fixed-width numeric types by name, and their numpy dtypes
_PRIMITIVE = {
    "double": "float64",
    "float": "float32",
    "halffloat": "float16",
    **{f"{s}int{b}": f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)},
}


def _column_array(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        # one chunk (a row group's column) is used as is: combine_chunks would copy it
        col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    t = col.type
    if col.null_count == 0 and str(t) in _PRIMITIVE:
        # a read-only view of the Arrow buffer, as to_numpy gives, without its pandas import (0.5 s per worker)
        dtype = np.dtype(_PRIMITIVE[str(t)])
        view = np.frombuffer(col.buffers()[1], dtype=dtype, count=len(col), offset=col.offset * dtype.itemsize)
        view.flags.writeable = False
        return view
    # bools, decimals and nullable columns: float64 with NaN for nulls
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


def categorical_type(t: pa.DataType) -> bool:
    """Arrow types a categorical column may have: string, dictionary, bool or integer."""
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_dictionary(t)
        or pa.types.is_boolean(t)
        or pa.types.is_integer(t)
    )


def categorical_codes(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[Any]]:
    """``(codes, levels)`` of a categorical column: int64 codes into ``levels`` (plain Python
    values; :data:`dreg.core.encode.NULL_LEVEL`, ``None``, for null, last).

    Dictionary columns use their dictionary (levels that no row takes are
    dropped later); other columns are dictionary-encoded here.  A dictionary
    that holds null itself maps it to the null level.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    dictionary = col.dictionary
    levels = dictionary.to_pylist()
    null_code = len(levels)
    codes = col.indices.fill_null(null_code).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if dictionary.null_count:
        bad = [i for i, v in enumerate(levels) if v is None]
        remap = np.arange(null_code + 1, dtype=np.int64)
        remap[bad] = null_code
        codes = remap[codes]
        levels = [v if v is not None else f"\0null{i}" for i, v in enumerate(levels)]
    return codes, [*levels, None]


def file_fold_ids(f: LakeFile, start: int, stop: int, n_folds: int, random_state: int) -> np.ndarray:
    """The folds of rows ``start .. stop - 1`` of a lake file (stable per file path)."""
    return fold_ids(start, stop, n_folds, random_state, stream=stream_key(f.relpath))


def _row_groups(
    f: LakeFile,
    spec: ReadSpec,
    url: str | None = None,
    check_features: bool = True,
    metadata: pq.FileMetaData | None = None,
    content: bytes | None = None,
) -> Iterator[
    tuple[
        list[np.ndarray], np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, dict[str, int], int, Any
    ]
]:
    """Yield ``(feature columns, y, w, folds, keep, invalid_counts, n_rows, extra)`` per row group.

    The feature columns are the numeric ones (``spec.features`` without the
    categorical columns).  ``extra`` is None without categorical or imputed
    columns (``spec.encoded``), else ``(missing, categorical)``: per imputed
    column its missing-row mask (None when nothing is missing; the column holds
    NaN there), and per categorical column ``(codes, levels)`` with the codes of
    the kept rows (:func:`categorical_codes`).

    ``keep`` is None or the boolean mask of valid rows (``y``, ``w``, ``folds``
    are already restricted to it; the feature columns are not).  With
    ``check_features=False`` the feature columns are not scanned for NaN/inf
    here: the caller checks its statistics instead (one pass fewer) and, when
    they are not finite, reads the file again with ``check_features=True``.

    A file with problems raises one :class:`DataError` after its last row
    group, with the whole file's counts (the row groups after the first
    problem are only counted, not yielded).

    With ``on_invalid_rows='drop'`` rows with null/NaN/inf values are removed
    (and counted in ``invalid_counts`` per column); with ``'error'`` they raise
    :class:`DataError` naming the file, the column and the count.

    ``metadata`` and ``content``: the file's footer, or the whole file, already
    read (:func:`_open`).
    """
    import fsspec

    url = url or f.path
    fs = fsspec.filesystem(spec.protocol, **spec.storage_options)
    pf = _open(fs, f, url, metadata, content)
    schema = pf.schema_arrow
    part = dict(f.partitions)
    fold_from_partition = (
        spec.fold_column is not None and spec.fold_column not in schema.names and spec.fold_column in part
    )
    wanted = [c for c in spec.columns if not (fold_from_partition and c == spec.fold_column)]
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise DataError(
            f"{url}: missing column(s) {missing} (the file has {len(schema.names)} columns: "
            f"{schema.names[:20]}{' ...' if len(schema.names) > 20 else ''})"
        )
    design = spec.encoded
    categorical = set(design.categorical) if design else set()
    imputed = design.imputed if design else []
    for c in wanted:
        t = schema.field(c).type
        if c in categorical:
            if not categorical_type(t):
                raise DataError(
                    f"{url}: categorical column {c!r} has type {t} (categorical columns are string, "
                    "dictionary, bool or integer)"
                )
        elif not _numeric(t):
            hint = "; list it in data.categorical or leave it out of data.features" if categorical_type(t) else ""
            raise DataError(f"{url}: column {c!r} has non-numeric type {t}{hint}")
    numeric = [c for c in spec.features if c not in categorical]
    start = 0
    # the file's problems, summed over its row groups once one was found
    failing = False
    bad_columns: dict[str, int] = {}
    bad_rows = negative = 0
    for rg in range(pf.num_row_groups):
        try:
            table = pf.read_row_group(rg, columns=wanted)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"{url}: cannot read row group {rg} ({type(exc).__name__}: {exc})") from None
        n = table.num_rows
        if n == 0:
            continue
        cols = {c: _column_array(table.column(c)) for c in wanted if c not in categorical}
        missing: list[np.ndarray | None] = []
        for c in imputed:
            miss = np.isnan(cols[c]) if cols[c].dtype.kind == "f" else None
            missing.append(miss if miss is not None and miss.any() else None)
        y = cols[spec.target]
        w = cols[spec.weight] if spec.weight else None
        if spec.fold_column is not None:
            if fold_from_partition:
                try:
                    folds = np.full(n, int(part[spec.fold_column]), dtype=np.int64)
                except ValueError:
                    raise DataError(
                        f"{url}: fold partition {spec.fold_column}={part[spec.fold_column]!r} is not an integer"
                    ) from None
            else:
                folds = cols[spec.fold_column]
        elif spec.n_folds is not None:
            folds = file_fold_ids(f, start, start + n, spec.n_folds, spec.random_state)
        else:
            folds = None
        # an imputed column's NaN/null is missing, not invalid: only its infinities are checked
        imputed_miss = dict(zip(imputed, missing, strict=True))
        feature_checks = [
            (c, cols[c] if imputed_miss.get(c) is None else np.where(imputed_miss[c], 0.0, cols[c]))
            for c in numeric
        ]
        checked = list(feature_checks) if check_features else []
        checked += [(c, v) for c, v in ((spec.target, y), (spec.weight, w)) if c and v is not None]
        if folds is not None:
            checked.append((spec.fold_column or "fold", folds))
        if failing and not check_features:
            # counting mode: every column, so the file's account is whole
            checked = feature_checks + checked
        invalid, bad = nonfinite_rows(checked, n)
        neg = int(np.count_nonzero(w[~bad] < 0)) if w is not None else 0
        if (invalid and spec.on_invalid_rows == "error") or neg:
            # the error names the file's counts, not this row group's: the
            # remaining row groups are only counted, nothing more is yielded
            failing = True
        if failing:
            if spec.on_invalid_rows == "error":
                for c, k in invalid.items():
                    bad_columns[c] = bad_columns.get(c, 0) + k
                bad_rows += int(bad.sum())
            negative += neg
            start += n
            continue
        keep = None
        if bad.any():
            keep = ~bad
            y = y[keep]
            w = None if w is None else w[keep]
            folds = None if folds is None else folds[keep]
        if folds is not None and folds.dtype.kind == "f":
            labels = integer_labels(folds)  # finite here: non-finite rows raised or were dropped
            if labels is None:
                raise DataError(f"{url}: fold column {spec.fold_column!r} holds non-integer values")
            folds = labels
        extra = None
        if design is not None:
            cats = []
            for c in design.categorical:
                codes, levels = categorical_codes(table.column(c))
                cats.append((codes if keep is None else codes[keep], levels))
            extra = (missing, cats)
        yield [cols[c] for c in numeric], y, w, folds, keep, invalid, n, extra
        start += n
    if failing:
        _raise_file_problems(url, bad_columns, bad_rows, spec.weight, negative)


def _raise_file_problems(
    url: str, invalid: dict[str, int], n_bad: int, weight: str | None, negative: int
) -> None:
    """One :class:`DataError` with a whole file's counts: invalid rows, negative weights."""
    neg = f"column {weight!r} has {negative} negative weight(s)" if negative else ""
    if invalid:
        detail = ", ".join(f"column {c!r}: {k}" for c, k in invalid.items())
        raise DataError(
            f"{url}: {n_bad} row(s) with null, NaN or infinite values ({detail}); "
            + (f"{neg}; " if neg else "")
            + "set data.on_invalid_rows: drop to skip such rows"
        )
    raise DataError(f"{url}: {neg}")


def read_file_arrays(
    f: LakeFile, spec: ReadSpec, url: str | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, int], int]]:
    """Yield ``(X, y, w, folds, invalid_counts, n_rows)`` per row group, rows checked.

    With ``on_invalid_rows='drop'`` rows with null/NaN/inf values are removed
    (and counted in ``invalid_counts`` per column); with ``'error'`` they raise
    :class:`DataError` naming the file, the column and the count.
    """
    from dreg.core.design import design_matrix

    for feats, y, w, folds, keep, invalid, n, extra in _row_groups(f, spec, url):
        if extra is None:
            X = np.column_stack(feats) if feats else np.zeros((n, 0))
            if keep is not None:
                X = X[keep]
        else:
            if spec.encoding is None:
                raise ValueError("reading encoded rows needs the model's encoding (ReadSpec.encoding)")
            numeric = [c for c in spec.features if c not in set(spec.encoded.categorical)]
            num = {c: (v if keep is None else v[keep]) for c, v in zip(numeric, feats, strict=True)}
            cats = dict(zip(spec.encoded.categorical, extra[1], strict=True))
            X = design_matrix(spec.encoding, num, cats).X
        yield X, y, w, folds, invalid, n


def read_file_stats(
    f: LakeFile,
    spec: ReadSpec,
    url: str | None = None,
    *,
    metadata: pq.FileMetaData | None = None,
    content: bytes | None = None,
) -> FilePart:
    """Per-fold statistics of one file, read one row group at a time.

    Each row group's columns, shifted by their mean, are scattered into fold
    order (one float64 copy of the data, into a work array reused for every
    row group of the file), then ``[X y]`` gets one Gram per fold
    (:func:`dreg.core.stats.column_block_stats`).

    ``metadata``: the file's ``FileMetaData`` when its footer was already read
    (:func:`dreg.job.cache.cached_file_stats` hashes it first), so it is not read
    again; ``content``: the whole file's bytes, when that read covered it.  The
    statistics are the same bit for bit either way.
    """
    url = url or f.path
    design = spec.encoded
    stats = empty_stats(len(spec.features))
    # with categorical or imputed columns: the row groups' sparse sums add up in place (one
    # centering per file), the numeric columns merge per row group
    acc = DesignAccumulator(design, spec.max_columns) if design is not None else None
    imputed_pos = [design.numeric.index(c) for c in design.imputed] if design is not None else []
    rows = used = 0
    invalid_total: dict[str, int] = {}
    check = spec.on_invalid_rows == "drop"
    scratch = np.empty((0, 0), order="F")  # one work array for the file's row groups
    for feats, y, w, folds, keep, invalid, n, extra in _row_groups(f, spec, url, check, metadata, content):
        rows += n
        for c, k in invalid.items():
            invalid_total[c] = invalid_total.get(c, 0) + k
        m = y.shape[0]
        used += m
        if m == 0:
            continue
        width = len(feats) + len(imputed_pos) + 1
        if scratch.shape[0] < m or scratch.shape[1] < width:
            scratch = np.empty((m, width), order="F")
        rows_used = np.flatnonzero(keep) if keep is not None else None
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are reported just below
            if extra is None:
                block = column_block_stats(feats, y, w, folds, rows=rows_used, scratch=scratch)
            else:
                try:
                    block = acc.add(feats, extra[0], extra[1], y, w, folds, rows_used, scratch=scratch)
                except TooManyColumns as exc:
                    raise DataError(f"{url}: {exc}; {TOO_WIDE_HINT}") from None
                except ValueError as exc:  # levels of mixed types within a column
                    raise DataError(f"{url}: {exc}") from None
        if not check and not (np.all(np.isfinite(block.x_mean)) and np.all(np.isfinite(block.xx))):
            # the statistics show NaN/inf features: read the file again with every
            # column checked, which raises with the whole file's counts
            for _ in _row_groups(f, spec, url, True, metadata, content):
                pass
            raise DataError(
                f"{url}: values too large for float64 statistics (overflow) in features or {spec.target!r}"
            )
        if acc is None:
            stats = merge(stats, block)
    info = FileAccount(
        path=url,
        size=f.size,
        mtime=f.mtime,
        etag=f.etag,
        rows=rows,
        rows_used=used,
        rows_dropped=rows - used,
        invalid=invalid_total,
    )
    if acc is not None:
        try:
            whole = acc.finish()
        except ValueError as exc:
            raise DataError(f"{url}: {exc}") from None
        return FilePart(stats=whole.stats, files=(info,), design=whole)
    return FilePart(stats=stats, files=(info,))


_MAX_ERRORS = 20


def merge_parts(*parts: FilePart) -> FilePart:
    """Merge file statistics and concatenate their accounts (tree-reduction step).

    ``new_stats`` (files the champion never trained on) are merged alongside,
    in the same tree: the statistics of all files do not depend on them.

    Parts with data errors carry no statistics: once any part has errors the
    result only collects the error messages (in lake order).
    """
    if any(p.n_errors for p in parts):
        errors = tuple(e for p in parts for e in p.errors)[:_MAX_ERRORS]
        return FilePart(stats=parts[0].stats, files=(), errors=errors, n_errors=sum(p.n_errors for p in parts))
    files = [info for p in parts for info in p.files]
    if parts[0].design is not None:
        design = parts[0].design
        for i, p in enumerate(parts[1:], 1):
            try:
                design = merge_design(design, p.design)
            except ValueError as exc:  # files that disagree on a column's level type: a data error
                paths = [f.path for q in parts[: i + 1] for f in q.files]
                others = ", ".join(paths[:-1][-3:])
                msg = f"{paths[-1] if paths else 'lake'}: {exc} (another type than in {others})"
                return FilePart(stats=parts[0].stats, files=(), errors=(msg,), n_errors=1)
        new_d = [p.new_design for p in parts if p.new_design is not None]
        new_design = new_d[0] if new_d else None
        for d in new_d[1:]:
            new_design = merge_design(new_design, d)
        return FilePart(
            stats=design.stats,
            files=tuple(files),
            new_stats=None if new_design is None else new_design.stats,
            design=design,
            new_design=new_design,
        )
    stats = parts[0].stats
    for p in parts[1:]:
        stats = merge(stats, p.stats)
    # a second, independent merge: ``stats`` above is the same bit for bit with or without it
    new = [p.new_stats for p in parts if p.new_stats is not None]
    new_stats = new[0] if new else None
    for s in new[1:]:
        new_stats = merge(new_stats, s)
    return FilePart(stats=stats, files=tuple(files), new_stats=new_stats)


def failed_part(n_features: int, error: DataError) -> FilePart:
    """The :class:`FilePart` of a file that could not be used."""
    return FilePart(stats=empty_stats(n_features), files=(), errors=(str(error),), n_errors=1)


def predict_file(
    f: LakeFile,
    protocol: str,
    storage_options: dict[str, Any],
    url: str,
    features: Sequence[str],
    keep: Sequence[str],
    coef: np.ndarray,
    intercept: float,
    output: str,
    output_storage_options: dict[str, Any] | None = None,
    lineage: dict[str, str] | None = None,
    *,
    family: str = "gaussian",
    classes: Sequence[Any] | None = None,
    encoding: Any = None,
    on_unseen: str = "zero",
) -> dict[str, Any]:
    """Score one file into ``output/<relpath>``: the prediction columns plus ``keep`` columns.

    ``encoding`` (:class:`dreg.core.design.Encoding`, from model.json): the
    model's categorical levels and imputation values; ``features`` are then
    the model's encoded features and the file's columns are
    ``encoding.source_columns``.  A missing value of an imputed column gets
    the stored value; a categorical level the model does not know gets
    all-zero dummies (``on_unseen='zero'``, counted per column and level in
    the result's ``unseen``) or raises :class:`DataError` naming the file,
    column and level (``on_unseen='error'``).

    With ``eta = X @ coef + intercept``, the prediction columns of each ``family`` are:

    * ``gaussian``: ``prediction`` = ``eta`` (float64);
    * ``binomial``: ``probability`` = ``1 / (1 + exp(-eta))``, the probability of
      ``classes[1]`` (computed without overflow and clamped to ``[1e-15, 1 - 1e-15]``,
      as ``LogisticRegression.predict_proba``), and ``prediction``, the class label
      (``classes[1]`` where ``eta > 0``), typed like the labels: bool, int64,
      float64 or string;
    * ``poisson``: ``prediction`` = ``exp(eta)``, the mean (``eta`` clipped at 700,
      as ``PoissonRegressor.predict``).

    Row order is kept.  Rows with a null/NaN feature get null predictions.
    The output file is written under a temporary name and renamed into place
    on local disks, so a crash never leaves a truncated Parquet file.

    The file's Parquet key-value metadata records its lineage: ``lineage``
    (the model: ``dreg.model``, ``dreg.model_version``, ...) and
    ``dreg.input``, the input file's URL; a binomial or Poisson file adds
    ``dreg.family`` and, binomial, ``dreg.probability_of`` (``classes[1]``).
    """
    import numbers

    import fsspec

    from dreg.core.datafit import Binomial, Poisson
    from dreg.job.storage import atomic_write, url_to_fs

    if family not in ("gaussian", "binomial", "poisson"):
        raise ValueError(f"family must be 'gaussian', 'binomial' or 'poisson', got {family!r}")
    if family == "binomial":
        if classes is None or len(classes) != 2:
            raise ValueError(f"a binomial model needs its 2 class labels, got classes={classes!r}")
        # the labels' Arrow type: JSON booleans, integers, other numbers, else strings
        if all(isinstance(c, bool | np.bool_) for c in classes):
            label_type, labels = pa.bool_(), [bool(c) for c in classes]
        elif all(isinstance(c, numbers.Integral) and not isinstance(c, bool | np.bool_) for c in classes):
            label_type, labels = pa.int64(), [int(c) for c in classes]
        elif all(isinstance(c, numbers.Real) for c in classes):
            label_type, labels = pa.float64(), [float(c) for c in classes]
        else:
            label_type, labels = pa.string(), [str(c) for c in classes]
    if on_unseen not in ("zero", "error"):
        raise ValueError(f"on_unseen must be 'zero' or 'error', got {on_unseen!r}")
    fs = fsspec.filesystem(protocol, **storage_options)
    pf = _open(fs, f, url)
    names = pf.schema_arrow.names
    part = dict(f.partitions)
    columns_read = list(features) if encoding is None else list(encoding.source_columns)
    cat_names = set() if encoding is None else {c.name for c in encoding.columns if c.kind == "categorical"}
    missing = [c for c in columns_read if c not in names]
    if missing:
        raise DataError(f"{url}: missing feature column(s) {missing}")
    for c in columns_read:
        t = pf.schema_arrow.field(c).type
        if c in cat_names:
            if not categorical_type(t):
                raise DataError(f"{url}: categorical column {c!r} has type {t} (string, dictionary, bool or integer)")
        elif not _numeric(t):
            raise DataError(f"{url}: column {c!r} has non-numeric type {t}")
    unseen: dict[str, dict[Any, int]] = {}
    keep_file = [c for c in keep if c in names]
    keep_part = [c for c in keep if c not in names and c in part]
    absent = [c for c in keep if c not in names and c not in part]
    if absent:
        raise DataError(f"{url}: --keep column(s) {absent} not in the file or its partitions")
    clash = [c for c in keep if c in ("prediction", "probability")[: 2 if family == "binomial" else 1]]
    if clash:
        raise DataError(f"{url}: --keep column(s) {clash} would overwrite the prediction column(s) of the same name")
    preds = []
    kept: dict[str, list[pa.Array]] = {c: [] for c in keep_file}
    rows = 0
    for rg in range(pf.num_row_groups):
        try:
            table = pf.read_row_group(rg, columns=list(dict.fromkeys([*columns_read, *keep_file])))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"{url}: cannot read row group {rg} ({type(exc).__name__}: {exc})") from None
        n = table.num_rows
        rows += n
        if encoding is not None:
            from dreg.core.design import linear_predictor

            num = {c: _column_array(table.column(c)).astype(np.float64, copy=False) for c in columns_read if c not in cat_names}
            cats = {c: categorical_codes(table.column(c)) for c in cat_names}
            enc = linear_predictor(encoding, num, cats, coef, intercept)
            for c, levels in enc.unseen.items():
                into = unseen.setdefault(c, {})
                for lv, k in levels.items():
                    into[lv] = into.get(lv, 0) + k
            if unseen and on_unseen == "error":
                c, levels = next(iter(unseen.items()))
                shown = ", ".join(f"{_level_text(lv)} ({k} row(s))" for lv, k in list(levels.items())[:5])
                raise DataError(
                    f"{url}: column {c!r} has level(s) the model does not know: {shown}"
                    + (f" and {len(levels) - 5} more" if len(levels) > 5 else "")
                    + " (--on-unseen zero scores them with all-zero dummies)"
                )
            preds.append(enc.eta)
        else:
            X = (
                np.column_stack([_column_array(table.column(c)) for c in features]).astype(np.float64, copy=False)
                if features
                else np.zeros((n, 0))
            )
            preds.append(X @ coef + intercept)
        for c in keep_file:
            kept[c].append(table.column(c).combine_chunks() if n else pa.array([], type=table.schema.field(c).type))
    pred = np.concatenate(preds) if preds else np.zeros(0)
    mask = ~np.isfinite(pred)
    nulls = mask if mask.any() else None
    columns: dict[str, pa.Array]
    if family == "binomial":
        eta = np.where(mask, 0.0, pred)
        positive = pa.array((eta > 0).astype(np.int64), mask=nulls)  # null index: null label
        columns = {
            "probability": pa.array(Binomial().mean(eta), mask=nulls, type=pa.float64()),
            "prediction": pa.array(labels, type=label_type).take(positive),
        }
    elif family == "poisson":
        columns = {"prediction": pa.array(Poisson().mean(np.where(mask, 0.0, pred)), mask=nulls, type=pa.float64())}
    else:
        columns = {"prediction": pa.array(pred, mask=nulls, type=pa.float64())}
    for c in keep_file:
        columns[c] = pa.concat_arrays(kept[c]) if kept[c] else pa.array([], type=pf.schema_arrow.field(c).type)
    for c in keep_part:
        columns[c] = pa.array([part[c]] * rows, type=pa.string())
    meta = {**(lineage or {}), "dreg.input": url}
    if family != "gaussian":
        meta["dreg.family"] = family
    if family == "binomial":
        meta["dreg.probability_of"] = labels[1]
    table = pa.table(columns).replace_schema_metadata({str(k): str(v) for k, v in meta.items()})
    out_fs, out_root = url_to_fs(output, output_storage_options)
    rel = f.relpath if f.relpath.endswith(".parquet") else f.relpath + ".parquet"
    target = posixpath.join(out_root.rstrip("/"), rel)
    out_fs.makedirs(posixpath.dirname(target), exist_ok=True)
    atomic_write(out_fs, target, lambda fh: pq.write_table(table, fh))
    out = {"path": url, "output": target, "rows": rows, "null_predictions": int(mask.sum())}
    if unseen:
        out["unseen"] = {c: {_level_text(lv): k for lv, k in levels.items()} for c, levels in unseen.items()}
    return out


def _level_text(level: Any) -> str:
    """A level as text for messages and JSON keys (``<null>`` for null)."""
    return "<null>" if level is None else str(level)


def predict_file_or_error(
    f: LakeFile, protocol: str, storage_options: dict[str, Any], url: str, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """:func:`predict_file`, with a :class:`DataError` returned as ``{"path": url, "error": message}``.

    A bad file is an expected outcome: returned as a value it skips
    distributed's "Compute Failed" traceback on the worker's console, lets
    every good file be scored, and the client names the bad ones in lake order.
    """
    try:
        return predict_file(f, protocol, storage_options, url, *args, **kwargs)
    except DataError as exc:
        return {"path": url, "error": str(exc)}
