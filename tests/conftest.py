"""Shared fixtures: seeded random generators and one real multi-process Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test (never global seeding)."""
    return np.random.default_rng(20240611)


@pytest.fixture(scope="session")
def dask_client():
    """A real ``LocalCluster`` with 2 worker processes, shared by the ``cluster`` tests.

    Dask is imported here, inside the fixture, so that collecting the pure maths
    tests never imports it.  ``distributed`` is a dependency of dreg: a plain
    import, so that a broken install fails loudly instead of skipping.
    """
    import distributed
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
