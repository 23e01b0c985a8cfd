"""The report ``dreg fit`` writes for a model with categorical and imputed columns (issue 13, item 6).

Reuses the lake and the fit of :mod:`tests.job.test_categorical` (string, dictionary, declared
integer and bool categorical columns, a rare level lumped into ``<other>``, numeric columns with
NaN and null imputed by the weighted mean, missing indicators) on a real 2-process cluster, and
reads the registry version's ``report.html`` against its ``model.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.job.test_categorical import address, fitted, lake, tables, workdir  # noqa: F401 - fixtures
from tests.job.test_report import check_document, coef_text, groups_of, level_text

pytestmark = pytest.mark.cluster


def test_fit_writes_a_report_grouped_by_column(fitted: Path) -> None:  # noqa: F811
    version = (fitted / "m" / "latest").read_text().strip()
    folder = fitted / "m" / version
    model = json.loads((folder / "model.json").read_text())
    document = (folder / "report.html").read_text()
    check_document(document, n_svg=4)
    groups = groups_of(document)
    columns = model["encoding"]["columns"]
    coef = np.asarray(model["coef"])
    assert list(groups) == ["Numeric"] + [c["name"] for c in columns if c["kind"] == "categorical"]
    start = 0
    numeric = {}
    for c in columns:
        if c["kind"] == "numeric":
            numeric[c["name"]] = (c, coef[start : start + 1 + c["indicator"]])
            start += 1 + c["indicator"]
            continue
        levels = [level_text(lv) for lv in c["levels"]] + (["<other>"] if c["other"] else [])
        beta = coef[start : start + len(levels)]
        start += len(levels)
        _, *rows = groups[c["name"]]["rows"]
        assert [[r[0], r[1], r[3]] for r in rows] == [
            [lv, f"{k:,}", coef_text(b)] for lv, k, b in zip(levels, c["counts"], beta, strict=True)
        ]
    assert start == coef.size
    header, *rows = groups["Numeric"]["rows"]
    shown = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(shown) == set(numeric)
    for name, (c, beta) in numeric.items():
        assert shown[name]["coefficient"] == coef_text(beta[0])
        assert shown[name]["missing values imputed with"] == f"{c['impute']:.8g} (mean)"
        if c["indicator"]:
            assert shown[name]["coefficient of the missing indicator"] == coef_text(beta[1])
    # the lumped plan level is named; the facts count the columns
    assert "lumped into one: legacy" in " ".join(groups["plan"]["notes"])
    assert "4 categorical with 16 level(s) in all" in document
