"""Export a registry model for scoring where the data lives: a SQL ``SELECT`` or an ONNX graph.

Both reproduce ``dreg predict`` (:func:`dreg.job.lake.predict_file` with
:func:`dreg.core.design.linear_predictor`): the stored coefficients and
intercept, the categorical levels (lumped rare levels score as the model's
other level, levels the model does not know score 0, a null scores the
``<null>`` level when the model has one, else 0) and the imputation values
(a missing value of an imputed column gets the stored value and its
indicator 1; a missing value of a column that is not imputed gives a null
prediction).  With ``eta`` the linear predictor, the outputs per family are
those of ``dreg predict``:

* gaussian: ``prediction`` = ``eta``;
* binomial: ``probability`` = ``1 / (1 + exp(-eta))`` of ``classes[1]``, clamped to
  ``[1e-15, 1 - 1e-15]``, and ``prediction`` = ``classes[1]`` where ``eta > 0``, else
  ``classes[0]``;
* poisson: ``prediction`` = ``exp(eta)`` (``eta`` clipped at 700).

**SQL** (:func:`to_sql`): portable SQL (tested in sqlite and DuckDB).  There is
only NULL in SQL: dreg treats NaN in a float column as missing, so a table
that holds NaN (DuckDB and PostgreSQL can) must turn it into NULL first.
Identifiers are double-quoted; every number is a floating-point literal with
an exponent and the shortest digits that round-trip (so it is a double in
DuckDB and PostgreSQL, not a decimal).

**ONNX** (:func:`to_onnx`): a double-precision graph with one input per source
column of the model (``Encoding.source_columns``; shape ``[N]``):

* a numeric column: ``double``, NaN where missing;
* a string categorical column: ``string``, ``"<null>"`` where missing (as
  in the feature name ``col=<null>``; an empty string is a level like any
  other; a model with a level ``"<null>"`` cannot be exported);
* an integer or boolean categorical column: ``int64`` (booleans as 0/1),
  ``-2**63`` (``INT64_MIN``) where missing.

Outputs: ``prediction`` (``double``; binomial: the label, typed like the
labels: ``string``, ``int64``, ``bool`` or ``double``) and, binomial,
``probability`` (``double``).  A row that ``dreg predict`` scores null (a
missing value of a column that is not imputed, a non-finite linear
predictor) gets NaN; its binomial label is ``classes[0]`` (check the
probability).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from dreg.core.design import ColumnEncoding, Encoding
from dreg.job.errors import ConfigError
from dreg.job.record import ModelRecord

__all__ = ["INT64_NULL", "ONNX_OPSET", "STRING_NULL", "to_onnx", "to_sql"]

STRING_NULL = "<null>"
"""ONNX: the value of a string categorical input that stands for a missing value (as in the
feature names, ``col=<null>``; an empty string is a value like any other)."""
INT64_NULL = -(2**63)
"""ONNX: the value of an integer or boolean categorical input that stands for a missing value."""
ONNX_OPSET = 17  # the default domain; LabelEncoder is ai.onnx.ml version 2
_ONNX_ML_OPSET = 2
_ONNX_IR_VERSION = 8  # readable by onnxruntime >= 1.10

_NULL_KEY = ("null", None)  # the null level in ColumnEncoding.level_index()
_PROBABILITY_CLAMP = 1e-15  # as dreg.core.datafit.Binomial.mean
_ETA_MAX = 700.0  # as dreg.core.datafit.Poisson.mean
# SQL: EXP's argument stays within [-_SQL_EXP_LIMIT, _SQL_EXP_LIMIT] (PostgreSQL raises on
# overflow and underflow); beyond 40 the probability is clamped anyway
_SQL_EXP_LIMIT = 700.0
_SQL_LOGIT_LIMIT = 40.0


# --------------------------------------------------------------------------- the model's terms
def _check(model: ModelRecord, coef: Any, intercept: float) -> tuple[Encoding, np.ndarray, float]:
    enc = model.column_encoding()
    coef = np.asarray(coef, dtype=np.float64).reshape(-1)
    width = sum(c.width for c in enc.columns)
    if coef.shape[0] != width:
        raise ConfigError(f"the model has {width} design column(s) but {coef.shape[0]} coefficient(s)")
    if not np.all(np.isfinite(coef)) or not math.isfinite(float(intercept)):
        raise ConfigError("the model's coefficients or intercept are not finite")
    if model.family not in ("gaussian", "binomial", "poisson"):
        raise ConfigError(f"cannot export family {model.family!r}")
    if model.family == "binomial" and (model.classes is None or len(model.classes) != 2):
        raise ConfigError(f"a binomial model needs its 2 class labels, got {model.classes!r}")
    return enc, coef, float(intercept)


def _level_coefs(c: ColumnEncoding, beta: np.ndarray) -> tuple[str, list[tuple[Any, float]], float]:
    """``(kind, [(data level, coefficient), ...], null coefficient)`` of a categorical column.

    ``kind`` is ``"str"``, ``"int"`` or ``"bool"``.  The data levels are the
    model's, lumped levels with the other level's coefficient; the null
    coefficient is 0 when the model has no null level (a null it never saw
    scores as an unseen level does).
    """
    index = c.level_index()  # (kind, plain level) -> design column; lumped levels -> the other level
    null = float(beta[index[_NULL_KEY]]) if _NULL_KEY in index else 0.0
    levels = [(value, float(beta[i])) for (kind, value), i in index.items() if kind != "null"]
    kinds = {kind for kind, _ in index} - {"null"}
    return (kinds.pop() if kinds else "str"), levels, null


# --------------------------------------------------------------------------- SQL
def sql_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (``"`` doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_table(table: str) -> str:
    """A table name: kept as written when it holds a ``"`` (already quoted), else each dotted part quoted."""
    if '"' in table:
        return table
    return ".".join(sql_identifier(part) for part in table.split("."))


def sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def sql_number(x: float) -> str:
    """A double literal: the shortest digits that round-trip, always with an exponent.

    ``1.5e0`` is a double in sqlite, DuckDB and PostgreSQL, while ``1.5`` is a
    DECIMAL in DuckDB (and NUMERIC in PostgreSQL).
    """
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return np.format_float_scientific(x, unique=True, trim="0", exp_digits=1)


def _sql_literal(level: Any, kind: str) -> str:
    if kind == "bool":
        return "TRUE" if level else "FALSE"
    if kind == "int":
        return str(int(level))
    return sql_string(level)


def _sql_label(label: Any) -> str:
    if isinstance(label, bool | np.bool_):
        return "TRUE" if label else "FALSE"
    if isinstance(label, int | np.integer):
        return str(int(label))
    if isinstance(label, float | np.floating):
        return sql_number(label)
    return sql_string(label)


def _sql_terms(enc: Encoding, coef: np.ndarray) -> list[str]:
    """The linear predictor's terms after the intercept, column by column (as linear_predictor adds them)."""
    terms = []
    for c, sl in zip(enc.columns, enc.slices(), strict=True):
        beta = coef[sl]
        col = sql_identifier(c.name)
        if c.kind == "categorical":
            kind, levels, null = _level_coefs(c, beta)
            whens = " ".join(f"WHEN {_sql_literal(lv, kind)} THEN {sql_number(b)}" for lv, b in levels if b != 0.0)
            # CASE x WHEN v compares x = v: a null never matches, a level the model does not know
            # falls to ELSE 0
            levels_case = f"CASE {col} {whens} ELSE 0 END" if whens else "0"
            if null != 0.0:
                terms.append(f"CASE WHEN {col} IS NULL THEN {sql_number(null)} ELSE {levels_case} END")
            elif whens:
                terms.append(levels_case)
            continue
        x = f"CAST({col} AS DOUBLE PRECISION)"
        if c.impute is None:
            # kept even at coefficient 0: a null must give a null prediction, as in dreg predict
            terms.append(f"{sql_number(beta[0])} * {x}")
            continue
        if beta[0] != 0.0:
            terms.append(f"{sql_number(beta[0])} * COALESCE({x}, {sql_number(c.impute)})")
        if c.indicator and beta[1] != 0.0:
            terms.append(f"CASE WHEN {col} IS NULL THEN {sql_number(beta[1])} ELSE 0 END")
    return terms


def to_sql(
    model: ModelRecord,
    table: str,
    keep: Sequence[str] = (),
    coef: Any = None,
    intercept: float | None = None,
    *,
    alpha: float | None = None,
) -> str:
    """A portable ``SELECT`` that scores the rows of ``table`` as ``dreg predict`` does.

    Parameters
    ----------
    model : ModelRecord
        The registry model (its encoding, family and class labels).
    table : str
        The table to score (each dotted part is quoted; a name holding ``"``
        is used as written).
    keep : sequence of str
        Columns of ``table`` to select before the prediction columns.
    coef, intercept :
        The model to write (default: the model's own; ``dreg export --alpha``
        passes the path's model at another alpha).
    alpha : float, optional
        Recorded in the header comment.

    Returns
    -------
    str
        ``SELECT <keep>, <eta> AS "prediction" FROM <table>`` (gaussian, Poisson
        ``EXP``); binomial: ``"probability"`` and the label ``"prediction"``,
        computed from ``eta`` in a subquery.  Rows with a null in a column
        that is not imputed get NULL.
    """
    coef = model.coef if coef is None else coef
    intercept = model.intercept if intercept is None else intercept
    enc, coef, intercept = _check(model, coef, intercept)
    keep = list(keep)
    outputs = ["prediction", "probability"] if model.family == "binomial" else ["prediction"]
    clash = [c for c in keep if c in outputs]
    if clash:
        raise ConfigError(f"--keep column(s) {clash} would clash with the output column(s) {outputs}")
    internal = [c for c in keep if c.startswith("_dreg_")]
    if internal:
        raise ConfigError(f"--keep column(s) {internal}: names starting with '_dreg_' are the export's own")
    # the intercept as a double, so that the sum is double arithmetic everywhere (PostgreSQL's
    # exponent literals are NUMERIC)
    terms = [f"CAST({sql_number(intercept)} AS DOUBLE PRECISION)", *_sql_terms(enc, coef)]

    def eta(indent: str) -> str:
        """The linear predictor, one term a line (in linear_predictor's order of summation)."""
        return f"\n{indent}    + ".join(terms)

    kept = [sql_identifier(c) for c in keep]
    header = [
        f"-- dreg export: {model.name or '?'}/{model.version or '?'} ({model.estimator}, family {model.family}, "
        f"alpha {float(model.alpha if alpha is None else alpha)!r})",
        "-- NaN is not missing in SQL: turn NaN into NULL first (dreg treats both as missing)",
    ]
    src = sql_table(table)

    def select(columns: list[str], source: list[str], indent: str = "") -> list[str]:
        """``SELECT columns FROM source``, one column a line; ``source``: a table or a subquery's lines."""
        cols = [f"{indent}  {c}," for c in columns[:-1]] + [f"{indent}  {columns[-1]}"]
        if len(source) == 1:
            return [f"{indent}SELECT", *cols, f"{indent}FROM {source[0]}"]
        return [f"{indent}SELECT", *cols, f"{indent}FROM (", *source[:-1], f"{indent}) AS {source[-1]}"]

    if model.family == "gaussian":
        body = select([*kept, f"{eta('')} AS {sql_identifier('prediction')}"], [src])
        return "\n".join([*header, *body]) + "\n"
    e = sql_identifier("_dreg_eta")
    if model.family == "poisson":
        # exp(min(eta, 700)); below -700 the mean is < 1e-304 (0 to dreg's 1e-9), and PostgreSQL
        # raises on EXP's underflow
        lim = sql_number(_SQL_EXP_LIMIT)
        clipped = f"CASE WHEN {e} > {lim} THEN {lim} WHEN {e} < -{lim} THEN -{lim} ELSE {e} END"
        rows = [*select([*kept, f"{eta('  ')} AS {e}"], [src], "  "), sql_identifier("_dreg_scored")]
        body = select([*kept, f"EXP({clipped}) AS {sql_identifier('prediction')}"], rows)
        return "\n".join([*header, *body]) + "\n"
    # binomial: eta clipped to +-40 before EXP (the probability is clamped beyond it anyway), then
    # the probability clamped to [1e-15, 1 - 1e-15] as dreg.core.datafit.Binomial.mean
    lim = sql_number(_SQL_LOGIT_LIMIT)
    pr = sql_identifier("_dreg_p")
    clipped = f"CASE WHEN {e} > {lim} THEN {lim} WHEN {e} < -{lim} THEN -{lim} ELSE {e} END"
    lo, hi = sql_number(_PROBABILITY_CLAMP), sql_number(1.0 - _PROBABILITY_CLAMP)
    c0, c1 = (_sql_label(v) for v in model.classes)
    rows = [*select([*kept, f"{eta('    ')} AS {e}"], [src], "    "), sql_identifier("_dreg_eta_rows")]
    probs = [
        *select([*kept, e, f"1.0e0 / (1.0e0 + EXP(-({clipped}))) AS {pr}"], rows, "  "),
        sql_identifier("_dreg_scored"),
    ]
    outs = [
        f"CASE WHEN {pr} < {lo} THEN {lo} WHEN {pr} > {hi} THEN {hi} ELSE {pr} END AS {sql_identifier('probability')}",
        # a null eta matches neither: a null label
        f"CASE WHEN {e} > 0 THEN {c1} WHEN {e} <= 0 THEN {c0} END AS {sql_identifier('prediction')}",
    ]
    return "\n".join([*header, *select([*kept, *outs], probs)]) + "\n"


# --------------------------------------------------------------------------- ONNX
def onnx_input_types(model: ModelRecord) -> dict[str, str]:
    """``{input name: "double" | "string" | "int64"}`` of the ONNX graph, in input order."""
    out = {}
    for c in model.column_encoding().columns:
        if c.kind == "numeric":
            out[c.name] = "double"
        else:
            out[c.name] = "string" if _level_coefs(c, np.zeros(c.width))[0] == "str" else "int64"
    return out


def to_onnx(
    model: ModelRecord,
    coef: Any = None,
    intercept: float | None = None,
    *,
    alpha: float | None = None,
) -> bytes:
    """A double-precision ONNX graph (serialized ``ModelProto``) that scores as ``dreg predict``.

    One input per source column (see the module's conventions: NaN,
    ``"<null>"`` and ``INT64_MIN`` mark missing values), outputs ``prediction`` and
    (binomial) ``probability``.  Needs the ``onnx`` package (``pip install
    'dreg[export]'``); the graph uses the default domain at opset 17 and
    ``ai.onnx.ml`` 2 (``LabelEncoder``), IR version 8.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'dreg[export]'") from None

    coef = model.coef if coef is None else coef
    intercept = model.intercept if intercept is None else intercept
    enc, coef, intercept = _check(model, coef, intercept)
    if not enc.columns:
        raise ConfigError("the model has no feature columns: nothing to export")
    outputs = ["prediction", "probability"] if model.family == "binomial" else ["prediction"]
    clash = [c.name for c in enc.columns if c.name in outputs]
    if clash:
        raise ConfigError(f"feature column(s) {clash} have the name of an ONNX output")
    nodes: list[Any] = []
    inits: list[Any] = []
    counter = itertools.count()

    def name(tag: str) -> str:
        return f"dreg/{tag}/{next(counter)}"

    def const(value: Any, tag: str = "c") -> str:
        n = name(tag)
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def node(op: str, inputs: list[str], tag: str | None = None, **attrs: Any) -> str:
        out = name(tag or op)
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    inputs, terms = [], []
    for c, sl in zip(enc.columns, enc.slices(), strict=True):
        beta = coef[sl]
        if c.kind == "numeric":
            inputs.append(helper.make_tensor_value_info(c.name, TensorProto.DOUBLE, ["N"]))
            x = c.name
            if c.impute is not None:
                miss = node("IsNaN", [x])
                x = node("Where", [miss, const(np.float64(c.impute)), x])
                if c.indicator:
                    terms.append(node("Mul", [node("Cast", [miss], to=TensorProto.DOUBLE), const(np.float64(beta[1]))]))
            terms.append(node("Mul", [x, const(np.float64(beta[0]))]))
            continue
        kind, levels, null = _level_coefs(c, beta)
        table = np.array([*(b for _, b in levels), null, 0.0], dtype=np.float64)
        null_at, unseen_at = len(levels), len(levels) + 1
        attrs: dict[str, Any] = {"values_int64s": [*range(len(levels)), null_at], "default_int64": unseen_at}
        if kind == "str":
            keys = [str(lv) for lv, _ in levels]
            if STRING_NULL in keys:
                raise ConfigError(
                    f"column {c.name!r} has the level {STRING_NULL!r}, which the ONNX export uses for a "
                    "missing value: export SQL instead"
                )
            inputs.append(helper.make_tensor_value_info(c.name, TensorProto.STRING, ["N"]))
            attrs["keys_strings"] = [*keys, STRING_NULL]
        else:
            keys_i = [int(lv) for lv, _ in levels]
            if INT64_NULL in keys_i:
                raise ConfigError(f"column {c.name!r} has the level {INT64_NULL}, the ONNX export's missing value")
            inputs.append(helper.make_tensor_value_info(c.name, TensorProto.INT64, ["N"]))
            attrs["keys_int64s"] = [*keys_i, INT64_NULL]
        index = node("LabelEncoder", [c.name], domain="ai.onnx.ml", **attrs)
        terms.append(node("Gather", [const(table, "levels"), index], axis=0))
    # eta = intercept + terms in column order (linear_predictor's order)
    eta = node("Add", [const(np.float64(intercept), "intercept"), terms[0]])
    for t in terms[1:]:
        eta = node("Add", [eta, t])
    # a non-finite eta is a null prediction in dreg predict: NaN here
    eta = node("Where", [node("IsInf", [eta]), const(np.float64(np.nan)), eta])
    outs = []
    if model.family == "gaussian":
        nodes.append(helper.make_node("Identity", [eta], ["prediction"]))
        outs.append(helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["N"]))
    elif model.family == "poisson":
        # exp(min(eta, 700)) with NaN kept (Where, not Min)
        big = const(np.float64(_ETA_MAX))
        clipped = node("Where", [node("Greater", [eta, big]), big, eta])
        nodes.append(helper.make_node("Exp", [clipped], ["prediction"]))
        outs.append(helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, ["N"]))
    else:
        # Binomial.mean: e = exp(-|eta|); eta >= 0: 1/(1+e), else e/(1+e); clamped
        one = const(np.float64(1.0))
        e = node("Exp", [node("Neg", [node("Abs", [eta])])])
        inv = node("Div", [one, node("Add", [one, e])])
        mu = node("Where", [node("GreaterOrEqual", [eta, const(np.float64(0.0))]), inv, node("Mul", [e, inv])])
        lo, hi = const(np.float64(_PROBABILITY_CLAMP)), const(np.float64(1.0 - _PROBABILITY_CLAMP))
        mu = node("Where", [node("Less", [mu, lo]), lo, mu])
        nodes.append(helper.make_node("Where", [node("Greater", [mu, hi]), hi, mu], ["probability"]))
        c0, c1 = model.classes
        if all(isinstance(v, bool | np.bool_) for v in (c0, c1)):
            labels, ltype = np.array([c0, c1], dtype=bool), TensorProto.BOOL
        elif all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in (c0, c1)):
            labels, ltype = np.array([c0, c1], dtype=np.int64), TensorProto.INT64
        elif all(isinstance(v, int | float | np.number) for v in (c0, c1)):
            labels, ltype = np.array([c0, c1], dtype=np.float64), TensorProto.DOUBLE
        else:
            labels, ltype = np.array([str(c0), str(c1)], dtype=object), TensorProto.STRING
        # the label: a Gather from [classes[0], classes[1]] (onnxruntime's Where has no bool kernel)
        positive = node("Cast", [node("Greater", [eta, const(np.float64(0.0))])], to=TensorProto.INT64)
        nodes.append(helper.make_node("Gather", [const(labels, "labels"), positive], ["prediction"], axis=0))
        outs.append(helper.make_tensor_value_info("prediction", ltype, ["N"]))
        outs.append(helper.make_tensor_value_info("probability", TensorProto.DOUBLE, ["N"]))
    graph = helper.make_graph(nodes, _graph_name(model), inputs, outs, initializer=inits)
    m = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", _ONNX_ML_OPSET)],
        producer_name="dreg",
        doc_string=(
            "dreg export: one input per source column; missing values: NaN (double), "
            f"{STRING_NULL!r} (string), {INT64_NULL} (int64; booleans as 0/1)"
        ),
    )
    m.ir_version = _ONNX_IR_VERSION
    meta = {
        "dreg.model": model.name or "",
        "dreg.model_version": model.version or "",
        "dreg.family": model.family,
        "dreg.alpha": repr(float(model.alpha if alpha is None else alpha)),
        "dreg.string_null": STRING_NULL,
        "dreg.int64_null": str(INT64_NULL),
    }
    if model.family == "binomial":
        meta["dreg.probability_of"] = str(model.classes[1])
    helper.set_model_props(m, meta)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _graph_name(model: ModelRecord) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", model.name or "dreg_model")
