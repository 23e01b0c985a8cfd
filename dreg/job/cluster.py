"""Connecting to a Dask cluster: an existing one, or an embedded LocalCluster on 127.0.0.1.

Whoever reaches a Dask scheduler port can run code on the cluster, so the
embedded cluster binds its scheduler, workers and dashboard to 127.0.0.1 and
existing clusters are reached at the address the operator gives (``tls://``
with certificates in deployments, see ``deploy/``).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dreg.job.config import ClusterConfig
from dreg.job.errors import ClusterError

__all__ = ["ClusterError", "ClusterInfo", "closing_in_background", "dask_client", "compute_with_progress"]

# the threads stopping embedded clusters, while closing_in_background() is active (None: stop in place)
_stopping: contextvars.ContextVar[list[threading.Thread] | None] = contextvars.ContextVar(
    "dreg_cluster_stopping", default=None
)


@contextlib.contextmanager
def closing_in_background() -> Iterator[None]:
    """Within this block, an embedded LocalCluster that :func:`dask_client` leaves is stopped in a thread.

    Stopping the cluster (workers, nannies and their processes, the scheduler)
    takes about a second of mostly waiting; ``dreg fit`` needs no cluster after
    its data pass and fits, renders and writes meanwhile.  The client is closed
    in place as before (no default client after the ``with dask_client`` block);
    the block's end waits until every cluster is stopped, so none outlives it.
    """
    pending: list[threading.Thread] = []
    token = _stopping.set(pending)
    try:
        yield
    finally:
        _stopping.reset(token)
        for thread in pending:
            thread.join()


@dataclass(frozen=True)
class ClusterInfo:
    kind: str
    address: str
    workers: int
    dashboard: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "address": self.address, "workers": self.workers, "dashboard": self.dashboard}


@contextlib.contextmanager
def dask_client(
    cfg: ClusterConfig,
    *,
    address: str | None = None,
    scheduler_file: str | None = None,
    log: Callable[[str], None] = print,
) -> Iterator[tuple[Any, ClusterInfo]]:
    """A ``distributed.Client`` for the run, closed (and the embedded cluster stopped) on exit."""
    from distributed import Client, LocalCluster

    address = address or cfg.address
    scheduler_file = scheduler_file or cfg.scheduler_file
    security = _security(cfg)
    if security is not None and address and not address.startswith("tls://"):
        raise ClusterError(f"cluster.tls is configured but the scheduler address {address!r} is not tls://")
    extra: dict[str, Any] = {} if security is None else {"security": security}
    cluster = client = None
    try:
        if address or scheduler_file:
            target = address or f"scheduler file {scheduler_file}"
            try:
                if address:
                    client = Client(address, timeout=cfg.connect_timeout, set_as_default=True, **extra)
                else:
                    client = Client(
                        scheduler_file=scheduler_file, timeout=cfg.connect_timeout, set_as_default=True, **extra
                    )
            except TypeError as exc:  # distributed: a tls:// address without an SSL context
                raise ClusterError(
                    f"cannot connect to {target}: {exc}. A tls:// scheduler needs certificates: "
                    "set cluster.tls (ca_file, cert, key) or Dask's distributed.comm.tls configuration"
                ) from None
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {target} within {cfg.connect_timeout:g}s: {exc}"
                ) from None
            kind = "existing"
        else:
            cluster = LocalCluster(
                n_workers=cfg.n_workers,
                threads_per_worker=cfg.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                # dashboard_address=None still starts the scheduler's HTTP server on
                # port 8787 (dask/distributed#8136: a "port in use" warning when another
                # cluster runs): without a dashboard, serve its other routes on a free
                # loopback port and leave the Bokeh dashboard off
                dashboard_address=cfg.dashboard_address if cfg.dashboard_address is not None else "127.0.0.1:0",
                scheduler_kwargs=None if cfg.dashboard_address is not None else {"dashboard": False},
                memory_limit=cfg.memory_limit,
                **({} if security is None else {"protocol": "tls://", "security": security}),
            )
            client = Client(cluster, set_as_default=True, **extra)
            kind = "embedded LocalCluster"
        try:
            n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        except TypeError:  # older distributed without n_workers
            n_workers = len(client.scheduler_info().get("workers", {}))
        if cluster is not None:  # embedded: the Bokeh dashboard runs if and only if configured
            dashboard = None if cfg.dashboard_address is None else client.dashboard_link
        else:
            dashboard = _existing_dashboard(client)
        info = ClusterInfo(kind=kind, address=str(client.scheduler.address), workers=n_workers, dashboard=dashboard)
        log(f"dreg: Dask {kind} at {info.address} with {n_workers} worker(s)")
        if dashboard:
            log(f"dreg: dashboard: {dashboard}")
        yield client, info
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        if cluster is not None:
            _stop(cluster)


def _stop(cluster: Any) -> None:
    """Close an embedded cluster: here, or in a thread within :func:`closing_in_background`."""

    def close() -> None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=20)

    pending = _stopping.get()
    if pending is None:
        close()
        return
    thread = threading.Thread(target=close, name="dreg-cluster-close")
    thread.start()
    pending.append(thread)


def _existing_dashboard(client: Any) -> str | None:
    """The dashboard link of an existing scheduler, if it serves the Bokeh dashboard.

    The scheduler's ``"dashboard"`` service is its HTTP server, which runs even
    under ``dask scheduler --no-dashboard`` (for /health, /metrics, ...); only a
    page that answers at the link says that the dashboard is there.
    """
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        link = client.dashboard_link
    except Exception:  # noqa: BLE001 - a link is a courtesy: never fail a run over it
        return None
    return link if _answers(link) else None


def _answers(link: str) -> bool:
    """Whether a page answers at ``link``: a HEAD request, to which the Bokeh
    dashboard answers 405 (its pages take GET only, and a GET would build a
    Bokeh session) and the HTTP server of a scheduler without it 404."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(link, method="HEAD"), timeout=2.0):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code != 404
    except (OSError, ValueError):  # unreachable from here, or not an http(s) URL
        return False


def _security(cfg: ClusterConfig):
    """A ``distributed.Security`` from ``cluster.tls`` (None: Dask's own config applies).

    The same certificate serves as client, scheduler and worker certificate for
    an embedded TLS cluster; for an existing cluster it is this client's.
    """
    if cfg.tls is None:
        return None
    import os

    from distributed.security import Security

    from dreg.job.errors import ConfigError

    for key in ("ca_file", "cert", "key"):
        path = getattr(cfg.tls, key)
        if not os.path.isfile(path):
            raise ConfigError(f"cluster.tls.{key}: no such file {path!r}")
    t = cfg.tls
    # the scheduler, the workers and this client all present the one certificate
    roles = {
        f"tls_{role}_{kind}": getattr(t, kind) for role in ("client", "scheduler", "worker") for kind in ("cert", "key")
    }
    return Security(tls_ca_file=t.ca_file, require_encryption=True, **roles)


def _prefix_counts(client: Any, prefix: str) -> dict[str, int] | None:
    def count(dask_scheduler, prefix=prefix):  # runs on the scheduler
        tp = dask_scheduler.task_prefixes.get(prefix)
        return dict(tp.states) if tp is not None else {}

    try:
        return client.run_on_scheduler(count)
    except Exception:  # pragma: no cover - scheduler may refuse remote code
        return None


def compute_with_progress(
    client: Any,
    delayed_obj: Any,
    *,
    n_tasks: int,
    prefix: str = "dreg-read-stats",
    log: Callable[[str], None] = print,
    interval: float = 10.0,
    tty: bool | None = None,
) -> Any:
    """Compute a delayed object on ``client`` with a progress bar (stdout is a terminal) or log lines."""
    from distributed import progress

    # distributed's text bar writes to stdout: a bar only when stdout is a terminal
    # (stdout redirected to a log while stderr is a terminal would fill the log with \r frames)
    tty = sys.stdout.isatty() if tty is None else tty
    future = client.compute(delayed_obj)
    if tty:
        progress(future, multi=True)
        return future.result()
    base = _prefix_counts(client, prefix) or {}
    done_states = ("memory", "released", "forgotten", "erred")
    stop = threading.Event()
    start = time.monotonic()

    def report() -> None:
        while not stop.wait(interval):
            counts = _prefix_counts(client, prefix)
            elapsed = time.monotonic() - start
            if counts is None:
                log(f"dreg: data pass running ({elapsed:.0f}s)")
                continue
            done = sum(counts.get(s, 0) - base.get(s, 0) for s in done_states)
            log(f"dreg: data pass {min(done, n_tasks)}/{n_tasks} files ({elapsed:.0f}s)")

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    try:
        return future.result()
    finally:
        stop.set()
        thread.join(timeout=1)
