"""Table formats as lakes: Delta Lake and Apache Iceberg tables read as their live Parquet files.

A Delta or Iceberg table keeps superseded files on disk after deletes, updates
and compaction; only its log (Delta) or its snapshot's manifests (Iceberg) say
which files hold the table's rows.  Reading the folder as a plain lake would
read deleted rows.  :func:`open_data` turns ``data.format`` into a
:class:`dreg.job.lake.Lake` whose files are exactly the live data files of the
table at the version (or time, or snapshot) asked for:

* ``parquet``: the folder's Parquet files (:func:`dreg.job.lake.open_lake`);
* ``delta``: the ``add`` actions of the Delta log, read with the ``deltalake``
  package (delta-rs): absolute path, size, modification time and partition
  values of each live file;
* ``iceberg``: the data files of the snapshot's scan plan, read with
  ``pyiceberg`` from a catalog (``data.catalog``, passed to
  :func:`pyiceberg.catalog.load_catalog`);
* ``auto`` (the default): ``delta`` when the path holds a ``_delta_log/``
  folder, else ``parquet``.

Each live file is then one ``dreg-read-stats`` task like any lake file, so the
statistics cache (keyed by file identity) serves the unchanged files of a
retrain after an append: data files of both formats are immutable.  Partition
values become :attr:`LakeFile.partitions` as hive-style strings, so
``data.filters``, ``data.window`` and a partition fold column work as on a
hive-partitioned lake.

Row-level deletes that do not rewrite files (Delta deletion vectors, Iceberg
position and equality delete files) would need a per-row mask in the read;
a table whose live files carry them is refused with a :class:`DataError`
naming the table, the feature and how many files carry them.

Pure Python over pyarrow/fsspec and the two optional packages: no Dask import.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import posixpath
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from dreg.job.errors import ConfigError, DataError
from dreg.job.lake import DEFAULT_GLOB, Lake, LakeFile, _compare, _sort_key, open_lake

if TYPE_CHECKING:  # pragma: no cover
    from dreg.job.config import DataConfig

__all__ = ["DELTA_LOG", "NULL_PARTITION", "detect_format", "open_data", "open_table"]

# the folder that makes a path a Delta table
DELTA_LOG = "_delta_log"
# how a null partition value is written in hive paths (and so in Delta's and Spark's folders)
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
FORMATS = ("auto", "parquet", "delta", "iceberg")


def open_data(d: DataConfig) -> Lake:
    """The lake of a ``data:`` section: its live files, filtered and windowed.

    Parameters
    ----------
    d : DataConfig
        The validated ``data`` section: ``path``, ``format``, ``storage_options``,
        ``filters``, ``window``, ``glob`` and the table keys ``version``,
        ``timestamp``, ``snapshot_id`` and ``catalog``.

    Returns
    -------
    Lake
        See :func:`open_table`.
    """
    return open_table(
        d.path,
        d.format,
        d.storage_options,
        d.filters,
        d.window,
        version=d.version,
        timestamp=d.timestamp,
        snapshot_id=d.snapshot_id,
        catalog=d.catalog,
        glob=d.glob,
    )


def open_table(
    path: str,
    format: str = "auto",
    storage_options: dict[str, Any] | None = None,
    filters: Sequence[Any] = (),
    window: Any = None,
    version: int | None = None,
    timestamp: str | _dt.datetime | None = None,
    snapshot_id: int | None = None,
    catalog: dict[str, Any] | None = None,
    glob: str = DEFAULT_GLOB,
) -> Lake:
    """List the live data files of a plain lake, a Delta table or an Iceberg table.

    Parameters
    ----------
    path : str
        The lake folder or URL; for Iceberg, the table identifier
        ``namespace.table`` (a path-like value keeps its last part, as the
        configuration resolves relative paths against its folder).
    format : {"auto", "parquet", "delta", "iceberg"}
        ``auto`` reads a Delta table when ``path`` holds ``_delta_log/``,
        else a plain Parquet lake.
    storage_options : dict, optional
        fsspec options of the files' filesystem.  For Delta the common S3 keys
        (``key``, ``secret``, ``token``, ``endpoint_url``, ``client_kwargs``,
        ``anon``) are translated for delta-rs; other keys are passed as they are.
    filters, window
        As in :func:`dreg.job.lake.open_lake`, on the table's partition columns.
    version, timestamp : optional
        Delta time travel: the table at this log version, or as of this ISO 8601
        time (the latest version committed at or before it).  Exclusive.
    snapshot_id : int, optional
        Iceberg: the snapshot to read (default: the current one).
    catalog : dict, optional
        Iceberg: ``{name: ..., type: ..., uri: ..., warehouse: ...}`` passed to
        :func:`pyiceberg.catalog.load_catalog` (``name`` defaults to ``dreg``).
    glob : str
        Plain lakes only: which files under ``path`` are read.

    Returns
    -------
    Lake
        ``files`` are the live files kept by ``filters`` and ``window``,
        ``all_files`` every live file of the version read.

    Raises
    ------
    ConfigError
        An unknown format, time travel on a plain lake, or a missing package
        (``pip install 'dreg[delta]'`` / ``'dreg[iceberg]'``).
    DataError
        The table, version, time or snapshot does not exist or cannot be read,
        it has no data files, or its live files carry row-level deletes.
    """
    if format not in FORMATS:
        raise ConfigError(f"data.format must be one of {list(FORMATS)}, got {format!r}")
    if format == "auto":
        format = detect_format(path, storage_options)
    if format == "parquet":
        if version is not None or timestamp is not None:
            key = "data.version" if version is not None else "data.timestamp"
            raise ConfigError(f"{key} is time travel on a Delta table, but {path!r} has no {DELTA_LOG}/ folder")
        return open_lake(path, storage_options, filters, window, glob)
    if format == "delta":
        url, protocol, root, so, files, part_cols = _delta_files(path, storage_options, version, timestamp)
    else:
        url, protocol, root, so, files, part_cols = _iceberg_files(path, storage_options, snapshot_id, catalog)
    kept, window_values = _select(files, part_cols, filters, window, url)
    return Lake(
        url=url,
        protocol=protocol,
        root=root,
        storage_options=so,
        files=tuple(kept),
        partition_columns=part_cols,
        pruned=len(files) - len(kept),
        all_files=tuple(files),
        window_values=window_values,
    )


def detect_format(path: str, storage_options: dict[str, Any] | None = None) -> str:
    """``"delta"`` when ``path`` is a folder holding ``_delta_log/``, else ``"parquet"``."""
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(path, **dict(storage_options or {}))
        return "delta" if fs.isdir(posixpath.join(root.rstrip("/"), DELTA_LOG)) else "parquet"
    except (ImportError, ValueError, OSError):
        return "parquet"  # open_lake names the problem


# --------------------------------------------------------------------------- partitions, filters


def partition_string(value: Any) -> str:
    """A partition value as it is written in a hive path (``day=2026-11-01``).

    ``None`` is :data:`NULL_PARTITION`; booleans ``true``/``false``; dates ISO;
    timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``; numbers and text as ``str``.
    """
    if value is None:
        return NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, float | int | decimal.Decimal | str):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _select(
    files: list[LakeFile], part_cols: tuple[str, ...], filters: Iterable[Any], window: Any, url: str
) -> tuple[list[LakeFile], tuple[str, ...]]:
    """``data.filters`` then ``data.window`` on partition values, as :func:`open_lake` does."""
    kept = files
    for flt in filters:
        if flt.column not in part_cols:
            raise DataError(
                f"filter on {flt.column!r}: not a partition column of table {url} "
                f"(partition columns: {list(part_cols) or 'none'})"
            )
        kept = [f for f in kept if _compare(dict(f.partitions).get(flt.column, ""), flt.op, flt.value)]
    window_values: tuple[str, ...] = ()
    if window is not None:
        if window.column not in part_cols:
            raise DataError(
                f"window on {window.column!r}: not a partition column of table {url} "
                f"(partition columns: {list(part_cols) or 'none'})"
            )
        values = sorted({dict(f.partitions).get(window.column, "") for f in kept}, key=_sort_key)
        window_values = tuple(values[-window.last :])
        keep = set(window_values)
        kept = [f for f in kept if dict(f.partitions).get(window.column, "") in keep]
    return kept, window_values


def _missing(package: str, extra: str, fmt: str) -> ConfigError:
    return ConfigError(
        f"data.format: {fmt} needs the {package!r} package, which is not installed; "
        f"install it with: pip install 'dreg[{extra}]'"
    )


def _fs_of(path: str, storage_options: dict[str, Any]) -> tuple[Any, str, str]:
    """``(filesystem, protocol, root without protocol)`` of a table location."""
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(path, **storage_options)
    except (ImportError, ValueError) as exc:
        raise DataError(f"cannot open table {path!r}: {exc}") from None
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return fs, protocol, root.rstrip("/")


def _relpath(path: str, root: str) -> str:
    return posixpath.relpath(path, root) if path.startswith(root.rstrip("/") + "/") else path.lstrip("/")


# --------------------------------------------------------------------------- Delta Lake


# fsspec (s3fs) keys and their delta-rs (object_store) names
_DELTA_KEYS = {
    "key": "AWS_ACCESS_KEY_ID",
    "secret": "AWS_SECRET_ACCESS_KEY",
    "token": "AWS_SESSION_TOKEN",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "region_name": "AWS_REGION",
}


def delta_storage_options(storage_options: dict[str, Any] | None) -> dict[str, str]:
    """fsspec ``storage_options`` as delta-rs options (strings).

    The S3 keys of s3fs (``key``, ``secret``, ``token``, ``endpoint_url`` and
    ``region_name``, also inside ``client_kwargs``, and ``anon``) get their
    object_store names; an ``http://`` endpoint also sets ``AWS_ALLOW_HTTP``.
    Any other key is passed as it is, as a string.
    """
    out: dict[str, str] = {}
    for k, v in dict(storage_options or {}).items():
        if k == "client_kwargs" and isinstance(v, dict):
            out.update(delta_storage_options(v))
        elif k == "anon":
            if v:
                out["AWS_SKIP_SIGNATURE"] = "true"
        elif k in _DELTA_KEYS:
            out[_DELTA_KEYS[k]] = str(v)
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = str(v)
    if out.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        out.setdefault("AWS_ALLOW_HTTP", "true")
    return out


def _parse_time(timestamp: str | _dt.datetime) -> _dt.datetime:
    if isinstance(timestamp, _dt.datetime):
        t = timestamp
    else:
        try:
            t = _dt.datetime.fromisoformat(timestamp)
        except ValueError:
            raise ConfigError(f"data.timestamp {timestamp!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def _delta_files(
    path: str,
    storage_options: dict[str, Any] | None,
    version: int | None,
    timestamp: str | _dt.datetime | None,
) -> tuple[str, str, str, dict[str, Any], list[LakeFile], tuple[str, ...]]:
    """The live files of a Delta table at a version, from its log."""
    try:
        import pyarrow as pa
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError
    except ImportError:
        raise _missing("deltalake", "delta", "delta") from None
    if version is not None and timestamp is not None:
        raise ConfigError("give data.version or data.timestamp, not both")
    so = dict(storage_options or {})
    fs, protocol, root = _fs_of(path, so)
    dso = delta_storage_options(so)
    where = f"version {version}" if version is not None else f"as of {timestamp}" if timestamp is not None else ""
    try:
        if timestamp is not None:
            when = _parse_time(timestamp)
            table = DeltaTable(path, storage_options=dso)
            table.load_as_version(when)
        else:
            table = DeltaTable(path, version=version, storage_options=dso)
        version_read = table.version()
        actions = pa.table(table.get_add_actions(flatten=False))
        meta = table.metadata()
        part_cols = tuple(meta.partition_columns)
        mapping = str((meta.configuration or {}).get("delta.columnMapping.mode", "none")).lower()
        proto = table.protocol()
    except TableNotFoundError:
        raise DataError(f"Delta table {path!r}: no Delta table there ({DELTA_LOG}/ holds no commits)") from None
    except (DeltaError, OSError, ValueError) as exc:
        what = f" at {where}" if where else ""
        raise DataError(f"Delta table {path!r}: cannot read the table{what}: {exc}") from None
    url = f"{path}@v{version_read}"
    features = set(proto.reader_features or ())
    if "deletionVectors" in features:
        try:
            dvs = pa.table(table.deletion_vectors())
        except (DeltaError, OSError, ValueError) as exc:
            raise DataError(f"Delta table {url}: cannot read its deletion vectors: {exc}") from None
        if dvs.num_rows:
            deleted = sum(sel.count(False) for sel in dvs.column("selection_vector").to_pylist())
            example = dvs.column("filepath")[0].as_py()
            raise DataError(
                f"Delta table {url}: {dvs.num_rows} live file(s) carry deletion vectors "
                f"({deleted} deleted row(s), e.g. in {example}); dreg reads whole files and does not "
                "apply the Delta reader feature 'deletionVectors': rewrite the files first "
                "(e.g. OPTIMIZE / REORG TABLE ... APPLY (PURGE) in Spark or Databricks, "
                "or disable delta.enableDeletionVectors and rewrite the affected partitions)"
            )
    if mapping != "none" or "columnMapping" in features:
        raise DataError(
            f"Delta table {url}: uses column mapping (delta.columnMapping.mode: {mapping}), so its Parquet "
            "column names are not the table's; dreg reads Parquet columns by name and cannot read it"
        )
    rows = actions.to_pylist()
    if not rows:
        raise DataError(f"Delta table {url} has no live data files")
    files = []
    for a in sorted(rows, key=lambda r: r["path"]):
        rel = a["path"]
        if "://" in rel:  # an absolute URI (shallow clones)
            full = fs._strip_protocol(rel)
            rel = _relpath(full, root)
        else:
            rel = unquote(rel)
            full = posixpath.join(root, rel)
        part = a.get("partition") or {}
        mtime = a.get("modification_time")
        files.append(
            LakeFile(
                path=full,
                relpath=rel,
                size=int(a["size_bytes"]),
                mtime=(_dt.datetime.fromtimestamp(mtime / 1000, tz=_dt.UTC).isoformat() if mtime is not None else None),
                etag=None,
                partitions=tuple((c, partition_string(part.get(c))) for c in part_cols),
            )
        )
    return url, protocol, root, so, files, part_cols


# --------------------------------------------------------------------------- Apache Iceberg


def _iceberg_files(
    path: str,
    storage_options: dict[str, Any] | None,
    snapshot_id: int | None,
    catalog: dict[str, Any] | None,
) -> tuple[str, str, str, dict[str, Any], list[LakeFile], tuple[str, ...]]:
    """The data files of an Iceberg table's snapshot, from its scan plan."""
    try:
        from pyiceberg.catalog import load_catalog
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
        from pyiceberg.manifest import FileFormat
    except ImportError:
        raise _missing("pyiceberg", "iceberg", "iceberg") from None
    if not catalog:
        raise ConfigError(
            "data.format: iceberg needs data.catalog, the catalog's properties for pyiceberg's load_catalog"
        )
    # "/work/jobs/ns.table" is "ns.table" resolved against the configuration's folder
    ident = posixpath.basename(path.rstrip("/")) if "/" in path else path
    if "." not in ident:
        raise ConfigError(f"data.path of an Iceberg table is 'namespace.table', got {path!r}")
    props = {str(k): v for k, v in catalog.items()}
    name = str(props.pop("name", "dreg"))
    try:
        cat = load_catalog(name, **{k: None if v is None else str(v) for k, v in props.items()})
    except (ValueError, NotImplementedError, ImportError) as exc:
        raise ConfigError(f"data.catalog: cannot load Iceberg catalog {name!r}: {exc}") from None
    except Exception as exc:  # a catalog's backend (a database, a REST server) has its own errors
        raise DataError(f"Iceberg catalog {name!r}: cannot connect ({type(exc).__name__}: {exc})") from None
    label = f"Iceberg table {ident!r} (catalog {name!r})"
    try:
        table = cat.load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise DataError(f"{label}: no such table") from None
    except Exception as exc:
        raise DataError(f"{label}: cannot load the table ({type(exc).__name__}: {exc})") from None
    if snapshot_id is not None:
        snap = table.snapshot_by_id(snapshot_id)
        if snap is None:
            known = [s.snapshot_id for s in table.snapshots()][-5:]
            raise DataError(f"{label}: no snapshot {snapshot_id} (the latest snapshot ids: {known})")
    else:
        snap = table.current_snapshot()
        if snap is None:
            raise DataError(f"{label}: the table has no snapshot (no data was ever written)")
    url = f"iceberg:{name}/{ident}@{snap.snapshot_id}"
    try:
        tasks = list(table.scan(snapshot_id=snap.snapshot_id).plan_files())
    except Exception as exc:
        raise DataError(
            f"{label}: cannot plan the scan of snapshot {snap.snapshot_id} ({type(exc).__name__}: {exc})"
        ) from None
    _refuse_iceberg_deletes(tasks, label, snap.snapshot_id)
    if not tasks:
        raise DataError(f"{label}, snapshot {snap.snapshot_id}: no data files")
    location = table.location()
    so = dict(storage_options or {})
    fs, protocol, root = _fs_of(location, so)
    specs = table.specs()
    part_cols: list[str] = [f.name for f in table.spec().fields]
    schema = table.schema()
    files = []
    for t in sorted(tasks, key=lambda t: t.file.file_path):
        df = t.file
        if df.file_format != FileFormat.PARQUET:
            raise DataError(f"{label}: data file {df.file_path} is {df.file_format.name}; dreg reads Parquet only")
        full = fs._strip_protocol(df.file_path)
        spec = specs.get(df.spec_id)
        parts = []
        for i, field in enumerate(spec.fields if spec is not None else ()):
            value = df.partition[i]
            try:
                text = (
                    NULL_PARTITION
                    if value is None
                    else field.transform.to_human_string(schema.find_type(field.source_id), value)
                )
            except Exception:  # a dropped source column: the raw value
                text = partition_string(value)
            parts.append((field.name, text))
            if field.name not in part_cols:
                part_cols.append(field.name)
        files.append(
            LakeFile(
                path=full,
                relpath=_relpath(full, root),
                size=int(df.file_size_in_bytes),
                partitions=tuple(parts),
            )
        )
    return url, protocol, root, so, files, tuple(part_cols)


def _refuse_iceberg_deletes(tasks: Sequence[Any], label: str, snapshot_id: int) -> None:
    """Raise :class:`DataError` when any task of a scan plan has row-level delete files.

    Position and equality deletes (merge-on-read) mask rows of data files that dreg
    reads whole; the message names the table, the snapshot, the delete files' count
    and kinds, and how many data files they apply to.
    """
    from pyiceberg.manifest import DataFileContent

    deletes = {d.file_path: d for t in tasks for d in (t.delete_files or ())}
    if not deletes:
        return
    kinds = sorted(
        {"equality" if d.content == DataFileContent.EQUALITY_DELETES else "position" for d in deletes.values()}
    )
    affected = sum(1 for t in tasks if t.delete_files)
    raise DataError(
        f"{label}, snapshot {snapshot_id}: {len(deletes)} row-level delete file(s) "
        f"({' and '.join(kinds)} deletes) apply to {affected} data file(s); dreg reads whole data files "
        "and does not apply Iceberg merge-on-read deletes: compact the table first "
        "(e.g. rewrite_data_files with delete-file-threshold=1 in Spark), or set "
        "write.delete.mode=copy-on-write for the writers"
    )
