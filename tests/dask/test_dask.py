"""The distributed statistics pass (dreg._dask) on a real multi-process LocalCluster.

Results must equal the in-memory numpy fit whatever the chunking, and a whole
cross-validated fit (every fold, every l1_ratio, every alpha) must read each
chunk of the data exactly once.
"""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import get_task_stream

from dreg import ElasticNetCV, LassoCV, RidgeCV
from dreg._dask import stats_graph
from dreg.estimators._input import FoldSpec

pytestmark = pytest.mark.cluster

N, P = 600, 6
COLUMNS = [f"x{j}" for j in range(P)]


def make_rows(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start .. stop - 1`` of a fixed data set, reproducible in any process."""
    X = np.empty((stop - start, P))
    y = np.empty(stop - start)
    for i in range(start, stop):
        r = np.random.default_rng([7, i])
        X[i - start] = r.standard_normal(P) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0] + [
            0.0,
            10.0,
            -5.0,
            0.0,
            1.0,
            0.0,
        ]
        y[i - start] = (
            2.0 * X[i - start, 0]
            - 0.5 * X[i - start, 1]
            + 0.3 * X[i - start, 4]
            + r.standard_normal()
        )
    return X, y


def load_x(start: int, stop: int, log: str) -> np.ndarray:
    with open(log, "a") as fh:  # one line per execution, from whichever worker process
        fh.write(f"x {start}\n")
    return make_rows(start, stop)[0]


def load_y(start: int, stop: int, log: str) -> np.ndarray:
    with open(log, "a") as fh:
        fh.write(f"y {start}\n")
    return make_rows(start, stop)[1]


def load_frame(bounds: tuple[int, int], log: str) -> pd.DataFrame:
    start, stop = bounds
    with open(log, "a") as fh:
        fh.write(f"frame {start}\n")
    X, y = make_rows(start, stop)
    return pd.DataFrame(X, columns=COLUMNS).assign(y=y)


def load_counts(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log.read_text().splitlines():
        counts[line] = counts.get(line, 0) + 1
    return counts


def bounds_of(chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


@pytest.fixture(scope="module")
def numpy_data():
    return make_rows(0, N)


def assert_same_fit(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=rtol)
    np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=rtol)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=rtol)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=rtol * np.abs(b.coef_).max())
    assert a.intercept_ == pytest.approx(b.intercept_, rel=rtol)


# --------------------------------------------------------------------------- equality with numpy
@pytest.mark.parametrize("chunks", [(100,) * 6, (137, 300, 1, 162), (N,), (29,) * 20 + (20,)])
def test_lasso_cv_on_dask_array_equals_numpy(dask_client, numpy_data, chunks):
    X, y = numpy_data
    ref = LassoCV(alphas=25, cv=5, random_state=2).fit(X, y)
    Xd = da.from_array(X, chunks=(chunks, P))
    yd = da.from_array(y, chunks=(chunks,))
    est = LassoCV(alphas=25, cv=5, random_state=2).fit(Xd, yd)
    assert_same_fit(est, ref)
    # y given as numpy with a Dask X is aligned to X's chunks
    est_np_y = LassoCV(alphas=25, cv=5, random_state=2).fit(Xd, y)
    assert_same_fit(est_np_y, ref)


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_lasso_cv_on_dask_dataframe_equals_numpy(dask_client, numpy_data, npartitions):
    X, y = numpy_data
    df = pd.DataFrame(X, columns=COLUMNS).assign(y=y)
    ref = LassoCV(alphas=25, random_state=0).fit(df[COLUMNS], df["y"])
    ddf = dd.from_pandas(df, npartitions=npartitions)
    est = LassoCV(alphas=25, random_state=0).fit(ddf[COLUMNS], ddf["y"])
    assert_same_fit(est, ref)
    assert est.feature_names_in_.tolist() == COLUMNS


def test_weights_and_user_folds_as_dask_arrays(dask_client, numpy_data):
    X, y = numpy_data
    w = np.linspace(0.2, 2.0, N)
    folds = np.arange(N) % 4 - 1  # labels -1 (always training), 0, 1, 2
    ref = ElasticNetCV(l1_ratio=[0.3, 1.0], alphas=15).fit(X, y, sample_weight=w, folds=folds)
    c = (150, 250, 200)
    est = ElasticNetCV(l1_ratio=[0.3, 1.0], alphas=15).fit(
        da.from_array(X, chunks=(c, P)),
        da.from_array(y, chunks=(c,)),
        sample_weight=da.from_array(w, chunks=(c,)),
        folds=da.from_array(folds, chunks=(c,)),
    )
    assert est.n_folds_ == 3
    assert_same_fit(est, ref)


def test_ridge_cv_on_dask_array_equals_numpy(dask_client, numpy_data):
    X, y = numpy_data
    ref = RidgeCV(alphas=10).fit(X, y)
    est = RidgeCV(alphas=10).fit(da.from_array(X, chunks=(77, 3)), da.from_array(y, chunks=77))
    assert_same_fit(est, ref)


def test_nan_in_dask_input_reported_for_whole_data_set(dask_client, numpy_data):
    X, y = numpy_data
    X = X.copy()
    X[[5, 250, 590], 2] = np.nan
    df = pd.DataFrame(X, columns=COLUMNS).assign(y=y)
    ddf = dd.from_pandas(df, npartitions=3)
    with pytest.raises(
        ValueError,
        match=r"3 NaN or infinite value\(s\) in 1 column\(s\): column 'x2' \(index 2\): 3",
    ):
        LassoCV(alphas=5).fit(ddf[COLUMNS], ddf["y"])


# --------------------------------------------------------------------------- one pass
def test_elastic_net_cv_loads_each_array_chunk_exactly_once(dask_client, numpy_data, tmp_path):
    log = tmp_path / "loads.txt"
    log.touch()
    chunks = (130, 70, 200, 1, 199)
    parts = bounds_of(chunks)
    Xd = da.concatenate(
        [
            da.from_delayed(dask.delayed(load_x)(a, b, str(log)), shape=(b - a, P), dtype=float)
            for a, b in parts
        ]
    )
    yd = da.concatenate(
        [
            da.from_delayed(dask.delayed(load_y)(a, b, str(log)), shape=(b - a,), dtype=float)
            for a, b in parts
        ]
    )
    assert log.read_text() == ""  # building the graph loads nothing
    est = ElasticNetCV(l1_ratio=[0.2, 0.5, 1.0], alphas=20, cv=5).fit(Xd, yd)
    expected = {f"{kind} {a}": 1 for kind in ("x", "y") for a, _ in parts}
    assert load_counts(log) == expected
    ref = ElasticNetCV(l1_ratio=[0.2, 0.5, 1.0], alphas=20, cv=5).fit(*numpy_data)
    assert_same_fit(est, ref)


@pytest.mark.parametrize("how", ["from_map", "from_delayed"])
def test_dask_dataframe_of_unknown_lengths_loads_each_partition_once(
    dask_client, numpy_data, tmp_path, how
):
    """Fold assignment needs global row offsets, computed in the graph from the same partitions."""
    log = tmp_path / "loads.txt"
    log.touch()
    parts = bounds_of((90, 210, 5, 295))
    meta = pd.DataFrame({c: pd.Series(dtype=float) for c in [*COLUMNS, "y"]})
    if how == "from_map":
        ddf = dd.from_map(load_frame, parts, log=str(log), meta=meta, enforce_metadata=False)
    else:
        ddf = dd.from_delayed(
            [dask.delayed(load_frame)(b, str(log)) for b in parts], meta=meta, verify_meta=False
        )
    assert not ddf.known_divisions
    assert log.read_text() == ""
    est = ElasticNetCV(l1_ratio=[0.2, 0.5, 1.0], alphas=20, cv=5, random_state=9).fit(
        ddf[COLUMNS], ddf["y"]
    )
    assert load_counts(log) == {f"frame {a}": 1 for a, _ in parts}
    X, y = numpy_data
    ref = ElasticNetCV(l1_ratio=[0.2, 0.5, 1.0], alphas=20, cv=5, random_state=9).fit(
        pd.DataFrame(X, columns=COLUMNS), y
    )
    assert_same_fit(est, ref)


# --------------------------------------------------------------------------- task names
def test_graph_keys_of_the_statistics_pass_start_with_dreg(numpy_data):
    X, y = numpy_data
    Xd = da.from_array(X, chunks=(100, P))
    yd = da.from_array(y, chunks=100)
    root, names = stats_graph(Xd, yd, None, FoldSpec(n_folds=5, random_state=0))
    assert names is None
    graph = dict(root.__dask_graph__())
    inputs = set(dict(Xd.__dask_graph__())) | set(dict(yd.__dask_graph__()))
    ours = [k for k in graph if k not in inputs]
    name = lambda k: k[0] if isinstance(k, tuple) else k  # noqa: E731
    assert ours and all(str(name(k)).startswith("dreg-") for k in ours)
    assert str(name(root.key)).startswith("dreg-merge-")
    assert sum(str(name(k)).startswith("dreg-stats-") for k in ours) == 6
    assert sum(str(name(k)).startswith("dreg-merge-") for k in ours) == _n_merges(6)


def test_graph_keys_for_frames_of_unknown_lengths(numpy_data):
    X, y = numpy_data
    df = pd.DataFrame(X, columns=COLUMNS).assign(y=y)
    ddf = dd.from_delayed(
        [dask.delayed(lambda d: d)(df.iloc[a:b]) for a, b in bounds_of((100, 200, 300))]
    )
    root, names = stats_graph(ddf[COLUMNS], ddf["y"], None, FoldSpec(n_folds=3, random_state=0))
    assert names == COLUMNS
    keys = [str(k[0] if isinstance(k, tuple) else k) for k in dict(root.__dask_graph__())]
    dreg_keys = [k for k in keys if k.startswith("dreg-")]
    assert {k.split("-")[1] for k in dreg_keys} == {"stats", "merge", "rows", "offset"}


def _n_merges(n: int) -> int:
    """Merge tasks of dreg's reduction tree over n leaves (fan-in TREE_FANIN)."""
    from dreg._dask import TREE_FANIN

    count = 0
    while n > 1:
        groups = [min(TREE_FANIN, n - j) for j in range(0, n, TREE_FANIN)]
        count += sum(g > 1 for g in groups)
        n = len(groups)
    return count


def test_task_stream_shows_dreg_tasks(dask_client, numpy_data):
    X, y = numpy_data
    with get_task_stream(dask_client) as ts:
        LassoCV(alphas=5).fit(da.from_array(X, chunks=(150, P)), da.from_array(y, chunks=150))
    keys = [str(t["key"][0] if isinstance(t["key"], tuple) else t["key"]) for t in ts.data]
    assert sum(k.startswith("dreg-stats-") for k in keys) == 4
    assert sum(k.startswith("dreg-merge-") for k in keys) == _n_merges(4)
