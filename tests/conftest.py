"""Shared fixtures: seeded random generators and one real multi-process Dask cluster for the session."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test (never global seeding)."""
    return np.random.default_rng(20240611)


@pytest.fixture(scope="session")
def cluster_address():
    """The scheduler address of one real ``LocalCluster`` (2 worker processes, 1 thread each,
    127.0.0.1, no dashboard) shared by the whole session: the ``cluster`` tests of tests/dask
    (through :func:`dask_client`) and the batch-job modules in tests/job (through ``address``).

    Sharing it saves a cluster start and stop per module; the tests that need a cluster of
    their own (killed workers, TLS, embedded clusters, ``dask scheduler`` processes) still
    start one.  Nothing in dreg keeps state on the workers between runs (every run is its
    own client and its own tasks), and no test that uses this cluster stops or kills it.

    Dask is imported here, inside the fixture, so that collecting the pure maths tests
    never imports it.  ``distributed`` is a dependency of dreg: a plain import, so that a
    broken install fails loudly instead of skipping.
    """
    import distributed

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def dask_client(cluster_address: str):
    """A client of the session's cluster, the default client while it is open."""
    import distributed

    client = distributed.Client(cluster_address)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def address(cluster_address: str) -> str:
    """The session's cluster, for ``run_fit(..., scheduler=address)`` and ``dreg ... --scheduler``."""
    return cluster_address
