"""A self-contained HTML report of a fitted model (a registry entry's ``model.json``).

:func:`render_report` turns the model dictionary and its metrics into one HTML
document with no external resource: the plots are inline SVG drawn by
matplotlib (imported lazily, so ``import dreg.job.report`` imports neither
matplotlib nor Dask), the style sheet is inline and a Content-Security-Policy
forbids scripts and remote loads.  Every string that comes from the model (feature
names, paths, configuration) is escaped.

The report is meant to be read, so it never fails on odd numbers: NaN and
infinite values are shown as such in tables and left out of plots, alphas
``<= 0`` are left out of the log-alpha axes, and a section whose data are
missing or inconsistent says so instead of failing the whole report.

Sections: run facts; the cross-validation curve (glmnet's ``plot.cv.glmnet``);
the coefficient path; training versus held-out error; how often each feature is
selected across folds; the table of selected features; the data files and the
configuration.

A model with categorical or imputed columns (``encoding`` in model.json) has
its coefficients grouped by source column instead of one row per feature: the
numeric columns in one table (coefficient, imputation value, coefficient of the
missing indicator), then each categorical column with a table of its levels
(rows and coefficient of each, lumped rare levels named).  A model without one
(or with an encoding that is only plain numeric columns) keeps one row per
feature.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dreg.core.design import ColumnEncoding, Encoding
from dreg.core.encode import OTHER_LEVEL
from dreg.job.record import MetricsRecord, ModelRecord

__all__ = ["render_report", "warm_up"]

FloatArray = NDArray[np.float64]

MAX_LABELLED_LINES = 10  # coefficient path: lines named in the legend
MAX_BARS = 40  # selection-frequency chart
MAX_TABLE_ROWS = 50  # selected-features table before the rest is folded away
MAX_FILES = 20  # fingerprint files listed
MAX_L1_LEGEND = 8  # more l1_ratios than this get a colour bar instead of legend entries
MAX_LABEL_CHARS = 40  # feature names are shortened in plots (never in tables)
MAX_LEVELS = 30  # levels listed per categorical column (the largest |coef|), the rest counted
MAX_LUMPED = 20  # lumped levels named per categorical column

# Fixed style: the report must not depend on the user's matplotlibrc.
_RC = {
    "svg.fonttype": "path",  # glyphs as paths: exact rendering without fonts
    "svg.hashsalt": "dreg-report",  # deterministic ids (prefixed per figure below)
    "text.parse_math": False,  # a feature named "$x$" or "$\\frac$" is text, not mathtext
    "font.size": 9.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
}
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; word-break: break-word; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ddd;
     padding-bottom: .2rem; }
.subtitle { color: #666; margin: 0 0 1rem; }
table { border-collapse: collapse; margin: .4rem 0; }
th, td { padding: .2rem .7rem; text-align: left; vertical-align: top;
         border-bottom: 1px solid #eee; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { font-weight: 600; color: #444; white-space: nowrap; }
td.name { word-break: break-all; max-width: 38rem; }
figure { margin: .4rem 0 0; }
figure svg { display: block; width: 100%; max-width: 960px; height: auto; }
figcaption, .note { color: #555; font-size: .92rem; margin: .3rem 0 .6rem; }
.unavailable { color: #a33; }
details { margin: .5rem 0; }
summary { cursor: pointer; color: #245; }
pre { background: #f4f4f4; padding: .6rem; overflow-x: auto; font-size: 12px; }
code { font-size: .92em; }
.zero { color: #888; }
.special { color: #555; }
h3 { font-size: 1.02rem; margin: 1.2rem 0 .2rem; word-break: break-word; }
h3 .kind { font-weight: normal; color: #555; font-size: .9rem; }
.bar { display: block; position: relative; width: 8rem; height: .7rem; margin-top: .25rem; }
.bar::before { content: ""; position: absolute; left: 50%; top: -.15rem; bottom: -.15rem;
               border-left: 1px solid #999; }
.bar span { position: absolute; top: 0; bottom: 0; }
.bar .pos { left: 50%; background: #4c7fb3; }
.bar .neg { right: 50%; background: #d9822b; }
"""

# Scripts and remote loads are forbidden even if something slipped through escaping.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class _Unavailable(ValueError):
    """The data a section needs are missing or inconsistent."""


# --------------------------------------------------------------------------- formatting
def _esc(value: object) -> str:
    """Escaped text of any value; ``None`` shows as a dash."""
    return "\u2014" if value is None else html.escape(str(value), quote=True)


def _to_float(value: object) -> float:
    """A float, NaN for None or anything not a number (never raises)."""
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _num(value: object, spec: str = ".4g") -> str:
    """Escaped number: integers with thousands separators, NaN/inf spelled out."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return _esc(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    x = _to_float(value)
    if math.isnan(x) and not (isinstance(value, float | np.floating) or _is_nan_text(value)):
        return _esc(value)  # not a number at all: show it as text
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("inf" if x > 0 else "\u2212inf")
    return format(x, spec)


def _is_nan_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() in {"nan", "+nan", "-nan"}


def _duration(seconds: object) -> str:
    s = _to_float(seconds)
    if not math.isfinite(s) or s < 0:
        return _num(seconds)
    if s < 60:
        return f"{s:.3g} s"
    minutes, sec = divmod(s, 60)
    if minutes < 60:
        return f"{int(minutes)} min {sec:.0f} s ({s:,.0f} s)"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min ({s:,.0f} s)"


def _short(name: str) -> str:
    """A feature name fit for a plot label: one line, at most MAX_LABEL_CHARS characters."""
    one_line = " ".join(name.split())
    if len(one_line) > MAX_LABEL_CHARS:
        return one_line[: MAX_LABEL_CHARS - 1] + "\u2026"
    return one_line


# --------------------------------------------------------------------------- data access
def _is_list(value: object) -> bool:
    """A JSON list (or, in memory, a tuple or numpy array)."""
    return isinstance(value, list | tuple | np.ndarray)


def _mapping(container: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = container.get(key)
    return value if isinstance(value, Mapping) else {}


def _array(container: Mapping[str, Any], key: str, ndim: int) -> FloatArray:
    """``container[key]`` as a float array of ``ndim`` dimensions (None becomes NaN)."""
    if key not in container or container[key] is None:
        raise _Unavailable(f"the model has no {key!r}")
    try:
        a = np.asarray(container[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _Unavailable(f"{key!r} is not a {ndim}-d array of numbers ({exc})") from None
    if a.ndim != ndim:
        raise _Unavailable(f"{key!r} has {a.ndim} dimension(s), expected {ndim}")
    return a


def _finite(a: FloatArray) -> FloatArray:
    """A copy with every non-finite value replaced by NaN (matplotlib leaves gaps)."""
    return np.where(np.isfinite(a), a, np.nan)


def _log(a: FloatArray) -> FloatArray:
    """Natural log of the positive finite entries, NaN elsewhere (no warnings)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a) & (a > 0)
    out[ok] = np.log(a[ok])
    return out


def _log1(value: float) -> float:
    return math.log(value) if math.isfinite(value) and value > 0 else math.nan


def _nanmean(a: FloatArray, axis: int) -> FloatArray:
    """Mean of the finite entries along ``axis``; NaN where there are none (no warnings)."""
    ok = np.isfinite(a)
    count = ok.sum(axis=axis)
    total = np.where(ok, a, 0.0).sum(axis=axis)
    out = np.full(count.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


@dataclass(frozen=True)
class _Model:
    """The parts of model.json the plots and tables share, validated."""

    features: list[str]
    coef: FloatArray  # (p,)
    alpha: float
    alpha_min: float
    alpha_1se: float
    selection: str


@dataclass(frozen=True)
class _Curves:
    """CV curves of every l1_ratio."""

    l1_ratios: FloatArray  # (L,)
    alphas: FloatArray  # (L, A)
    mse_mean: FloatArray  # (L, A): held-out mean error (MSE, or mean deviance for binomial/Poisson)
    mse_se: FloatArray  # (L, A)
    best: int
    measure: str = "mean squared error"  # or "mean deviance"


def _read_model(model: Mapping[str, Any]) -> _Model:
    coef = _array(model, "coef", 1)
    raw = model.get("features")
    if _is_list(raw):
        features = [str(f) for f in raw]
    else:
        features = [f"x{j}" for j in range(coef.size)]
    if len(features) != coef.size:
        raise _Unavailable(f"the model has {len(features)} feature names but {coef.size} coefficients")
    return _Model(
        features=features,
        coef=coef,
        alpha=_to_float(model.get("alpha")),
        alpha_min=_to_float(model.get("alpha_min")),
        alpha_1se=_to_float(model.get("alpha_1se")),
        selection=str(model.get("selection", "min")),
    )


def _best_index(path: Mapping[str, Any], n: int) -> int:
    value = path.get("best_l1_index", 0 if n == 1 else None)
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float):
        raise _Unavailable(f"best_l1_index is {value!r}, not an integer")
    if not float(value).is_integer() or not 0 <= value < n:
        raise _Unavailable(f"best_l1_index {value!r} is outside [0, {n})")
    return int(value)


def _read_curves(model: Mapping[str, Any]) -> _Curves:
    path = _mapping(model, "path")
    alphas = _array(path, "alphas", 2)
    L, A = alphas.shape
    l1_ratios = _array(path, "l1_ratios", 1)
    # binomial and Poisson models record held-out mean deviances (model.json format 3)
    key = "deviance" if "deviance_mean" in path else "mse"
    mean = _array(path, f"{key}_mean", 2)
    se = _array(path, f"{key}_se", 2)
    if l1_ratios.size != L or mean.shape != (L, A) or se.shape != (L, A):
        raise _Unavailable(
            f"inconsistent CV shapes: l1_ratios {l1_ratios.shape}, alphas {alphas.shape}, "
            f"{key}_mean {mean.shape}, {key}_se {se.shape}"
        )
    if A == 0:
        raise _Unavailable("the alpha grid is empty")
    se = np.where(np.isfinite(se) & (se >= 0), se, np.nan)
    measure = "mean deviance" if key == "deviance" else "mean squared error"
    return _Curves(l1_ratios, alphas, _finite(mean), se, _best_index(path, L), measure)


def _family(model: Mapping[str, Any]) -> str:
    family = model.get("family")
    return family if family in ("binomial", "poisson") else "gaussian"


def _coef_path(model: Mapping[str, Any], curves: _Curves, p: int) -> FloatArray:
    coef_path = _array(_mapping(model, "path"), "coef_path", 2)
    A = curves.alphas.shape[1]
    if coef_path.shape != (A, p):
        raise _Unavailable(f"coef_path has shape {coef_path.shape}, expected ({A}, {p})")
    return coef_path


def _selection_frequency(model: Mapping[str, Any], p: int) -> tuple[FloatArray, int]:
    """Fraction of folds whose coefficient is (finite and) nonzero, and the number of folds."""
    fold_coef = _array(model, "fold_coef", 2)
    K, q = fold_coef.shape
    if q != p or K == 0:
        raise _Unavailable(f"fold_coef has shape {fold_coef.shape}, expected (n_folds, {p})")
    chosen = np.isfinite(fold_coef) & (fold_coef != 0)
    return chosen.mean(axis=0), K


def _rank(coef: FloatArray) -> NDArray[np.intp]:
    """Feature indices by decreasing |coef|, non-finite last, ties by position."""
    size = np.where(np.isfinite(coef), np.abs(coef), -1.0)
    return np.argsort(-size, kind="stable")


# --------------------------------------------------------------------------- figures
class _Plotter:
    """Draws figures with a fixed style and returns them as inline SVG.

    matplotlib is imported here, never at module import.  The style is applied
    with ``rc_context`` for the duration of each figure (matplotlib's rcParams
    are process-global, so do not render reports from several threads at once).
    """

    def __init__(self) -> None:
        import matplotlib
        from matplotlib.figure import Figure

        self._mpl = matplotlib
        self._Figure = Figure
        self._count = 0

    def figure(self, draw, label: str, width: float = 8.6, height: float = 4.2) -> str:
        """Call ``draw(fig)`` on a new figure and return it as inline SVG."""
        mpl = self._mpl
        with mpl.rc_context():
            mpl.rcdefaults()
            mpl.rcParams.update(_RC)
            fig = self._Figure(figsize=(width, height), layout="constrained")
            draw(fig)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
        self._count += 1
        return _inline_svg(buf.getvalue(), f"dreg-fig{self._count}-", label)


def warm_up() -> None:
    """Import matplotlib and draw one tiny SVG figure, so that the first real
    report does not pay for them (about 1 s: the imports, the font manager, the
    SVG backend).  ``dreg fit`` calls it in a thread while the workers read the
    data and joins it before :func:`render_report`; errors are left for
    :func:`render_report` to report.
    """
    import sys

    before = set(sys.modules)
    try:
        _Plotter().figure(lambda fig: fig.add_subplot().plot([1.0, 2.0], [1.0, 2.0]), "warm-up", 1.0, 1.0)
    except Exception:  # noqa: BLE001 - only a warm-up: the real rendering reports its own errors
        from dreg._lazy import forget_failed_imports

        # a half-done import of matplotlib must not break the report's own import
        forget_failed_imports(before, ("matplotlib", "mpl_toolkits"))


_TAG = re.compile(r"<[^<>]+>")
_ID_ATTR = re.compile(r'(\sid=")([^"]*)"')
_ID_REF = re.compile(r'(href="#|url\(#)')


def _inline_svg(svg: str, prefix: str, label: str) -> str:
    """Strip the XML prolog, make ids unique in the page and label the image.

    matplotlib names groups ``figure_1``, ``axes_1``, ... in every file, so
    several inline SVGs would share ids; every id and every ``#id`` reference
    gets ``prefix``.  Only tags are rewritten: text is escaped by matplotlib,
    so ``<`` never appears in it.
    """
    svg = svg[svg.index("<svg") :]

    def fix(tag: re.Match[str]) -> str:
        t = _ID_ATTR.sub(lambda m: f'{m.group(1)}{prefix}{m.group(2)}"', tag.group(0))
        return _ID_REF.sub(lambda m: m.group(1) + prefix, t)

    svg = _TAG.sub(fix, svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_esc(label)}" ', 1).strip()


def _alpha_lines(ax, m: _Model, with_text: bool) -> None:
    """Dashed lines at alpha_min and alpha_1se (the chosen one darker), labelled."""
    lines = [("alpha_min", m.alpha_min, "min"), ("alpha_1se", m.alpha_1se, "1se")]
    same = math.isclose(m.alpha_min, m.alpha_1se) if math.isfinite(m.alpha_min) else False
    for name, value, rule in lines:
        x = _log1(value)
        if math.isnan(x) or (same and rule == "1se"):
            continue
        chosen = m.selection == rule or same
        label = "alpha_min = alpha_1se" if same else name
        ax.axvline(
            x,
            ls="--",
            lw=1.3 if chosen else 1.0,
            color="0.15" if chosen else "0.55",
            label=f"{label} = {value:.3g}{' (chosen)' if chosen else ''}",
        )
        if with_text:
            ax.text(
                x,
                0.98,
                f" {label} ",
                transform=ax.get_xaxis_transform(),
                rotation=90,
                ha="right" if rule == "min" else "left",
                va="top",
                fontsize=7.5,
                color="0.3",
            )


def _chosen_line(ax, m: _Model) -> None:
    x = _log1(m.alpha)
    if not math.isnan(x):
        ax.axvline(x, ls="--", lw=1.2, color="0.15", label=f"chosen alpha = {m.alpha:.3g} ({m.selection})")


def _draw_cv(fig, m: _Model, c: _Curves, coef_path: FloatArray | None) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    ax = fig.add_subplot()
    L = c.l1_ratios.size
    many = L > MAX_L1_LEGEND
    cmap = colormaps["viridis"]
    finite = c.l1_ratios[np.isfinite(c.l1_ratios)]
    norm = Normalize(*((float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)))
    for li in range(L):
        if li == c.best:
            continue
        lr = c.l1_ratios[li]
        ax.plot(
            _log(c.alphas[li]),
            c.mse_mean[li],
            lw=1.0,
            alpha=0.75,
            color=cmap(norm(lr)) if math.isfinite(lr) else "0.5",
            label=None if many else f"l1_ratio = {_num(lr, '.3g')}",
        )
    x = _log(c.alphas[c.best])
    lr = _num(c.l1_ratios[c.best], ".3g")
    chosen = ax.errorbar(
        x,
        c.mse_mean[c.best],
        yerr=c.mse_se[c.best],
        fmt="o",
        ms=3.5,
        color="tab:red",
        ecolor="0.55",
        elinewidth=0.9,
        capsize=2,
        zorder=3,
        label=f"l1_ratio = {lr} (chosen): mean \u00b1 1 SE" if L > 1 else "mean \u00b1 1 SE",
    )
    _alpha_lines(ax, m, with_text=True)
    if coef_path is not None:
        ok = np.flatnonzero(np.isfinite(x))
        if ok.size:
            picks = ok[:: -(-ok.size // 9)]  # at most 9 labels, evenly spaced on the grid
            counts = (np.isfinite(coef_path) & (coef_path != 0)).sum(axis=1)
            top = ax.secondary_xaxis("top")
            top.set_xticks(x[picks], labels=[str(int(counts[i])) for i in picks])
            top.set_xlabel("nonzero coefficients (all-data fit)")
    if many:
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="l1_ratio (other curves)")
        bar.solids.set_rasterized(False)  # matplotlib would embed a PNG; keep the SVG pure vector
        bar.solids.set_edgecolor("face")  # no seams between the colour cells
    ax.set_xlabel("log(alpha)")
    ax.set_ylabel(f"held-out {c.measure}")
    handles, labels = ax.get_legend_handles_labels()
    first = [i for i, h in enumerate(handles) if h is chosen]
    order = first + [i for i in range(len(handles)) if i not in first]
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside right upper")


# tab10 without its grey (the unlabelled lines are grey)
_LINE_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "navy",
)


def _draw_path(fig, m: _Model, c: _Curves, coef_path: FloatArray) -> tuple[list[int], int]:
    ax = fig.add_subplot()
    x = _log(c.alphas[c.best])
    C = _finite(coef_path)
    size_path = np.abs(np.nan_to_num(C, nan=0.0)).max(axis=0, initial=0.0)
    moves = size_path > 0
    size_now = np.where(np.isfinite(m.coef), np.abs(m.coef), -1.0)
    # by |coef| at the chosen alpha, then by the largest |coef| along the path
    order = np.lexsort((-size_path, -size_now))
    labelled = [int(j) for j in order if moves[j]][:MAX_LABELLED_LINES]
    named = set(labelled)
    rest = [j for j in range(C.shape[1]) if moves[j] and j not in named]
    if rest:
        # one collection, not a line per feature: SVG output is the same kind of
        # paths, and matplotlib's per-artist cost stays flat in the number of features
        from matplotlib.collections import LineCollection

        segs = [np.column_stack([x, C[:, j]]) for j in rest]
        ax.add_collection(LineCollection(segs, colors="0.65", linewidths=0.6, alpha=0.7, zorder=1))
        ax.autoscale_view()
    for j, color in zip(labelled, _LINE_COLORS, strict=False):
        ax.plot(x, C[:, j], lw=1.5, color=color, zorder=2, label=_short(m.features[j]))
    ax.axhline(0.0, color="0.3", lw=0.6, zorder=1)
    _chosen_line(ax, m)
    ax.set_xlabel("log(alpha)")
    ax.set_ylabel("coefficient (original scale)")
    if labelled or not math.isnan(_log1(m.alpha)):
        title = "largest |coef| at chosen alpha" if labelled else None
        fig.legend(loc="outside right upper", title=title)
    return labelled, len(rest)


def _draw_gap(
    fig, m: _Model, x: FloatArray, train: FloatArray, held: FloatArray, labels: tuple[str, str, str]
) -> None:
    ax = fig.add_subplot()
    ax.plot(x, train, "-", color="tab:blue", lw=1.5, label=labels[0])
    ax.plot(x, held, "-", color="tab:red", lw=1.5, label=labels[1])
    ok = np.isfinite(x) & np.isfinite(train) & np.isfinite(held)
    if ok.any():
        ax.fill_between(
            np.where(ok, x, 0.0),
            np.where(ok, train, 0.0),
            np.where(ok, held, 0.0),
            where=ok,
            color="tab:orange",
            alpha=0.18,
            lw=0,
            label="generalization gap",
        )
    _chosen_line(ax, m)
    ax.set_xlabel("log(alpha)")
    ax.set_ylabel(labels[2])
    fig.legend(loc="outside right upper")


def _draw_calibration(fig, bins: FloatArray) -> None:
    """Observed positive rate against mean predicted probability per bin; marker area ~ weight."""
    ax = fig.add_subplot()
    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", lw=1.0, color="0.45", label="perfect calibration")
    w = bins[:, 2]
    size = 12.0 + 140.0 * w / w.max() if w.size and w.max() > 0 else np.full(w.size, 20.0)
    ax.plot(bins[:, 0], bins[:, 1], "-", lw=1.0, color="tab:blue", alpha=0.6, zorder=2)
    ax.scatter(bins[:, 0], bins[:, 1], s=size, color="tab:blue", zorder=3, label="held-out bins (area: weight)")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("mean predicted probability (fold model, held-out rows)")
    ax.set_ylabel("observed rate of the second class")
    fig.legend(loc="outside right upper")


def _draw_frequency(fig, m: _Model, freq: FloatArray, K: int, shown: list[int]) -> None:
    from matplotlib.patches import Patch

    ax = fig.add_subplot()
    in_model = np.isfinite(m.coef) & (m.coef != 0)
    colors = ["tab:blue" if in_model[j] else "tab:orange" for j in shown]
    pos = np.arange(len(shown))
    ax.barh(pos, freq[shown], color=colors, height=0.7)
    ax.set_yticks(pos, labels=[_short(m.features[j]) for j in shown])
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"fraction of the {K} folds with a nonzero coefficient at the chosen alpha")
    handles = [
        Patch(color="tab:blue", label="nonzero in the final model"),
        Patch(color="tab:orange", label="zero in the final model"),
    ]
    fig.legend(handles=handles, loc="outside right upper")


# --------------------------------------------------------------------------- sections
def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_esc(title)}</h2>\n{body}\n</section>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>"


def _unavailable(what: str, exc: _Unavailable) -> str:
    return f'<p class="note unavailable">{_esc(what)} is not available: {_esc(exc)}.</p>'


def _facts(model: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    rows = _mapping(model, "rows")
    data = _mapping(model, "data")
    run = _mapping(model, "run")
    cluster = _mapping(run, "cluster")
    versions = _mapping(model, "versions")
    try:
        coef = _array(model, "coef", 1)
        p: int | None = coef.size
        n_nonzero: int | None = int(np.sum(coef != 0))
    except _Unavailable:
        p = n_nonzero = None

    def metric(key: str, fallback: object = None) -> object:
        return metrics.get(key, fallback)

    cluster_text = (
        ", ".join(
            part
            for part in (
                _esc(cluster.get("kind")) if cluster.get("kind") is not None else "",
                f"{_num(cluster.get('workers'))} worker(s)" if cluster.get("workers") is not None else "",
                f"at <code>{_esc(cluster.get('address'))}</code>" if cluster.get("address") else "",
                f"dashboard <code>{_esc(cluster.get('dashboard'))}</code>" if cluster.get("dashboard") else "",
            )
            if part
        )
        or "\u2014"
    )
    K = model.get("n_folds")
    if _family(model) == "gaussian":
        cv_text = (
            f"MSE {_num(metric('cv_mse'))} \u00b1 {_num(metric('cv_mse_se'))} "
            f"(1 SE, {_num(K)} folds); training MSE {_num(metric('train_mse'))}"
        )
    else:
        cv_text = (
            f"mean deviance {_num(metric('cv_deviance'))} \u00b1 {_num(metric('cv_deviance_se'))} "
            f"(1 SE, {_num(K)} folds)"
            + (f"; AUC {_num(metric('cv_auc'), '.4f')}" if metric("cv_auc") is not None else "")
            + f"; {_num(metric('n_passes', model.get('n_passes')))} passes over the data"
            + (f" ({_esc(metric('passes_mode'))})" if metric("passes_mode") else "")
        )
    facts = [
        ("Model", f"{_esc(model.get('name'))} version {_esc(model.get('version'))}"),
        ("Created", _esc(model.get("created"))),
        ("Estimator", f"{_esc(model.get('estimator'))} (penalty: {_esc(model.get('penalty'))})"),
        ("Target", f"<code>{_esc(model.get('target'))}</code>"),
        ("Features", _num(p)),
        *([("Columns", _columns_fact(model))] if model.get("encoding") is not None else []),
        (
            "Alpha",
            f"{_num(model.get('alpha'))} (selection rule: {_esc(model.get('selection'))}; "
            f"alpha_min {_num(model.get('alpha_min'))}, alpha_1se {_num(model.get('alpha_1se'))})",
        ),
        ("l1_ratio", _num(model.get("l1_ratio"), ".3g")),
        ("Family", _esc(_family(model))),
        ("CV error", cv_text),
        ("Nonzero coefficients", f"{_num(metric('n_nonzero', n_nonzero))} of {_num(p)}"),
        ("Intercept", _num(model.get("intercept"), ".6g")),
        ("Rows used", _num(metric("rows", rows.get("used")))),
        ("Rows dropped", _num(metric("rows_dropped", rows.get("dropped")))),
        ("Weight sum", _num(rows.get("weight_sum"), ".6g")),
        (
            "Files",
            f"{_num(metric('files', data.get('files')))} (scanned: {_num(metric('files_scanned'))})",
        ),
        (
            "Time",
            f"{_duration(metric('seconds', run.get('seconds')))} "
            f"(started {_esc(run.get('started'))}, finished {_esc(run.get('finished'))})",
        ),
        ("Cluster", cluster_text),
        ("Data path", f"<code>{_esc(data.get('path'))}</code>"),
        ("dreg version", _esc(versions.get("dreg"))),
    ]
    body = "\n".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return f'<table class="facts">\n{body}\n</table>'


def _columns_fact(model: Mapping[str, Any]) -> str:
    """The run fact about the model's source columns (categorical levels, imputation)."""
    raw = model.get("features")
    features = [str(f) for f in raw] if _is_list(raw) else []
    try:
        enc = _read_encoding(model, features)
    except _Unavailable as exc:
        return f'<span class="unavailable">{_esc(exc)}</span>'
    return "\u2014" if enc is None else _encoding_summary(enc)


def _cv_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
        c = _read_curves(model)
    except _Unavailable as exc:
        return _unavailable("The cross-validation curve", exc)
    try:
        coef_path = _coef_path(model, c, m.coef.size)
    except _Unavailable:
        coef_path = None
    svg = plot.figure(lambda fig: _draw_cv(fig, m, c, coef_path), "Cross-validation curve")
    L = c.l1_ratios.size
    others = (
        f" Lines without error bars are the other {L - 1} l1_ratio(s) cross-validated; "
        "the chosen one has the smallest mean error."
        if L > 1
        else ""
    )
    top = " The top axis counts the nonzero coefficients of the all-data fit." if coef_path is not None else ""
    caption = (
        f"Mean held-out {c.measure} over the folds (points) with one standard error (bars), "
        f"along the alpha grid of the chosen l1_ratio = {_num(c.l1_ratios[c.best], '.3g')}; "
        "regularization grows to the right. Dashed lines: alpha_min, the smallest mean error, and "
        "alpha_1se, the largest alpha within one standard error of it (glmnet's lambda.1se)."
        f"{others}{top}{_skipped_note(c.alphas[c.best])}"
    )
    return _figure(svg, caption)


def _skipped_note(alphas: FloatArray) -> str:
    bad = int(np.sum(~(np.isfinite(alphas) & (alphas > 0))))
    return f" {bad} alpha(s) that are zero, negative or not finite are not shown on the log scale." if bad else ""


def _path_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
        c = _read_curves(model)
        coef_path = _coef_path(model, c, m.coef.size)
    except _Unavailable as exc:
        return _unavailable("The coefficient path", exc)
    drawn: list[tuple[list[int], int]] = []
    svg = plot.figure(lambda fig: drawn.append(_draw_path(fig, m, c, coef_path)), "Coefficient path")
    ((labelled, grey),) = drawn
    flat = m.coef.size - len(labelled) - grey
    caption = (
        "Coefficients of the model fitted on all rows along the alpha grid of the chosen l1_ratio: "
        "as alpha decreases (to the left) features enter the model and their coefficients grow. "
        + (
            f"The {len(labelled)} largest at the chosen alpha (dashed line) are named"
            + (f"; {grey:,} other feature(s) are drawn in grey" if grey else "")
            + "."
            if labelled
            else ""
        )
        + (f" {flat:,} feature(s) stay at zero along the whole path." if flat else "")
        + _skipped_note(c.alphas[c.best])
    )
    return _figure(svg, caption)


def _gap_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
        c = _read_curves(model)
        path = _mapping(model, "path")
        L, A = c.alphas.shape
        if c.measure == "mean deviance":
            # binomial/Poisson: the all-data fit's training deviance against the held-out mean
            train = _array(path, "train_deviance", 2)
            if train.shape != (L, A):
                raise _Unavailable(f"train_deviance {train.shape} does not match alphas ({L}, {A})")
            train_mean, held_mean = _finite(train[c.best]), c.mse_mean[c.best]
            labels = (
                "training deviance (all-data fit)",
                "held-out deviance (mean over folds)",
                "mean deviance",
            )
        else:
            held = _array(path, "mse_path", 3)
            train = _array(path, "train_mse_path", 3)
            if held.shape[:2] != (L, A) or train.shape != held.shape:
                raise _Unavailable(
                    f"mse_path {held.shape} and train_mse_path {train.shape} do not match alphas ({L}, {A})"
                )
            train_mean = _nanmean(train[c.best], axis=1)
            held_mean = _nanmean(held[c.best], axis=1)
            labels = ("training MSE (mean over folds)", "held-out MSE (mean over folds)", "mean squared error")
    except _Unavailable as exc:
        return _unavailable("Training versus held-out error", exc)
    x = _log(c.alphas[c.best])
    svg = plot.figure(lambda fig: _draw_gap(fig, m, x, train_mean, held_mean, labels), "Training vs held-out error")
    what = (
        "The training mean deviance of the model fitted on all rows and the mean over folds of "
        "each fold model's held-out mean deviance"
        if c.measure == "mean deviance"
        else "Mean over folds of each fold model's training error and its held-out error"
    )
    caption = (
        f"{what}, for the chosen l1_ratio. As regularization weakens (to the left) the training "
        "error keeps falling, while the held-out error stops falling, or rises, once the model "
        "starts to fit noise: the shaded gap is the overfitting that regularization controls. "
        "The dashed line is the alpha the model uses." + _skipped_note(c.alphas[c.best])
    )
    return _figure(svg, caption)


def _draw_auc(fig, m: _Model, x: FloatArray, mean: FloatArray, se: FloatArray) -> None:
    ax = fig.add_subplot()
    ax.errorbar(
        x, mean, yerr=se, fmt="o", ms=3.0, color="tab:green", ecolor="0.55", elinewidth=0.9, capsize=2,
        label="held-out AUC: mean \u00b1 1 SE",
    )
    _chosen_line(ax, m)
    ax.set_xlabel("log(alpha)")
    ax.set_ylabel("held-out AUC")
    fig.legend(loc="outside right upper")


def _auc_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
        c = _read_curves(model)
        auc = _array(_mapping(model, "path"), "auc_path", 3)
        L, A = c.alphas.shape
        if auc.shape[:2] != (L, A) or auc.shape[2] == 0:
            raise _Unavailable(f"auc_path {auc.shape} does not match alphas ({L}, {A})")
    except _Unavailable as exc:
        return _unavailable("The AUC curve", exc)
    a = _finite(auc[c.best])
    K = a.shape[1]
    mean = _nanmean(a, axis=1)
    sd = np.array([np.nanstd(r, ddof=1) if np.sum(np.isfinite(r)) > 1 else np.nan for r in a])
    se = sd / np.sqrt(K)
    x = _log(c.alphas[c.best])
    svg = plot.figure(lambda fig: _draw_auc(fig, m, x, mean, se), "Held-out AUC")
    caption = (
        f"Area under the ROC curve of each fold model on its held-out rows, mean over the {K} folds "
        "with one standard error, along the alpha grid of the chosen l1_ratio. The alpha is chosen "
        f"by {_esc(_mapping(model, 'params').get('scoring', 'deviance'))}; the dashed line marks it."
        + _skipped_note(c.alphas[c.best])
    )
    return _figure(svg, caption)


def _calibration_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    raw = model.get("calibration")
    if not _is_list(raw) or not raw:
        return _unavailable("The calibration plot", _Unavailable("the model records no calibration bins"))
    try:
        bins = np.array(
            [[_to_float(b.get(k)) for k in ("predicted", "observed", "weight")] for b in raw if isinstance(b, Mapping)],
            dtype=np.float64,
        ).reshape(-1, 3)
    except (TypeError, ValueError) as exc:
        return _unavailable("The calibration plot", _Unavailable(str(exc)))
    ok = np.all(np.isfinite(bins), axis=1) & (bins[:, 2] > 0)
    ok &= (bins[:, 0] >= 0) & (bins[:, 0] <= 1) & (bins[:, 1] >= 0) & (bins[:, 1] <= 1)
    bins = bins[ok]
    if bins.shape[0] == 0:
        return _unavailable("The calibration plot", _Unavailable("no calibration bin is well formed"))
    svg = plot.figure(lambda fig: _draw_calibration(fig, bins), "Calibration", width=7.2, height=5.2)
    total = float(bins[:, 2].sum())
    worst = float(np.max(np.abs(bins[:, 0] - bins[:, 1])))
    ece = float(np.abs(bins[:, 0] - bins[:, 1]) @ bins[:, 2] / total)
    classes = model.get("classes")
    second = f" (<code>{_esc(classes[1])}</code>)" if _is_list(classes) and len(classes) == 2 else ""
    caption = (
        f"Held-out calibration at the chosen alpha: every row scored by the model of the fold "
        f"that did not train on it, grouped in {bins.shape[0]} bins of predicted probability of "
        f"the second class{second}. Points on the diagonal are calibrated. Weighted mean "
        f"|predicted − observed| {_num(ece, '.3g')}, largest {_num(worst, '.3g')}, "
        f"over a total weight of {_num(total, '.6g')}."
    )
    return _figure(svg, caption)


def _frequency_section(plot: _Plotter, model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
        freq, K = _selection_frequency(model, m.coef.size)
    except _Unavailable as exc:
        return _unavailable("The selection frequency", exc)
    p = m.coef.size
    always = int(np.sum(freq == 1.0))
    never = int(np.sum(freq == 0.0))
    some = p - always - never
    summary = (
        f"Of {p:,} feature(s), {always:,} are selected in all {K} folds, "
        f"{some:,} in some but not all (unstable) and {never:,} in none."
    )
    in_model = np.isfinite(m.coef) & (m.coef != 0)
    candidates = np.flatnonzero((freq > 0) | in_model)
    if candidates.size == 0:
        return f'<p class="note">No feature is selected in any fold at the chosen alpha. {summary}</p>'
    size = np.where(np.isfinite(m.coef), np.abs(m.coef), -1.0)
    order = candidates[np.lexsort((-size[candidates], -freq[candidates]))]
    shown = [int(j) for j in order[:MAX_BARS]]
    height = 1.3 + 0.2 * len(shown)
    svg = plot.figure(lambda fig: _draw_frequency(fig, m, freq, K, shown), "Selection frequency", height=height)
    more = (
        f" Showing the {len(shown)} most frequently selected of {candidates.size:,}."
        if candidates.size > len(shown)
        else ""
    )
    caption = (
        "For each feature, the fraction of cross-validation folds whose model has a nonzero "
        "coefficient at the chosen alpha. Features selected in only some folds are unstable: "
        "the lasso picks one of a group of correlated features more or less at random, so which "
        f"one wins changes between folds. {summary}{more}"
    )
    return _figure(svg, caption)


def _feature_sds(model: Mapping[str, Any], features: list[str]) -> FloatArray | None:
    """Each feature's SD from the model's ``baseline`` (``None`` when it records none)."""
    base = model.get("baseline")
    feats = base.get("features") if isinstance(base, Mapping) else None
    if not isinstance(feats, Mapping):
        return None
    try:
        return np.array([float(feats[f]["sd"]) for f in features])
    except (KeyError, TypeError, ValueError):
        return None


def _table_section(model: Mapping[str, Any]) -> str:
    try:
        m = _read_model(model)
    except _Unavailable as exc:
        return _unavailable("The coefficient table", exc)
    try:
        freq, K = _selection_frequency(model, m.coef.size)
    except _Unavailable:
        freq, K = None, 0
    p = m.coef.size
    sd = _feature_sds(model, m.features)
    nonzero = ~(m.coef == 0)  # NaN coefficients are listed (they are not known to be zero)
    n_zero = int(p - nonzero.sum())
    zero_note = f"<p>{n_zero:,} of {p:,} coefficient(s) are exactly zero.</p>"
    order = [int(j) for j in _rank(m.coef) if nonzero[j]]
    if not order:
        return (
            '<p class="note">No feature has a nonzero coefficient: the model predicts the '
            f"intercept ({_num(model.get('intercept'), '.6g')}) for every row.</p>\n{zero_note}"
        )

    def rows(indices: list[int], start: int) -> str:
        out = []
        for rank, j in enumerate(indices, start):
            f = "\u2014" if freq is None else f"{int(round(freq[j] * K))}/{K} ({freq[j]:.0%})"
            per_sd = "" if sd is None else f'<td class="num">{_num(m.coef[j] * sd[j], ".6g")}</td>'
            out.append(
                f'<tr><td class="num">{rank}</td><td class="name">{_esc(m.features[j])}</td>'
                f'<td class="num">{_num(m.coef[j], ".6g")}</td>{per_sd}<td class="num">{f}</td></tr>'
            )
        return "\n".join(out)

    head = (
        '<tr><th class="num">#</th><th>feature</th><th class="num">coefficient</th>'
        + ("" if sd is None else '<th class="num">per SD of the feature</th>')
        + '<th class="num">selected in folds</th></tr>'
    )
    top, rest = order[:MAX_TABLE_ROWS], order[MAX_TABLE_ROWS:]
    parts = [
        f"<p>{len(order):,} feature(s) with a nonzero coefficient, by decreasing |coefficient| "
        "(original scale)."
        + ("" if sd is None else " <em>Per SD</em>: the coefficient times the feature's weighted SD in the "
           "training data (the change of the prediction for one SD of the feature).")
        + " The last column is the fraction of folds that select the feature.</p>",
        zero_note,
        f"<table>\n<thead>{head}</thead>\n<tbody>\n{rows(top, 1)}\n</tbody>\n</table>",
    ]
    if rest:
        parts.append(
            f'<p class="note">\u2026 and {len(rest):,} more nonzero coefficient(s).</p>\n'
            f"<details><summary>Show the other {len(rest):,}</summary>\n"
            f"<table>\n<thead>{head}</thead>\n"
            f"<tbody>\n{rows(rest, MAX_TABLE_ROWS + 1)}\n</tbody>\n</table>\n"
            "</details>"
        )
    return "\n".join(parts)


# --------------------------------------------------------------------------- coefficients by column
def _read_encoding(model: Mapping[str, Any], features: list[str]) -> Encoding | None:
    """The model's ``encoding`` checked against its features; None when it records none."""
    raw = model.get("encoding")
    if raw is None:
        return None
    if isinstance(raw, Encoding):
        enc = raw
    elif not isinstance(raw, Mapping):
        raise _Unavailable(f"the encoding is a {type(raw).__name__}, not an object")
    else:
        try:
            enc = Encoding.from_json(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _Unavailable(f"the encoding is malformed ({type(exc).__name__}: {exc})") from None
    try:
        names = enc.feature_names
    except (TypeError, ValueError, AttributeError) as exc:
        raise _Unavailable(f"the encoding is malformed ({type(exc).__name__}: {exc})") from None
    if names != features:
        raise _Unavailable(
            f"the encoding describes {len(names):,} feature(s) that are not the model's {len(features):,}"
        )
    return enc


def _level_html(level: object) -> str:
    """A level as table text: the null and other levels in italics, data levels escaped."""
    if level is None:
        return '<em class="special">&lt;null&gt;</em>'
    if level is OTHER_LEVEL:
        return '<em class="special">&lt;other&gt;</em>'
    return _esc(level)


def _level_text(level: object) -> str:
    return "<null>" if level is None else ("<other>" if level is OTHER_LEVEL else str(level))


def _coef_cell(value: float, spec: str = ".6g") -> str:
    """A coefficient cell; an exact zero (dropped by the L1 penalty) is shown apart."""
    if value == 0:
        return '<td class="num zero" title="exactly zero: dropped by the L1 penalty">0 (dropped)</td>'
    return f'<td class="num">{_num(value, spec)}</td>'


def _bar(value: float, scale: float) -> str:
    """A small horizontal bar, right of the axis for a positive value, left for a negative one."""
    if not (math.isfinite(value) and value != 0 and math.isfinite(scale) and scale > 0):
        return '<td><span class="bar" aria-hidden="true"></span></td>'
    width = 50.0 * min(abs(value) / scale, 1.0)
    side = "pos" if value > 0 else "neg"
    return (
        f'<td><span class="bar" aria-hidden="true"><span class="{side}" style="width:{width:.1f}%"></span></span></td>'
    )


def _folds_text(freq: FloatArray | None, K: int, j: int) -> str:
    return "\u2014" if freq is None else f"{int(round(freq[j] * K))}/{K}"


def _encoding_summary(enc: Encoding) -> str:
    """One line: numeric and categorical columns, levels, lumping, imputation."""
    cats = [c for c in enc.columns if c.kind == "categorical"]
    nums = [c for c in enc.columns if c.kind != "categorical"]
    imputed = [c for c in nums if c.impute is not None]
    n_levels = sum(len(c.levels) for c in cats)
    n_lumped = sum(len(c.lumped) for c in cats)
    parts = [f"{len(enc.columns):,} source column(s): {len(nums):,} numeric, {len(cats):,} categorical"]
    if cats:
        parts[0] += f" with {n_levels:,} level(s) in all"
        if n_lumped:
            n_other = sum(1 for c in cats if c.lumped)
            parts[0] += f" ({n_lumped:,} rare level(s) lumped into &lt;other&gt; in {n_other:,} column(s))"
    if imputed:
        with_ind = sum(1 for c in imputed if c.indicator)
        parts.append(f"{len(imputed):,} imputed column(s), {with_ind:,} with a missing indicator")
    else:
        parts.append("no imputed column")
    return "; ".join(parts)


def _numeric_rows(
    enc: Encoding, m: _Model, sd: FloatArray | None, freq: FloatArray | None, K: int
) -> tuple[list[str], int]:
    """Rows of the numeric-column table, by decreasing |coefficient|, and how many columns are imputed."""
    items = [(c, sl) for c, sl in zip(enc.columns, enc.slices(), strict=True) if c.kind != "categorical"]
    order = _rank(np.array([m.coef[sl.start] for _, sl in items], dtype=np.float64))
    out = []
    for i in order:
        c, sl = items[int(i)]
        j = sl.start
        per_sd = "" if sd is None else f'<td class="num">{_num(m.coef[j] * sd[j], ".6g")}</td>'
        if c.impute is None:
            impute = "<td>\u2014</td>"
        else:
            rule = c.impute_rule if isinstance(c.impute_rule, str) else "value"
            impute = f'<td class="num">{_num(c.impute, ".8g")} ({_esc(rule)})</td>'
        if c.indicator:
            indicator = _coef_cell(m.coef[j + 1])
        elif c.impute is not None:
            indicator = '<td class="note">no indicator</td>'
        else:
            indicator = "<td>\u2014</td>"
        out.append(
            f'<tr><td class="name">{_esc(c.name)}</td>{_coef_cell(m.coef[j])}{per_sd}'
            f'<td class="num">{_folds_text(freq, K, j)}</td>{impute}{indicator}</tr>'
        )
    return out, sum(1 for c, _ in items if c.impute is not None)


def _categorical_group(
    c: ColumnEncoding, sl: slice, m: _Model, freq: FloatArray | None, K: int, min_count: object
) -> str:
    """One categorical column: a heading and the table of its levels in level order."""
    coef = m.coef[sl]
    L = len(c.levels)
    counts: list[int] | None = list(c.counts) if len(c.counts) == L else None
    total = float(sum(counts)) if counts else 0.0
    nonzero = int(np.sum(coef != 0))
    finite = coef[np.isfinite(coef)]
    scale = float(np.max(np.abs(finite))) if finite.size else math.nan
    shown = sorted(int(i) for i in _rank(coef)[:MAX_LEVELS])
    listed_levels = set(shown)
    hidden = [i for i in range(L) if i not in listed_levels]
    head = (
        f'<h3><code>{_esc(c.name)}</code> <span class="kind">categorical: {L:,} level(s), '
        f"{nonzero:,} nonzero"
        + (f", {int(total):,} rows" if counts else "")
        + (
            f", coefficients from {_num(float(finite.min()), '.4g')} to {_num(float(finite.max()), '.4g')}"
            if finite.size
            else ""
        )
        + "</span></h3>"
    )
    n_lumped = len(c.lumped)
    lumped = [_level_text(lv) for lv in c.lumped[:MAX_LUMPED]]
    rows = []
    for i in shown:
        level = c.levels[i]
        title = ""
        if level is OTHER_LEVEL and lumped:
            listed = ", ".join(lumped) + (
                f", \u2026 and {n_lumped - MAX_LUMPED:,} more" if n_lumped > MAX_LUMPED else ""
            )
            title = f' title="{_esc("lumped: " + listed)}"'
        n = counts[i] if counts else None
        share = f"{n / total:.1%}" if counts and total > 0 else "\u2014"
        rows.append(
            f'<tr><td class="name"{title}>{_level_html(level)}</td><td class="num">{_num(n)}</td>'
            f'<td class="num">{share}</td>{_coef_cell(coef[i])}{_bar(coef[i], scale)}'
            f'<td class="num">{_folds_text(freq, K, sl.start + i)}</td></tr>'
        )
    table = (
        '<table>\n<thead><tr><th>level</th><th class="num">rows</th><th class="num">share</th>'
        '<th class="num">coefficient</th><th></th><th class="num">selected in folds</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    notes = []
    if hidden:
        h_nonzero = int(np.sum(coef[hidden] != 0))
        h_rows = f", {sum(counts[i] for i in hidden):,} rows" if counts else ""
        notes.append(
            f'<p class="note">\u2026 and {len(hidden):,} more level(s) with a smaller |coefficient| '
            f"({h_nonzero:,} nonzero{h_rows}) not listed: the {len(shown)} with the largest "
            "|coefficient| are shown, in level order.</p>"
        )
    if n_lumped:
        listed = ", ".join(f"<code>{_esc(x)}</code>" for x in lumped)
        more = f", \u2026 and {n_lumped - MAX_LUMPED:,} more" if n_lumped > MAX_LUMPED else ""
        notes.append(
            f'<p class="note"><em class="special">&lt;other&gt;</em>: {n_lumped:,} level(s) with fewer '
            f"than {_num(min_count, 'g')} rows each (<code>data.min_level_count</code>), lumped into one: "
            f"{listed}{more}.</p>"
        )
    return "\n".join([head, table, *notes])


def _grouped_section(model: Mapping[str, Any], m: _Model, enc: Encoding) -> str:
    try:
        freq, K = _selection_frequency(model, m.coef.size)
    except _Unavailable:
        freq, K = None, 0
    p = m.coef.size
    sd = _feature_sds(model, m.features)
    n_zero = int(np.sum(m.coef == 0))
    cats = [(c, sl) for c, sl in zip(enc.columns, enc.slices(), strict=True) if c.kind == "categorical"]
    parts = [
        f"<p>The model's {p:,} coefficient(s), grouped by source column (original scale). A categorical column has a coefficient for every level (no reference "
        "level: the intercept is not penalized), added to the prediction of the rows at that level; "
        "compare the levels of a column with each other. <em>&lt;null&gt;</em> is the level of the "
        "rows where the column is null, <em>&lt;other&gt;</em> the rare levels lumped together.</p>",
        f'<p>{n_zero:,} of {p:,} coefficient(s) are exactly zero, shown as <span class="zero">0 (dropped)</span>.</p>',
    ]
    num_rows, n_imputed = _numeric_rows(enc, m, sd, freq, K)
    if num_rows:
        head = (
            '<tr><th>column</th><th class="num">coefficient</th>'
            + ("" if sd is None else '<th class="num">per SD</th>')
            + '<th class="num">selected in folds</th><th class="num">missing values imputed with</th>'
            '<th class="num">coefficient of the missing indicator</th></tr>'
        )
        top, rest = num_rows[:MAX_TABLE_ROWS], num_rows[MAX_TABLE_ROWS:]
        parts.append(
            f'<h3>Numeric columns <span class="kind">{len(num_rows):,}, by decreasing |coefficient|'
            + (f"; {n_imputed:,} imputed" if n_imputed else "")
            + "</span></h3>"
        )
        if n_imputed:
            parts.append(
                '<p class="note">A missing value of an imputed column is replaced by its imputation '
                "value; with a missing indicator (the feature <code>column=&lt;null&gt;</code>, added "
                "when the column had missing values in the fit) its coefficient is added too."
                + ("" if sd is None else " <em>Per SD</em>: the coefficient times the column's SD.")
                + "</p>"
            )
        parts.append(f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(top) + "\n</tbody>\n</table>")
        if rest:
            parts.append(
                f"<details><summary>Show the other {len(rest):,} numeric column(s)</summary>\n"
                f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(rest) + "\n</tbody>\n</table>\n</details>"
            )
    for c, sl in cats:
        parts.append(_categorical_group(c, sl, m, freq, K, enc.min_level_count))
    return "\n".join(parts)


def _coefficients_section(model: Mapping[str, Any]) -> str:
    """Coefficients grouped by source column when the model encodes any; else one row per feature."""
    try:
        m = _read_model(model)
    except _Unavailable:
        return _table_section(model)  # which says what is missing
    try:
        enc = _read_encoding(model, m.features)
    except _Unavailable as exc:
        return _unavailable("Grouping the coefficients by column", exc) + "\n" + _table_section(model)
    if enc is None or enc.plain:
        return _table_section(model)
    return _grouped_section(model, m, enc)


def _files_section(model: Mapping[str, Any]) -> str:
    data = _mapping(model, "data")
    raw = data.get("fingerprint")
    files = [f for f in raw if isinstance(f, Mapping)] if _is_list(raw) else []
    intro = f"<p>Data path <code>{_esc(data.get('path'))}</code>: {_num(data.get('files'))} file(s).</p>"
    if not files:
        return intro + '\n<p class="note">The model records no file fingerprint.</p>'
    with_rows = any("rows" in f for f in files)  # the pipeline also records rows per file
    body = "\n".join(
        f'<tr><td class="name">{_esc(f.get("path"))}</td><td class="num">{_num(f.get("size"))}</td>'
        + (f'<td class="num">{_num(f.get("rows"))}</td>' if with_rows else "")
        + f"<td>{_esc(f.get('mtime'))}</td><td>{_esc(f.get('etag'))}</td></tr>"
        for f in files[:MAX_FILES]
    )
    more = f'<p class="note">\u2026 and {len(files) - MAX_FILES:,} more.</p>' if len(files) > MAX_FILES else ""
    shown = min(len(files), MAX_FILES)
    return (
        f"{intro}\n<details><summary>Fingerprint: {len(files):,} file(s)"
        f"{f' (first {shown} listed)' if len(files) > shown else ''}</summary>\n"
        '<table>\n<thead><tr><th>path</th><th class="num">bytes</th>'
        + ('<th class="num">rows</th>' if with_rows else "")
        + "<th>modified</th><th>etag</th></tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>\n{more}</details>"
    )


def _promotion_section(model: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The champion/challenger decision: status, reason, the like-for-like errors and every gate."""
    promo = metrics.get("promotion") if isinstance(metrics.get("promotion"), Mapping) else None
    promo = promo or (model.get("promotion") if isinstance(model.get("promotion"), Mapping) else None)
    if not promo:
        return '<p class="note">The model records no promotion decision.</p>'
    status = _esc(promo.get("status"))
    facts = [
        ("Decision", f"<strong>{status}</strong>"),
        ("Reason", _esc(promo.get("reason"))),
        ("Champion", _esc(promo.get("champion") or "\u2014")),
    ]
    if promo.get("rule"):
        facts.append(
            (
                "Like for like",
                f"rule <code>{_esc(promo.get('rule'))}</code> on {_num(promo.get('rows'))} row(s): "
                f"challenger {_num(promo.get('challenger_mse'), '.6g')} vs champion "
                f"{_num(promo.get('champion_mse'), '.6g')} (tolerance {_num(promo.get('tolerance'), 'g')})",
            )
        )
    table = "\n".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    out = [f'<table class="facts">\n{table}\n</table>']
    gates = [g for g in promo.get("gates") or () if isinstance(g, Mapping)]
    if gates:

        def verdict(g: Mapping[str, Any]) -> str:
            passed = g.get("passed")
            return "skipped" if passed is None else ("passed" if passed else "<strong>FAILED</strong>")

        body = "\n".join(
            f'<tr><td class="name">{_esc(g.get("name"))}</td><td>{verdict(g)}</td>'
            f'<td class="num">{_num(g.get("value"), ".4g")}</td><td class="num">{_num(g.get("limit"), "g")}</td>'
            f"<td>{_esc(g.get('detail'))}</td></tr>"
            for g in gates
        )
        out.append(
            "<p>Gates compare the model with the champion's recorded CV error, row count and data "
            "baseline (see <code>output.promotion.gates</code>).</p>\n"
            '<table>\n<thead><tr><th>gate</th><th>result</th><th class="num">value</th>'
            '<th class="num">limit</th><th>detail</th></tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table>"
        )
    return "\n".join(out)


def _config_section(model: Mapping[str, Any]) -> str:
    parts = []
    for key, title in (
        ("params", "Estimator parameters"),
        ("config", "Configuration"),
        ("versions", "Package versions"),
        ("run", "Run"),
    ):
        value = model.get(key)
        if value is None:
            continue
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
        parts.append(f"<details><summary>{title}</summary>\n<pre>{_esc(text)}</pre>\n</details>")
    return "\n".join(parts) or '<p class="note">The model records no configuration.</p>'


# --------------------------------------------------------------------------- entry point
def render_report(model: ModelRecord | Mapping[str, Any], metrics: MetricsRecord | Mapping[str, Any]) -> str:
    """A complete, self-contained HTML document describing a fitted model.

    Parameters
    ----------
    model : ModelRecord or dict
        The model record, or its JSON form (a registry entry's ``model.json``:
        features, coefficients, the CV path with its per-fold errors, per-fold
        coefficients, data fingerprint, config, run).  The report reads the
        JSON form, and renders whatever part of it is well formed.
    metrics : MetricsRecord or dict
        Summary metrics, or their JSON form (``cv_mse``, ``cv_mse_se``,
        ``train_mse``, ``rows``, ``files``, ``files_scanned``,
        ``rows_dropped``, ``seconds``, ``n_nonzero``).

    Returns
    -------
    str
        An HTML5 document with inline CSS and inline SVG plots, no script and
        no reference to any external resource.  The output is deterministic.

    Notes
    -----
    Imports matplotlib (not pyplot) on first use.  Plots are drawn under a
    temporary ``matplotlib.rc_context``; do not render from several threads
    at once.
    """
    if isinstance(model, ModelRecord):
        model = model.to_json()
    if isinstance(metrics, MetricsRecord):
        metrics = metrics.to_json()
    if not isinstance(model, Mapping):
        raise TypeError(f"model must be a mapping (the content of model.json), got {type(model).__name__}")
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping, got {type(metrics).__name__}")
    plot = _Plotter()
    title = f"{model.get('name', 'model')} {model.get('version', '')}".strip()
    sections = [
        _section("run", "Run facts", _facts(model, metrics)),
        _section("promotion", "Promotion", _promotion_section(model, metrics)),
        _section("cv", "Cross-validation curve", _cv_section(plot, model)),
        _section("path", "Coefficient path", _path_section(plot, model)),
        _section("gap", "Training vs held-out error", _gap_section(plot, model)),
        *(
            [
                _section("auc", "Held-out AUC", _auc_section(plot, model)),
                _section("calibration", "Calibration", _calibration_section(plot, model)),
            ]
            if _family(model) == "binomial"
            else []
        ),
        _section("stability", "Selection frequency", _frequency_section(plot, model)),
        _section("features", "Selected features", _coefficients_section(model)),
        _section("data", "Data files", _files_section(model)),
        _section("config", "Configuration and versions", _config_section(model)),
    ]
    subtitle = (
        f"{_esc(model.get('estimator'))} of <code>{_esc(model.get('target'))}</code>, "
        f"created {_esc(model.get('created'))}"
    )
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>dreg report: {_esc(title)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>dreg model report: {_esc(title)}</h1>\n"
        f'<p class="subtitle">{subtitle}</p>\n'
        f"{body}\n</main>\n</body>\n</html>\n"
    )
