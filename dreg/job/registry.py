"""The model registry: ``REGISTRY/NAME/VERSION/{model.json, metrics.json, report.html}``.

``REGISTRY/NAME/latest`` holds the name of the version in service (the newest
promoted one, or the one ``dreg promote`` set); ``REGISTRY/NAME/pinned``, when
present, names a version that ``latest`` stays on until it is unpinned (new
fits are stored without moving it).  Every manual operation (promote, pin,
unpin) and every retention deletion is recorded as one JSON file under
``REGISTRY/NAME/events/`` (:class:`~dreg.job.record.Event`; written once,
never appended, so it works on object stores).  Writes are crash-safe:

* on a local disk a version is written into ``REGISTRY/NAME/.tmp-...`` and
  renamed into place (an atomic ``rename``), then ``latest`` is replaced
  atomically (``os.replace`` of a temporary file) — a crash at any point
  leaves either no new version or a complete one, and ``latest`` always names
  a complete version;
* on object stores (``s3://``), where there is no rename, ``model.json`` is
  written last inside the version and ``latest`` after it; a version without
  ``model.json`` is incomplete and ignored.

Everything is JSON or HTML: no pickle.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import posixpath
import re
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreg.job.errors import RegistryError
from dreg.job.record import Event, MetricsRecord, ModelRecord
from dreg.job.storage import atomic_write, fsync_dir, is_local, url_to_fs, write_local

__all__ = [
    "apply_retention",
    "delete_version",
    "history",
    "list_events",
    "pinned_version",
    "promote_version",
    "unpin",
    "ModelRef",
    "RegistryError",
    "list_versions",
    "fit_stats_bytes",
    "load_model",
    "read_fit_stats",
    "parse_ref",
    "read_model",
    "read_record",
    "write_version",
]

_VERSION_RE = re.compile(r"^\d{8}T\d{6}\d{6}Z$")
ORDER = ("stats.npz", "report.html", "metrics.json", "model.json")


@dataclass(frozen=True)
class ModelRef:
    registry: str
    name: str
    version: str | None = None


def new_version(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def write_version(
    registry: str,
    name: str,
    files: dict[str, str | bytes],
    *,
    storage_options: dict[str, Any] | None = None,
    version: str | None = None,
    update_latest: bool = True,
) -> str:
    """Write a new version atomically and (by default) point ``latest`` at it."""
    fs, root = url_to_fs(registry, storage_options)
    base = posixpath.join(root.rstrip("/"), name)
    version = version or new_version()
    target = posixpath.join(base, version)
    ordered = sorted(files, key=lambda k: ORDER.index(k) if k in ORDER else -1)
    try:
        if is_local(fs):
            os.makedirs(base, exist_ok=True)
            _remove_stale_temporaries(base)
            tmp = posixpath.join(base, f".tmp-{version}-{uuid.uuid4().hex[:8]}")
            os.makedirs(tmp)
            try:
                for fname in ordered:
                    write_local(posixpath.join(tmp, fname), files[fname], fsync=True)
                fsync_dir(tmp)
                if os.path.exists(target):
                    raise RegistryError(f"version {version} of {name!r} already exists")
                os.rename(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)  # a failed write leaves nothing behind
                raise
            fsync_dir(base)
        else:
            if fs.exists(posixpath.join(target, "model.json")):
                raise RegistryError(f"version {version} of {name!r} already exists")
            for fname in ordered:  # model.json last: its presence marks a complete version
                atomic_write(fs, posixpath.join(target, fname), files[fname])
        if update_latest:
            atomic_write(fs, posixpath.join(base, "latest"), version + "\n", fsync=True, prefix=".latest-")
            if is_local(fs):
                fsync_dir(base)
    except OSError as exc:
        raise RegistryError(f"cannot write to registry {registry!r}: {exc}") from None
    return version


# leftovers of a writer killed mid-write older than this are removed by the next writer
_STALE_SECONDS = 3600.0


def _remove_stale_temporaries(base: str) -> None:
    """Delete ``.tmp-*`` folders and ``.latest-*`` files left by killed writers (older
    than an hour, so a concurrent writer's files are never touched)."""
    import time

    now = time.time()
    try:
        entries = os.listdir(base)
    except OSError:
        return
    for name in entries:
        if not name.startswith((".tmp-", ".latest-", ".pinned-")):
            continue
        path = posixpath.join(base, name)
        try:
            if now - os.stat(path).st_mtime < _STALE_SECONDS:
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def parse_ref(ref: str) -> ModelRef:
    """``REGISTRY/NAME`` or ``REGISTRY/NAME/VERSION`` (also ``.../model.json``)."""
    ref = ref.rstrip("/")
    if ref.endswith("/model.json"):
        ref = ref[: -len("/model.json")]
    head, last = posixpath.split(ref)
    if _VERSION_RE.match(last):
        registry, name = posixpath.split(head)
        return ModelRef(registry, name, last)
    if not head or not last:
        raise RegistryError(f"model reference {ref!r} must be REGISTRY/NAME[/VERSION]")
    return ModelRef(head, last, None)


def list_versions(registry: str, name: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Complete versions (with a model.json), oldest first."""
    fs, root = url_to_fs(registry, storage_options)
    base = posixpath.join(root.rstrip("/"), name)
    if not fs.exists(base):
        return []
    out = []
    for entry in fs.ls(base, detail=False):
        v = posixpath.basename(entry.rstrip("/"))
        if _VERSION_RE.match(v) and fs.exists(posixpath.join(base, v, "model.json")):
            out.append(v)
    return sorted(out)


def latest_version(registry: str, name: str, storage_options: dict[str, Any] | None = None) -> str | None:
    fs, root = url_to_fs(registry, storage_options)
    p = posixpath.join(root.rstrip("/"), name, "latest")
    if not fs.exists(p):
        return None
    with fs.open(p, "r") as fh:
        v = fh.read().strip()
    return v or None


def pinned_version(registry: str, name: str, storage_options: dict[str, Any] | None = None) -> str | None:
    """The version ``latest`` is pinned to, or ``None``."""
    fs, root = url_to_fs(registry, storage_options)
    p = posixpath.join(root.rstrip("/"), name, "pinned")
    if not fs.exists(p):
        return None
    with fs.open(p, "r") as fh:
        v = fh.read().strip()
    return v or None


def _base(registry: str, name: str, storage_options: dict[str, Any] | None) -> tuple[Any, str]:
    fs, root = url_to_fs(registry, storage_options)
    return fs, posixpath.join(root.rstrip("/"), name)


def _write_event(fs: Any, base: str, event: Event) -> None:
    stamp = event.time.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    path = posixpath.join(base, "events", f"{stamp}-{event.action}-{uuid.uuid4().hex[:6]}.json")
    if is_local(fs):
        os.makedirs(posixpath.dirname(path), exist_ok=True)
    atomic_write(fs, path, json.dumps(event.to_json(), indent=1), fsync=True)


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return None


def _set_pointer(fs: Any, base: str, pointer: str, version: str | None) -> None:
    """Write (or, with ``None``, remove) ``base/pointer`` (``latest`` or ``pinned``) atomically."""
    path = posixpath.join(base, pointer)
    if version is None:
        if fs.exists(path):
            fs.rm(path)
    else:
        atomic_write(fs, path, version + "\n", fsync=True, prefix=f".{pointer}-")
    if is_local(fs):
        fsync_dir(base)


def promote_version(
    registry: str,
    name: str,
    version: str,
    *,
    pin: bool = False,
    reason: str = "",
    storage_options: dict[str, Any] | None = None,
) -> Event:
    """Point ``latest`` at ``version`` (roll back or forward), optionally pinning it.

    ``version`` must be a complete version of ``name``.  Moving ``latest``
    while another version is pinned raises :class:`RegistryError` unless
    ``pin`` (which re-pins).  The operation is recorded as an event and
    returned.
    """
    fs, base = _base(registry, name, storage_options)
    try:
        if version not in list_versions(registry, name, storage_options):
            known = list_versions(registry, name, storage_options)
            raise RegistryError(
                f"no complete version {version!r} of {name!r} in {registry!r}"
                + (f" (newest: {', '.join(known[-3:])})" if known else " (it has no versions)")
            )
        previous = latest_version(registry, name, storage_options)
        pinned = pinned_version(registry, name, storage_options)
        if pinned is not None and not pin and pinned != version:
            raise RegistryError(
                f"'latest' of {name!r} is pinned to {pinned}; unpin it first (dreg promote --unpin) or pin {version}"
            )
        event = Event(
            time=_dt.datetime.now(_dt.UTC).isoformat(),
            action="pin" if pin else "promote",
            version=version,
            previous=previous,
            reason=reason,
            user=_user(),
        )
        _set_pointer(fs, base, "latest", version)
        if pin:
            _set_pointer(fs, base, "pinned", version)
        _write_event(fs, base, event)
    except OSError as exc:
        raise RegistryError(f"cannot write to registry {registry!r}: {exc}") from None
    return event


def unpin(registry: str, name: str, *, reason: str = "", storage_options: dict[str, Any] | None = None) -> Event:
    """Remove the pin (``latest`` stays where it is; the next promoted fit moves it)."""
    fs, base = _base(registry, name, storage_options)
    pinned = pinned_version(registry, name, storage_options)
    if pinned is None:
        raise RegistryError(f"{name!r} in {registry!r} is not pinned")
    event = Event(
        time=_dt.datetime.now(_dt.UTC).isoformat(),
        action="unpin",
        version=pinned,
        previous=latest_version(registry, name, storage_options),
        reason=reason,
        user=_user(),
    )
    try:
        _set_pointer(fs, base, "pinned", None)
        _write_event(fs, base, event)
    except OSError as exc:
        raise RegistryError(f"cannot write to registry {registry!r}: {exc}") from None
    return event


def list_events(registry: str, name: str, storage_options: dict[str, Any] | None = None) -> list[Event]:
    """The recorded registry operations of ``name``, oldest first."""
    fs, base = _base(registry, name, storage_options)
    folder = posixpath.join(base, "events")
    if not fs.exists(folder):
        return []
    out = []
    for entry in sorted(fs.ls(folder, detail=False)):
        if not entry.endswith(".json") or posixpath.basename(entry).startswith("."):
            continue
        with fs.open(entry, "r") as fh:
            try:
                out.append(Event.from_json(json.load(fh)))
            except (json.JSONDecodeError, TypeError, KeyError):
                continue  # a damaged event file does not hide the others
    return sorted(out, key=lambda e: e.time)


def delete_version(
    registry: str, name: str, version: str, *, reason: str = "", storage_options: dict[str, Any] | None = None
) -> Event:
    """Delete one version (never ``latest`` or the pinned one), recorded as an event.

    Crash-safe: on a local disk the folder is renamed to ``.tmp-deleted-...``
    first (a leftover is removed by a later writer); on an object store
    ``model.json`` goes first, so a half-deleted version is already incomplete
    and invisible.
    """
    fs, base = _base(registry, name, storage_options)
    protected = {latest_version(registry, name, storage_options), pinned_version(registry, name, storage_options)}
    if version in protected:
        raise RegistryError(f"version {version} of {name!r} is 'latest' or pinned; it cannot be deleted")
    if not _VERSION_RE.match(version):
        raise RegistryError(f"{version!r} is not a version name")
    target = posixpath.join(base, version)
    try:
        if is_local(fs):
            tmp = posixpath.join(base, f".tmp-deleted-{version}-{uuid.uuid4().hex[:8]}")
            os.rename(target, tmp)
            fsync_dir(base)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            model = posixpath.join(target, "model.json")
            if fs.exists(model):
                fs.rm(model)
            if fs.exists(target):
                fs.rm(target, recursive=True)
        event = Event(
            time=_dt.datetime.now(_dt.UTC).isoformat(),
            action="delete",
            version=version,
            previous=None,
            reason=reason,
            user=_user(),
        )
        _write_event(fs, base, event)
    except OSError as exc:
        raise RegistryError(f"cannot delete version {version} of {name!r} in {registry!r}: {exc}") from None
    return event


def apply_retention(
    registry: str, name: str, keep_last: int, storage_options: dict[str, Any] | None = None
) -> list[str]:
    """Delete all but the newest ``keep_last`` versions, never ``latest`` or the pinned one.

    Returns the deleted versions, oldest first.
    """
    versions = list_versions(registry, name, storage_options)
    protected = {latest_version(registry, name, storage_options), pinned_version(registry, name, storage_options)}
    doomed = [v for v in versions[: max(0, len(versions) - keep_last)] if v not in protected]
    for v in doomed:
        delete_version(
            registry, name, v, reason=f"retention: output.keep_last={keep_last}", storage_options=storage_options
        )
    return doomed


def read_model(
    ref: str | ModelRef, storage_options: dict[str, Any] | None = None
) -> tuple[ModelRef, dict, dict | None]:
    """``(resolved ref, model.json, metrics.json or None)`` as read (JSON objects).

    :func:`read_record` gives the same as typed records.
    """
    r = parse_ref(ref) if isinstance(ref, str) else ref
    version = r.version or latest_version(r.registry, r.name, storage_options)
    if version is None:
        raise RegistryError(f"no model {r.name!r} in registry {r.registry!r} (no 'latest')")
    fs, root = url_to_fs(r.registry, storage_options)
    vdir = posixpath.join(root.rstrip("/"), r.name, version)
    try:
        with fs.open(posixpath.join(vdir, "model.json"), "r") as fh:
            model = json.load(fh)
    except FileNotFoundError:
        raise RegistryError(f"version {version} of {r.name!r} not found in {r.registry!r}") from None
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{vdir}/model.json is not valid JSON: {exc}") from None
    metrics = None
    mpath = posixpath.join(vdir, "metrics.json")
    if fs.exists(mpath):
        with fs.open(mpath, "r") as fh:
            metrics = json.load(fh)
    return ModelRef(r.registry, r.name, version), model, metrics


def read_record(
    ref: str | ModelRef, storage_options: dict[str, Any] | None = None
) -> tuple[ModelRef, ModelRecord, MetricsRecord | None]:
    """``(resolved ref, model record, metrics record or None)``: :func:`read_model`, typed."""
    r, model, metrics = read_model(ref, storage_options)
    return r, ModelRecord.from_json(model), None if metrics is None else MetricsRecord.from_json(metrics)


def history(registry: str, name: str, storage_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per complete version, oldest first: window, rows, alpha, CV error, status."""
    from dreg.job.gates import gate_summary

    latest = latest_version(registry, name, storage_options)
    pinned = pinned_version(registry, name, storage_options)
    rows = []
    for v in list_versions(registry, name, storage_options):
        _, model, metrics = read_record(ModelRef(registry, name, v), storage_options)
        metrics = metrics or MetricsRecord.from_json({})
        promo = metrics.promotion
        rows.append(
            {
                "version": v,
                "created": model.created,
                "window": model.data.window_text if model.data else "all",
                "files": model.data.files if model.data else None,
                "rows": model.rows.used if model.rows else None,
                "alpha": model.fit.get("alpha"),
                "l1_ratio": model.l1_ratio,
                "cv_mse": metrics.cv_mse,
                "champion_mse": promo.champion_mse if promo else None,
                "status": promo.status if promo else "promoted",
                "gates": gate_summary(promo.gates if promo else ()),
                "files_scanned": metrics.files_scanned,
                "files_from_cache": metrics.files_from_cache,
                "latest": v == latest,
                "pinned": v == pinned,
            }
        )
    return rows


def load_model(ref: str, storage_options: dict[str, Any] | None = None):
    """A fitted estimator rebuilt from ``REGISTRY/NAME[/VERSION]`` (JSON and npz only).

    A least-squares CV model also gets the statistics of its fit when the version
    holds them (``stats.npz``), so ``coef_at`` / ``predict(X, alpha=)`` refit
    exactly between grid points.
    """
    from dreg.estimators.serialize import estimator_from_dict

    r, model, _ = read_record(ref, storage_options)
    est = estimator_from_dict(model.fit)
    if hasattr(est, "restore_refit"):
        stats = read_fit_stats(r, storage_options)
        if stats is not None:
            est.restore_refit(stats)
    return est


STATS_FILE = "stats.npz"


def fit_stats_bytes(stats: Any) -> bytes:
    """``stats.npz``: the statistics of every row of a fit (one label), plain arrays."""
    import io

    from dreg.core.stats import collapse

    buf = io.BytesIO()
    np.savez(buf, **collapse(stats).to_arrays())
    return buf.getvalue()


def read_fit_stats(ref: ModelRef, storage_options: dict[str, Any] | None = None) -> Any:
    """The version's ``stats.npz`` as :class:`~dreg.core.stats.SufficientStats`, or None if it has none."""
    import io

    from dreg.core.stats import SufficientStats

    fs, root = url_to_fs(ref.registry, storage_options)
    path = posixpath.join(root.rstrip("/"), ref.name, str(ref.version), STATS_FILE)
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            return SufficientStats.from_arrays({k: z[k] for k in z.files})
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise RegistryError(f"{path} is not a dreg statistics file: {exc}") from None
