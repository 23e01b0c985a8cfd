"""Tests of dreg.job.report: the HTML model report.

The model dictionaries are built from real fits (ElasticNetCV, LassoCV,
RidgeCV on small synthetic data) in the registry's model.json layout, then
round-tripped through JSON so that every list is a plain JSON list.  The
browser test renders the report in headless Chromium.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import dreg
from dreg.job.report import render_report

EVIL = "<script>alert(1)</script>"
EVIL_COMMENT = '--><img src="http://evil.example/x.png"> & "quotes"'

HEADINGS = [
    "Run facts",
    "Cross-validation curve",
    "Coefficient path",
    "Training vs held-out error",
    "Selection frequency",
    "Selected features",
    "Data files",
    "Configuration and versions",
]


# --------------------------------------------------------------------------- helpers
def model_dict(est, features: list[str], *, n_files: int = 3) -> dict:
    """model.json content (format dreg-model 1) of a fitted dreg CV estimator."""
    cv = est.cv_result_
    penalty = {"LassoCV": "lasso", "RidgeCV": "ridge", "ElasticNetCV": "elasticnet"}[
        type(est).__name__
    ]
    selection = est.selection
    fingerprint = [
        {
            "path": f"s3://bucket/lake/part-{i:05d}.parquet",
            "size": 1000 + i,
            "mtime": None,
            "etag": f"e{i}",
        }
        for i in range(n_files)
    ]
    model = {
        "format": "dreg-model",
        "format_version": 1,
        "name": "house<prices>",
        "version": "3",
        "created": "2026-06-11T12:00:00Z",
        "estimator": type(est).__name__,
        "penalty": penalty,
        "params": {k: v for k, v in est.get_params().items() if k != "random_state"},
        "features": list(features),
        "target": "price & <tax>",
        "coef": est.coef_.tolist(),
        "intercept": float(est.intercept_),
        "alpha": float(est.chosen_alpha_),
        "alpha_min": float(est.alpha_),
        "alpha_1se": float(est.alpha_1se_),
        "l1_ratio": float(est.l1_ratio_),
        "selection": selection,
        "path": {
            "l1_ratios": cv.l1_ratios.tolist(),
            "alphas": cv.alphas.tolist(),
            "mse_mean": cv.mse_mean.tolist(),
            "mse_se": cv.mse_se.tolist(),
            "mse_path": cv.mse_path.tolist(),
            "train_mse_path": cv.train_mse_path.tolist(),
            "best_l1_index": int(cv.best_l1_index),
            "coef_path": est.coef_path_.tolist(),
            "intercept_path": est.intercept_path_.tolist(),
        },
        "fold_coef": est.fold_coef_.tolist(),
        "n_folds": int(est.n_folds_),
        "rows": {"used": 400, "dropped": 2, "weight_sum": 400.0},
        "data": {"path": "s3://bucket/lake/<x>", "files": n_files, "fingerprint": fingerprint},
        "config": {"columns": {"target": "price & <tax>"}, "note": EVIL},
        "versions": {"dreg": dreg.__version__, "numpy": np.__version__},
        "run": {
            "started": "2026-06-11T11:59:00Z",
            "finished": "2026-06-11T12:00:00Z",
            "seconds": 61.5,
            "cluster": {
                "kind": "local",
                "address": "tcp://127.0.0.1:8786",
                "workers": 2,
                "dashboard": None,
            },
        },
    }
    # model.json is JSON: NaN survives as NaN in Python's json module
    return json.loads(json.dumps(model))


def metrics_of(model: dict) -> dict:
    coef = np.asarray(model["coef"], dtype=float)
    return {
        "cv_mse": 1.25,
        "cv_mse_se": 0.05,
        "train_mse": 1.1,
        "rows": model["rows"]["used"],
        "files": model["data"]["files"],
        "files_scanned": model["data"]["files"],
        "rows_dropped": model["rows"]["dropped"],
        "seconds": model["run"]["seconds"],
        "n_nonzero": int(np.count_nonzero(coef)),
    }


def synthetic(rng: np.random.Generator, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Three true features, the first two strongly correlated (unstable selection)."""
    X = rng.standard_normal((n, p))
    if p >= 2:
        X[:, 1] = X[:, 0] + 0.1 * rng.standard_normal(n)
    beta = np.zeros(p)
    beta[: min(p, 3)] = [2.0, 1.0, -1.5][: min(p, 3)]
    return X, X @ beta + rng.standard_normal(n)


class Page(HTMLParser):
    """Headings, tag counts, ids and external references of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.tags: dict[str, int] = {}
        self.ids: list[str] = []
        self.refs: list[str] = []  # values of src/href attributes
        self.styles: list[str] = []  # style attributes and <style> contents
        self.text: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
            if (
                name in ("src", "href", "xlink:href", "srcset", "data", "action", "poster")
                and value
            ):
                self.refs.append(value)
            if name == "style" and value:
                self.styles.append(value)
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self.lasttag == "style":
            self.styles.append(data)
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page


def check_document(document: str, n_svg: int) -> Page:
    """Structure every report must have: headings, SVGs, no script, no external reference."""
    assert document.startswith("<!DOCTYPE html>")
    page = parse(document)
    assert page.tags.get("svg", 0) == n_svg
    for heading in HEADINGS:
        assert heading in page.headings
    assert "<script" not in document.lower()
    assert "<?xml" not in document and "<!DOCTYPE svg" not in document
    for ref in page.refs:
        assert ref.startswith("#"), f"external or non-local reference {ref!r}"
    for style in page.styles:
        for url in re.findall(r"url\(([^)]*)\)", style):
            assert url.strip("'\" ").startswith("#"), f"external url() in a style: {url!r}"
    assert len(page.ids) == len(set(page.ids)), "duplicate ids across inline SVGs"
    ids = set(page.ids)
    for ref in page.refs + re.findall(r"url\(#([^)]+)\)", document):
        assert ref.lstrip("#") in ids, f"dangling reference {ref!r}"
    return page


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def enet_model() -> dict:
    rng = np.random.default_rng(7)
    X, y = synthetic(rng, 400, 8)
    names = [
        EVIL,
        EVIL_COMMENT,
        "x2",
        "$\\frac$ dollars",
        "x4",
        "x5",
        "a very long feature name " * 4,
        "x7",
    ]
    est = dreg.ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=40, cv=5).fit(X, y)
    return model_dict(est, names)


@pytest.fixture(scope="module")
def enet_report(enet_model) -> str:
    return render_report(enet_model, metrics_of(enet_model))


# --------------------------------------------------------------------------- tests
def test_import_does_not_load_matplotlib_or_dask():
    code = (
        "import sys, dreg.job.report; "
        "bad = [m for m in ('matplotlib', 'dask', 'distributed') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_structure(enet_model, enet_report):
    page = check_document(enet_report, n_svg=4)
    assert page.headings[0].startswith("dreg model report: house<prices> 3")
    assert page.tags.get("details", 0) >= 2  # fingerprint and configuration
    text = "".join(page.text)
    for fact in ("ElasticNetCV", "elasticnet", "400", "1 min 2 s", "local", "s3://bucket/lake/<x>"):
        assert fact in text
    assert dreg.__version__ in text


def test_data_strings_are_escaped(enet_report):
    assert EVIL not in enet_report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in enet_report
    assert "--><img" not in enet_report and "<img" not in enet_report
    assert "house&lt;prices&gt;" in enet_report
    assert "price &amp; &lt;tax&gt;" in enet_report
    # the names survive parsing as text, in the table
    text = "".join(parse(enet_report).text)
    assert EVIL in text and EVIL_COMMENT in text


def test_content_security_policy_and_no_scripts(enet_report):
    assert "Content-Security-Policy" in enet_report
    assert "default-src 'none'" in enet_report
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", enet_report, flags=re.I)


def test_tables_and_selection_frequency(enet_model, enet_report):
    coef = np.asarray(enet_model["coef"])
    K = enet_model["n_folds"]
    assert f"{int(np.sum(coef == 0))} of 8 coefficient(s) are exactly zero" in enet_report
    fold = np.asarray(enet_model["fold_coef"]) != 0
    j = int(np.argmax(np.abs(coef)))
    assert f"{int(fold[:, j].sum())}/{K}" in enet_report
    # fingerprint listed in a collapsible block
    assert "Fingerprint: 3 file(s)" in enet_report
    assert "part-00002.parquet" in enet_report


def test_report_is_deterministic(enet_model, enet_report):
    assert render_report(enet_model, metrics_of(enet_model)) == enet_report


def test_single_l1_ratio_and_single_feature():
    rng = np.random.default_rng(1)
    X, y = synthetic(rng, 200, 1)
    est = dreg.LassoCV(alphas=20, cv=4, selection="1se").fit(X, y)
    model = model_dict(est, ["only"])
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    assert "alpha_1se" in document
    assert "0 of 1 coefficient(s) are exactly zero" in document


def test_all_zero_coefficients():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((150, 5))
    y = rng.standard_normal(150)
    # alphas far above alpha_max: every coefficient is zero along the whole path
    est = dreg.ElasticNetCV(l1_ratio=1.0, alphas=[1e4, 1e3, 1e2], cv=3).fit(X, y)
    model = model_dict(est, [f"f{j}" for j in range(5)])
    assert not np.any(model["coef"])
    document = render_report(model, metrics_of(model))
    # no feature is ever selected: no frequency chart, a note instead
    check_document(document, n_svg=3)
    assert "No feature has a nonzero coefficient" in document
    assert "No feature is selected in any fold" in document
    assert "5 of 5 coefficient(s) are exactly zero" in document


def test_ridge_table_is_capped():
    rng = np.random.default_rng(3)
    X, y = synthetic(rng, 300, 60)
    est = dreg.RidgeCV(alphas=15, cv=3).fit(X, y)
    model = model_dict(est, [f"feature_{j:03d}" for j in range(60)])
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    assert "and 10 more nonzero coefficient(s)" in document
    assert "0 of 60 coefficient(s) are exactly zero" in document


def _svg_texts(document: str) -> list[str]:
    """Text drawn in each inline SVG (matplotlib writes each string as a comment)."""
    return [
        re.findall(r"<!-- (.*?) -->", svg, flags=re.S)
        for svg in re.findall(r"<svg.*?</svg>", document, re.S)
    ]


def path_model(rng: np.random.Generator, p: int, *, n_alphas: int = 100, n_folds: int = 5) -> dict:
    """A lasso model.json with ``p`` features, built without fitting.

    Fitting 500 features is the solvers' business (and slow); the report only
    needs the shapes and plausible values: soft-thresholded coefficient paths
    and a U-shaped CV curve.
    """
    beta = rng.standard_normal(p) * (rng.random(p) < 0.1)
    alphas = np.geomspace(1.0, 1e-3, n_alphas)
    coef_path = np.sign(beta) * np.maximum(np.abs(beta) - alphas[:, None], 0.0)
    log_a = np.log(alphas)
    held = 1.0 + 0.1 * (log_a[:, None] + 3.0) ** 2 + 0.05 * rng.standard_normal((n_alphas, n_folds))
    train = held - 0.3 * np.exp(-(log_a + 7.0) / 3.0)[:, None]
    best = int(np.argmin(held.mean(axis=1)))
    fold_coef = coef_path[best] * (rng.random((n_folds, p)) < 0.8)
    est = {
        "coef": coef_path[best].tolist(),
        "alpha": float(alphas[best]),
        "alpha_min": float(alphas[best]),
        "alpha_1se": float(alphas[max(best - 5, 0)]),
    }
    model = {
        "name": "wide",
        "version": "1",
        "estimator": "LassoCV",
        "penalty": "lasso",
        "selection": "min",
        "features": [f"feature_{j:03d}" for j in range(p)],
        "target": "y",
        "intercept": 0.5,
        "l1_ratio": 1.0,
        "n_folds": n_folds,
        **est,
        "path": {
            "l1_ratios": [1.0],
            "alphas": [alphas.tolist()],
            "mse_mean": [held.mean(axis=1).tolist()],
            "mse_se": [(held.std(axis=1, ddof=1) / np.sqrt(n_folds)).tolist()],
            "mse_path": [held.tolist()],
            "train_mse_path": [train.tolist()],
            "best_l1_index": 0,
            "coef_path": coef_path.tolist(),
            "intercept_path": [0.5] * n_alphas,
        },
        "fold_coef": fold_coef.tolist(),
        "rows": {"used": 10**6, "dropped": 0, "weight_sum": 1e6},
        "run": {
            "seconds": 4000.0,
            "cluster": {"kind": "ssh", "address": "tcp://10.0.0.1:8786", "workers": 16},
        },
        "data": {
            "path": "/lake",
            "files": 250,
            "fingerprint": [
                {
                    "path": f"/lake/part-{i}.parquet",
                    "size": 1,
                    "mtime": "2026-01-01T00:00:00Z",
                    "etag": None,
                }
                for i in range(250)
            ],
        },
    }
    return json.loads(json.dumps(model))


def test_many_features_stay_readable():
    model = path_model(np.random.default_rng(4), 500)
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    cv_texts, path_texts, gap_texts, freq_texts = _svg_texts(document)
    assert sum(t.startswith("feature_") for t in path_texts) <= 10
    assert sum(t.startswith("feature_") for t in freq_texts) <= 40
    assert "Fingerprint: 250 file(s) (first 20 listed)" in document
    assert "and 230 more" in document
    assert document.count("/lake/part-") == 20
    assert len(document) < 3_000_000


def test_dense_wide_ridge_model_renders():
    rng = np.random.default_rng(6)
    model = path_model(rng, 500, n_alphas=60)
    coef_path = np.asarray(model["path"]["coef_path"]) + 1e-3 * rng.standard_normal((60, 500))
    model["path"]["coef_path"] = coef_path.tolist()
    model["coef"] = coef_path[30].tolist()
    model["fold_coef"] = np.tile(coef_path[30], (5, 1)).tolist()
    model |= {"estimator": "RidgeCV", "penalty": "ridge", "l1_ratio": 0.0}
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    assert "and 450 more nonzero coefficient(s)" in document
    assert "Showing the 40 most frequently selected of 500" in document
    assert len(document) < 5_000_000


def test_several_l1_ratios_get_a_colour_bar():
    rng = np.random.default_rng(5)
    X, y = synthetic(rng, 200, 6)
    ratios = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    est = dreg.ElasticNetCV(l1_ratio=ratios, alphas=15, cv=3).fit(X, y)
    model = model_dict(est, [f"f{j}" for j in range(6)])
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    cv_texts = _svg_texts(document)[0]
    assert "l1_ratio (other curves)" in cv_texts
    assert not any(t.startswith("l1_ratio = 0.") and "chosen" not in t for t in cv_texts)


def test_nan_inf_and_missing_values_do_not_crash(enet_model):
    model = json.loads(json.dumps(enet_model))
    path = model["path"]
    path["alphas"][1][0] = 0.0  # log(0)
    path["alphas"][1][1] = -1.0
    path["mse_mean"][1][2] = math.nan
    path["mse_mean"][0][3] = math.inf
    path["mse_se"][1][4] = -math.inf
    path["mse_se"][1][5] = None
    path["mse_path"][1][6] = [math.nan] * model["n_folds"]
    path["train_mse_path"][1][7][0] = math.inf
    path["coef_path"][5][0] = math.nan
    model["coef"][2] = math.inf
    model["fold_coef"][0][1] = math.nan
    model["alpha_1se"] = math.nan
    model["intercept"] = None
    model["run"]["seconds"] = math.nan
    metrics = {k: math.nan for k in metrics_of(enet_model)}
    document = render_report(model, metrics)
    check_document(document, n_svg=4)
    assert "inf" in document and "NaN" in document
    assert "not shown on the log scale" in document


def test_inconsistent_or_missing_sections_are_reported(enet_model):
    model = json.loads(json.dumps(enet_model))
    del model["path"]["train_mse_path"]
    model["path"]["coef_path"] = [[1.0]]
    model["fold_coef"] = "garbage"
    del model["data"]
    del model["run"]
    document = render_report(model, {})
    page = check_document(document, n_svg=1)  # only the CV curve is left
    text = "".join(page.text)
    assert "Training versus held-out error is not available" in text
    assert "coef_path has shape (1, 1)" in text
    assert "The model records no file fingerprint" in text


def test_renders_the_pipelines_model_dict():
    """The dict dreg.estimators.serialize writes (in memory, before JSON) renders too."""
    from dreg.estimators.serialize import estimator_to_dict

    rng = np.random.default_rng(8)
    X, y = synthetic(rng, 200, 5)
    est = dreg.ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=20, cv=3).fit(X, y)
    model = estimator_to_dict(est)
    model |= {"name": "m", "version": "1", "target": "y", "features": np.array(model["features"])}
    document = render_report(model, {"cv_mse": 1.0})
    check_document(document, n_svg=4)
    assert "is not available" not in document


@pytest.mark.filterwarnings("ignore::dreg.core.glm.GLMWarning")
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_glm_reports_deviance_auc_and_calibration(family: str):
    """A binomial or Poisson model.json (format 3): the CV curve, the gap and the facts are
    in mean deviance; binomial adds the held-out AUC curve and the calibration plot."""
    from dreg.estimators.serialize import estimator_to_dict

    rng = np.random.default_rng(9)
    X = rng.standard_normal((600, 5))
    eta = X[:, 0] - 0.7 * X[:, 1] + 0.2
    if family == "binomial":
        y = np.where(rng.random(600) < 1 / (1 + np.exp(-eta)), "churned", "stayed")
        est = dreg.LogisticRegressionCV(alphas=20, cv=4).fit(X, y)
    else:
        y = rng.poisson(np.exp(0.5 * eta))
        est = dreg.PoissonRegressorCV(alphas=20, cv=4).fit(X, y)
    model = json.loads(json.dumps(estimator_to_dict(est)))
    model |= {"name": "m", "version": "2", "target": "y", "n_folds": 4}
    if family == "binomial":
        model["calibration"] = [
            {"predicted": 0.1, "observed": 0.12, "weight": 200.0},
            {"predicted": 0.5, "observed": 0.45, "weight": 250.0},
            {"predicted": 0.9, "observed": 0.88, "weight": 150.0},
            {"predicted": float("nan"), "observed": 0.5, "weight": 1.0},  # ignored, not fatal
        ]
    metrics = {
        "family": family,
        "cv_deviance": 0.612345,
        "cv_deviance_se": 0.0123,
        "cv_auc": 0.8123 if family == "binomial" else None,
        "n_passes": 9,
        "passes_mode": "persist",
    }
    document = render_report(model, metrics)
    page = check_document(document, n_svg=6 if family == "binomial" else 4)
    text = "".join(page.text)
    assert "is not available" not in document
    assert f"Family{family}" in text.replace("\n", "")
    assert "mean deviance 0.6123 \u00b1 0.0123 (1 SE, 4 folds)" in text
    assert "9 passes over the data (persist)" in text
    assert "Mean held-out mean deviance over the folds" in text and "mean squared error" not in text
    assert ("Held-out AUC" in page.headings) == ("Calibration" in page.headings) == (family == "binomial")
    if family == "binomial":
        assert "AUC 0.8123" in text
        # bins 0.1/0.12 (200), 0.5/0.45 (250), 0.9/0.88 (150): weighted |gap| (4 + 12.5 + 3) / 600
        assert "over a total weight of 600" in text and f"Weighted mean |predicted \u2212 observed| {19.5 / 600:.3g}" in text
        assert "(<code>stayed</code>)" in document
    # no calibration bins recorded: the section says so instead of failing
    if family == "binomial":
        del model["calibration"]
        assert "The calibration plot is not available: the model records no calibration bins" in render_report(
            model, metrics
        )


def test_rejects_non_mappings():
    with pytest.raises(TypeError, match="model must be a mapping"):
        render_report([], {})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- browser
def _chromium() -> str:
    """The Chromium binary; without one the browser test is skipped, unless
    ``DREG_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``) makes its absence a failure."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    how = "install it to run this test (Debian: apt-get install -y chromium)"
    if os.environ.get("DREG_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"chromium is not installed but DREG_REQUIRE_CHROMIUM=1: {how}")
    pytest.skip(f"chromium is not installed: {how}; set DREG_REQUIRE_CHROMIUM=1 to make its absence a failure")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(enet_report, tmp_path):
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(enet_report, encoding="utf-8")
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dumped = subprocess.run(
        [*base, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.tags.get("svg", 0) == 4
    for heading in HEADINGS:
        assert heading in dom.headings
    assert dom.tags.get("script", 0) == 0

    png = tmp_path / "r.png"
    shot = subprocess.run(
        [*base, f"--screenshot={png}", "--window-size=1200,3000", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_warm_up_leaves_the_next_report_unchanged(enet_model, enet_report):
    """The fit warms matplotlib up in a thread; the report after it is byte-identical."""
    import threading

    from dreg.job.report import warm_up

    t = threading.Thread(target=warm_up)
    t.start()
    t.join()
    assert render_report(enet_model, metrics_of(enet_model)) == enet_report


def test_no_chromium_skips_with_how_to_unless_required(monkeypatch):
    """A fresh machine without a browser skips the browser test (saying how to run it); CI fails instead."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("DREG_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        _chromium()
    monkeypatch.setenv("DREG_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="DREG_REQUIRE_CHROMIUM=1"):
        _chromium()


# --------------------------------------------------------------------------- categorical and imputed columns
EVIL_LEVEL = "<script>alert(2)</script>"
MIN_LEVEL_COUNT = 5


class Groups(HTMLParser):
    """The "features" section of a report: per <h3> group, its tables' rows (cell texts) and
    the title attribute of each cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_section = False
        self.groups: list[dict] = []  # {"title": str, "rows": [[cell text]], "titles": [[title]], "notes": [str]}
        self._cell: list[str] | None = None
        self._title: list[str] | None = None
        self._note: list[str] | None = None
        self._row: list[str] | None = None
        self._row_titles: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.in_section = a.get("id") == "features"
        if not self.in_section:
            return
        if tag == "h3":
            self._title = []
        elif tag == "tr":
            self._row, self._row_titles = [], []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._row_titles.append(a.get("title"))
        elif tag == "p" and self.groups:
            self._note = []

    def handle_endtag(self, tag):
        if tag == "section":
            self.in_section = False
        if not self.in_section:
            return
        if tag == "h3" and self._title is not None:
            self.groups.append({"title": " ".join("".join(self._title).split()), "rows": [], "titles": [], "notes": []})
            self._title = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self.groups:
                self.groups[-1]["rows"].append(self._row)
                self.groups[-1]["titles"].append(self._row_titles)
            self._row = None
        elif tag == "p" and self._note is not None:
            self.groups[-1]["notes"].append(" ".join("".join(self._note).split()))
            self._note = None

    def handle_data(self, data):
        for part in (self._title, self._cell, self._note):
            if part is not None:
                part.append(data)


def groups_of(document: str) -> dict[str, dict]:
    parser = Groups()
    parser.feed(document)
    parser.close()
    return {g["title"].split(" ")[0]: g for g in parser.groups}


def features_section(document: str) -> str:
    return re.search(r'<section id="features">.*?</section>', document, re.S).group(0)


def coef_text(c: float) -> str:
    return "0 (dropped)" if c == 0 else format(c, ".6g")


def level_text(level) -> str:
    return "<null>" if level is None else str(level)


def _sorted_levels(values: list) -> list:
    data = sorted({v for v in values if v is not None})
    return data + ([None] if any(v is None for v in values) else [])


@pytest.fixture(scope="module")
def categorical_model() -> dict:
    """A real ElasticNetCV fit on a one-hot + imputed design built with numpy, with the
    ``encoding`` model.json records for it (levels sorted, null last, rare levels lumped
    into <other> last, counts per level, weighted-mean imputation values)."""
    rng = np.random.default_rng(13)
    n = 900
    region = rng.choice(["east", "north", "south", EVIL_LEVEL], n).astype(object)
    region[rng.random(n) < 0.08] = None
    plan = rng.choice(["basic", "plus", "pro"], n).astype(object)
    plan[:3] = "legacy"  # rare: lumped
    plan[3:5] = "<b>old</b>"  # rare: lumped
    shop = np.array([f"shop{k:02d}" for k in rng.integers(0, 40, n)], dtype=object)  # 40 levels: capped
    flag = rng.random(n) < 0.3
    x1 = rng.standard_normal(n)
    x3 = rng.standard_normal(n)
    shop_effect = {f"shop{k:02d}": (3.0 if k < 4 else 0.0) for k in range(40)}
    y = (
        np.array([{"east": 1.0, "north": -2.0, "south": 0.0, EVIL_LEVEL: 2.5, None: -1.0}[r] for r in region])
        + np.array([{"basic": 0.0, "plus": 1.0, "pro": 2.0, "legacy": -3.0, "<b>old</b>": -3.0}[p] for p in plan])
        + np.array([shop_effect[s] for s in shop])
        - 0.7 * flag
        + 1.5 * x1
        + 0.3 * x3
        + rng.standard_normal(n)
    )
    x1[rng.random(n) < 0.1] = np.nan
    columns, cols, names = [], [], []

    def categorical(name, values):
        levels = _sorted_levels(list(values))
        counts = {lv: int(sum(1 for v in values if v == lv or (v is None and lv is None))) for lv in levels}
        kept = [lv for lv in levels if counts[lv] >= MIN_LEVEL_COUNT]
        rare = [lv for lv in levels if counts[lv] < MIN_LEVEL_COUNT]
        for lv in kept:
            cols.append(np.array([v == lv if lv is not None else v is None for v in values], dtype=float))
            names.append(f"{name}={level_text(lv)}")
        if rare:
            cols.append(np.array([v in rare for v in values], dtype=float))
            names.append(f"{name}=<other>")
        columns.append(
            {
                "name": name,
                "kind": "categorical",
                "levels": kept,
                "other": bool(rare),
                "counts": [counts[lv] for lv in kept] + ([sum(counts[lv] for lv in rare)] if rare else []),
                "lumped": rare,
            }
        )

    def numeric(name, x):
        miss = np.isnan(x)
        mean = float(np.mean(x[~miss]))
        cols.append(np.where(miss, mean, x))
        names.append(name)
        if miss.any():
            cols.append(miss.astype(float))
            names.append(f"{name}=<null>")
        columns.append(
            {"name": name, "kind": "numeric", "impute": mean, "impute_rule": "mean", "indicator": bool(miss.any())}
        )

    categorical("region", list(region))
    numeric("x1", x1)
    categorical("plan", list(plan))
    categorical("shop", list(shop))
    categorical("flag", [bool(f) for f in flag])
    numeric("x3", x3)
    X = np.column_stack(cols)
    est = dreg.ElasticNetCV(l1_ratio=[0.5, 1.0], alphas=30, cv=4, selection="1se").fit(X, y)
    model = model_dict(est, names)
    model["encoding"] = {"columns": columns, "min_level_count": MIN_LEVEL_COUNT}
    model = json.loads(json.dumps(model))
    from dreg.core.design import Encoding

    assert Encoding.from_json(model["encoding"]).feature_names == names  # the layout model.json has
    return model


@pytest.fixture(scope="module")
def categorical_report(categorical_model) -> str:
    return render_report(categorical_model, metrics_of(categorical_model))


def _slices(model: dict) -> dict[str, slice]:
    from dreg.core.design import Encoding

    enc = Encoding.from_json(model["encoding"])
    return dict(zip(enc.source_columns, enc.slices(), strict=True))


def test_categorical_columns_are_grouped_with_counts_and_coefficients(categorical_model, categorical_report):
    check_document(categorical_report, n_svg=4)
    groups = groups_of(categorical_report)
    coef = np.asarray(categorical_model["coef"])
    cols = {c["name"]: c for c in categorical_model["encoding"]["columns"]}
    sl = _slices(categorical_model)
    assert list(groups) == ["Numeric", "region", "plan", "shop", "flag"]
    for name in ("region", "plan", "flag"):
        c = cols[name]
        levels = [level_text(lv) for lv in c["levels"]] + (["<other>"] if c["other"] else [])
        expected = [[lv, f"{k:,}", coef_text(b)] for lv, k, b in zip(levels, c["counts"], coef[sl[name]], strict=True)]
        header, *rows = groups[name]["rows"]
        assert header[:4] == ["level", "rows", "share", "coefficient"]
        assert [[r[0], r[1], r[3]] for r in rows] == expected, name  # level order, counts, coefficients
        assert f"{len(levels)} level(s)" in groups[name]["title"]
        assert f"{sum(c['counts']):,} rows" in groups[name]["title"]
    # null is the level <null> (last of the data levels); the rare levels are lumped into <other>
    assert groups["region"]["rows"][-1][0] == "<null>"
    assert cols["plan"]["lumped"] == ["<b>old</b>", "legacy"] and cols["plan"]["counts"][-1] == 5
    other_row = groups["plan"]["rows"][-1]
    assert other_row[:2] == ["<other>", "5"]
    assert groups["plan"]["titles"][-1][0] == "lumped: <b>old</b>, legacy"
    assert any("2 level(s) with fewer than 5 rows" in n and "<b>old</b>, legacy" in n for n in groups["plan"]["notes"])
    # the numeric columns: coefficient, imputation value, the indicator's coefficient
    header, *rows = groups["Numeric"]["rows"]
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_name) == {"x1", "x3"}
    j1 = sl["x1"].start
    assert by_name["x1"]["coefficient"] == coef_text(coef[j1])
    assert by_name["x1"]["missing values imputed with"] == f"{cols['x1']['impute']:.8g} (mean)"
    assert by_name["x1"]["coefficient of the missing indicator"] == coef_text(coef[j1 + 1])
    assert by_name["x3"]["coefficient of the missing indicator"] == "no indicator"  # x3 had no missing value
    assert by_name["x3"]["missing values imputed with"] == f"{cols['x3']['impute']:.8g} (mean)"


def test_zero_coefficients_are_shown_as_dropped(categorical_model, categorical_report):
    coef = np.asarray(categorical_model["coef"])
    assert np.any(coef == 0) and np.any(coef != 0)  # the 1se lasso drops some levels
    n_zero = int(np.sum(coef == 0))
    assert f"{n_zero} of {coef.size} coefficient(s) are exactly zero" in categorical_report
    cells = re.findall(r'<td class="num( zero)?"[^>]*>(0 \(dropped\)|[^<]*)</td>', features_section(categorical_report))
    assert all(zero for zero, text in cells if text == "0 (dropped)")  # styled apart
    assert sum(text == "0 (dropped)" for _, text in cells) >= 1


def test_many_levels_show_the_largest_coefficients(categorical_model, categorical_report):
    group = groups_of(categorical_report)["shop"]
    coef = np.asarray(categorical_model["coef"])[_slices(categorical_model)["shop"]]
    levels = categorical_model["encoding"]["columns"][3]["levels"]
    assert len(levels) == 40
    header, *rows = group["rows"]
    assert len(rows) == 30
    shown = [r[0] for r in rows]
    assert shown == sorted(shown)  # level order
    assert min(abs(coef[levels.index(s)]) for s in shown) >= max(
        abs(coef[i]) for i, lv in enumerate(levels) if lv not in shown
    )
    assert any(n.startswith("\u2026 and 10 more level(s)") for n in group["notes"])
    assert {"shop00", "shop01", "shop02", "shop03"} <= set(shown)  # the real effects


def test_levels_are_escaped(categorical_report):
    assert EVIL_LEVEL not in categorical_report
    assert "<b>old</b>" not in categorical_report
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in categorical_report
    assert "lumped: &lt;b&gt;old&lt;/b&gt;, legacy" in categorical_report  # the title attribute
    text = "".join(parse(categorical_report).text)
    assert EVIL_LEVEL in text and "<b>old</b>" in text
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", categorical_report, flags=re.I)


def test_run_facts_count_columns_levels_and_imputation(categorical_report):
    text = "".join(parse(categorical_report).text)
    # region 5 levels, plan 3 + <other>, shop 40, flag 2
    assert (
        "6 source column(s): 2 numeric, 4 categorical with 51 level(s) in all "
        "(2 rare level(s) lumped into <other> in 1 column(s)); 2 imputed column(s), 1 with a missing indicator"
    ) in text


def test_report_of_a_model_record_with_an_encoding(categorical_model, categorical_report):
    from dreg.job.record import ModelRecord

    record = ModelRecord.from_json(categorical_model)
    assert record.encoding is not None
    document = render_report(record, metrics_of(categorical_model))
    # the record's JSON has the same encoding: the same grouped tables (its run facts gain null fields)
    assert features_section(document) == features_section(categorical_report)


def test_numeric_only_models_keep_one_row_per_feature(enet_model, enet_report):
    """No encoding, or one of plain numeric columns: the coefficient table is unchanged."""
    from dreg.core.design import Encoding

    section = features_section(enet_report)
    assert "<h3" not in section and "<th>feature</th>" in section
    assert "Columns" not in "".join(parse(enet_report).text).split("Features")[1].split("Alpha")[0]
    plain = json.loads(json.dumps(enet_model))
    plain["encoding"] = Encoding.numeric(enet_model["features"]).to_json()
    document = render_report(plain, metrics_of(plain))
    assert features_section(document) == section
    assert "8 source column(s): 8 numeric, 0 categorical; no imputed column" in document
    # nothing else changes but the facts line
    without_fact = re.sub(r"<tr><th>Columns</th><td>[^<]*</td></tr>\n", "", document)
    assert without_fact == enet_report


def test_malformed_encoding_falls_back_to_one_row_per_feature(enet_model, categorical_model):
    model = json.loads(json.dumps(categorical_model))
    model["encoding"]["columns"][0]["levels"].append("extra")  # one more level than coefficients
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    assert "Grouping the coefficients by column is not available" in document
    assert "<th>feature</th>" in features_section(document)
    model["encoding"] = {"columns": "garbage"}
    document = render_report(model, metrics_of(model))
    check_document(document, n_svg=4)
    assert "the encoding is malformed" in document


@pytest.mark.slow
def test_categorical_report_renders_in_headless_chromium(categorical_report, tmp_path):
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(categorical_report, encoding="utf-8")
    dumped = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.tags.get("script", 0) == 0
    assert set(groups_of(dumped.stdout)) == {"Numeric", "region", "plan", "shop", "flag"}
    assert EVIL_LEVEL in "".join(dom.text)
