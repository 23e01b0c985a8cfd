"""scikit-learn's estimator base classes, without importing scikit-learn until it is used.

Importing ``sklearn.base`` takes 1-2 s (it imports ``sklearn.utils``, which
imports scipy.stats and pandas), most of the fixed cost of a small batch fit
that never calls scikit-learn.  dreg's estimators therefore inherit from the
three classes here, named as scikit-learn's:

* :class:`BaseEstimator`, :class:`RegressorMixin` and :class:`ClassifierMixin`
  stand on small stand-ins while ``sklearn.base`` is not imported: the
  scikit-learn API the estimators use on their own (``get_params``,
  ``set_params``, ``repr``, the tags, ``score``), with scikit-learn's
  semantics and messages;
* once ``sklearn.base`` is imported -- before dreg or after, by anyone -- each
  class's one base is swapped for scikit-learn's class of the same name
  (``__bases__`` assignment), and scikit-learn's ``__init_subclass__`` is run
  for the estimator classes already defined (it adds the
  ``set_fit_request``-style methods of metadata routing).

So wherever scikit-learn is used (``clone``, ``Pipeline``, ``GridSearchCV``,
metadata routing, ``parametrize_with_checks``, which warns about estimators
that are not ``BaseEstimator`` instances), the estimators are exactly the
``BaseEstimator`` / ``RegressorMixin`` / ``ClassifierMixin`` subclasses they
always were, with scikit-learn's own methods; the stand-ins serve processes
that never import scikit-learn, such as the batch job.  A ``sys.meta_path``
finder notices the import of ``sklearn.base``: it finds nothing itself, it
only wraps that module's loader so that the swap runs right after the module.

:func:`check_is_fitted` is scikit-learn's check, raising its
``NotFittedError`` (a ``ValueError`` and an ``AttributeError``), which is
imported only to be raised.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["BaseEstimator", "ClassifierMixin", "RegressorMixin", "check_is_fitted"]

_NOT_FITTED = (
    "This %(name)s instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator."
)


def check_is_fitted(
    estimator: Any, attributes: str | Iterable[str] | None = None, *, msg: str | None = None, all_or_any: Callable = all
) -> None:
    """scikit-learn's ``check_is_fitted``: raise ``NotFittedError`` unless ``estimator`` is fitted.

    Parameters
    ----------
    estimator : estimator instance
    attributes : str, list or tuple of str, optional
        The fitted attributes whose presence makes the estimator fitted; by
        default ``__sklearn_is_fitted__()``, else any attribute ending in
        ``_`` (not ``__``).  Unlike scikit-learn's, the ``requires_fit`` tag
        is not consulted (every dreg estimator requires a fit).
    msg : str, optional
        The message, formatted with ``%(name)s`` the estimator's class name.
    all_or_any : {all, any}, default all

    Raises
    ------
    sklearn.exceptions.NotFittedError
    """
    if isinstance(estimator, type):
        raise TypeError(f"{estimator} is a class, not an instance.")
    if not hasattr(estimator, "fit"):
        raise TypeError(f"{estimator} is not an estimator instance.")
    if attributes is not None:
        names = attributes if isinstance(attributes, (list, tuple)) else [attributes]
        fitted = all_or_any([hasattr(estimator, name) for name in names])
    elif hasattr(estimator, "__sklearn_is_fitted__"):
        fitted = estimator.__sklearn_is_fitted__()
    else:
        fitted = any(v.endswith("_") and not v.startswith("__") for v in vars(estimator))
    if not fitted:
        from sklearn.exceptions import NotFittedError

        raise NotFittedError((_NOT_FITTED if msg is None else msg) % {"name": type(estimator).__name__})


# --------------------------------------------------------------------------- the stand-ins
class _StandInEstimator:
    """``sklearn.base.BaseEstimator``'s parameter API and ``repr``, until scikit-learn is imported."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The ``__init__`` parameters, sorted (scikit-learn's rule: no ``*args``)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        signature = inspect.signature(init)
        parameters = [p for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]
        for p in parameters:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(
                    "scikit-learn estimators should always specify their parameters in the signature of their "
                    f"__init__ (no varargs). {cls} with constructor {signature} doesn't  follow this convention."
                )
        return sorted(p.name for p in parameters)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator (``deep``: and ``name__param`` of estimator-valued ones).

        Parameters
        ----------
        deep : bool, default True

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((key + "__" + k, v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any):
        """Set parameters, ``name__param`` for those of estimator-valued parameters.

        Returns
        -------
        self
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: defaultdict[str, dict[str, Any]] = defaultdict(dict)
        for key, value in params.items():
            key, delim, sub_key = key.partition("__")
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {self}. "
                    f"Valid parameters are: {self._get_param_names()!r}."
                )
            if delim:
                nested[key][sub_key] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        return _estimator_repr(self, N_CHAR_MAX)

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
        )


class _StandInRegressor:
    """``sklearn.base.RegressorMixin`` until scikit-learn is imported."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # first: it imports scikit-learn, which swaps this class out
        from sklearn.utils import RegressorTags

        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        return tags

    def score(self, X, y, sample_weight=None) -> float:
        """R^2 of ``self.predict(X)`` against ``y`` (scikit-learn's ``r2_score``)."""
        from sklearn.metrics import r2_score

        return r2_score(y, self.predict(X), sample_weight=sample_weight)


class _StandInClassifier:
    """``sklearn.base.ClassifierMixin`` until scikit-learn is imported."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # first: it imports scikit-learn, which swaps this class out
        from sklearn.utils import ClassifierTags

        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``self.predict(X)`` against ``y`` (scikit-learn's ``accuracy_score``)."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)


# --------------------------------------------------------------------------- the classes
class BaseEstimator(_StandInEstimator):
    """Base of dreg's estimators: ``sklearn.base.BaseEstimator`` once scikit-learn is imported."""


class RegressorMixin(_StandInRegressor):
    """``sklearn.base.RegressorMixin`` once scikit-learn is imported; put it before :class:`BaseEstimator`."""


class ClassifierMixin(_StandInClassifier):
    """``sklearn.base.ClassifierMixin`` once scikit-learn is imported; put it before :class:`BaseEstimator`."""


_CLASSES = (BaseEstimator, RegressorMixin, ClassifierMixin)
_STAND_INS = (_StandInEstimator, _StandInRegressor, _StandInClassifier)


def _adopt(sklearn_base: Any) -> None:
    """Swap the stand-ins for ``sklearn_base``'s classes (the module ``sklearn.base``)."""
    try:
        for ours in _CLASSES:
            ours.__bases__ = (getattr(sklearn_base, ours.__name__),)
    except (AttributeError, TypeError) as exc:  # an unforeseen scikit-learn: stay usable, say why
        for ours, stand_in in zip(_CLASSES, _STAND_INS, strict=True):
            ours.__bases__ = (stand_in,)
        warnings.warn(
            f"dreg's estimators could not become scikit-learn BaseEstimator subclasses ({exc}); "
            "they keep dreg's own get_params/set_params",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    # scikit-learn's __init_subclass__ (metadata routing's set_{method}_request) for the classes
    # defined before; parents first, as at their definition
    for cls in sorted(_subclasses(BaseEstimator), key=lambda c: len(c.__mro__)):
        super(BaseEstimator, cls).__init_subclass__()


def _subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    todo = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                todo.append(sub)
    return out


class _AdoptOnImport:
    """A ``sys.meta_path`` finder that finds nothing: it hands back the spec the other finders
    give for ``sklearn.base``, with a loader that runs :func:`_adopt` after the module."""

    #: marks the finder across reloads of this module (one finder at a time)
    dreg_adopts_sklearn = True

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname != "sklearn.base":
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if find is None or getattr(finder, "dreg_adopts_sklearn", False):
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _ThenAdopt(spec.loader)
                return spec
        return None


class _ThenAdopt:
    """A module loader that runs :func:`_adopt` after the module it loads."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        # the real loader for tracebacks, inspect and reload
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _adopt(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


# --------------------------------------------------------------------------- repr
# scikit-learn's BaseEstimator.__repr__ (sklearn/utils/_pprint.py): ``Name(param=value, ...)`` with the
# parameters that differ from their defaults, sorted, on one line if it fits in 80 columns, else packed
# into lines aligned after ``Name(``, nested lists, tuples, dicts and estimators likewise.  Unlike
# scikit-learn's printer, other values too long for a line (long strings) are not split.
_WIDTH = 80
_MAX_ITEMS = 30


def _estimator_repr(estimator: Any, n_char_max: int = 700) -> str:
    text = _pformat(estimator, 0, 0)
    # scikit-learn's ellipsis when there are too many non-blank characters
    if len("".join(text.split())) > n_char_max:
        lim = n_char_max // 2
        regex = rf"^(\s*\S){{{lim}}}"
        left = re.match(regex, text).end()
        right = re.match(regex, text[::-1]).end()
        if "\n" in text[left:-right]:
            regex += r"[^\n]*\n"
            right = re.match(regex, text[::-1]).end()
        if left + len("...") < len(text) - right:
            text = text[:left] + "..." + text[-right:]
    return text


def _is_scalar_nan(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) and math.isnan(x)


def _is_estimator(obj: Any) -> bool:
    return isinstance(obj, BaseEstimator)


def _changed_params(estimator: Any) -> dict[str, Any]:
    """The parameters that differ from the ``__init__`` defaults (compared by ``repr``, NaN equal to NaN)."""
    defaults = {name: p.default for name, p in inspect.signature(estimator.__init__).parameters.items()}

    def changed(k: str, v: Any) -> bool:
        if k not in defaults or defaults[k] is inspect.Parameter.empty:
            return True
        default = defaults[k]
        if _is_estimator(v) and v.__class__ != default.__class__:
            return True
        return repr(v) != repr(default) and not (_is_scalar_nan(default) and _is_scalar_nan(v))

    return {k: v for k, v in estimator.get_params(deep=False).items() if changed(k, v)}


def _sorted_items(d: dict) -> list[tuple[Any, Any]]:
    import pprint

    return sorted(d.items(), key=pprint._safe_tuple)  # pprint's order, as scikit-learn's printer


def _one_line(obj: Any) -> str:
    """The one-line form (scikit-learn's ``_safe_repr``)."""
    typ = type(obj)
    r = getattr(typ, "__repr__", None)
    if issubclass(typ, dict) and r is dict.__repr__:
        return "{" + ", ".join(f"{_one_line(k)}: {_one_line(v)}" for k, v in _sorted_items(obj)) + "}"
    if issubclass(typ, list) and r is list.__repr__:
        return "[" + ", ".join(_one_line(o) for o in obj) + "]"
    if issubclass(typ, tuple) and r is tuple.__repr__:
        inner = ", ".join(_one_line(o) for o in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if _is_estimator(obj):
        params = ", ".join(f"{k}={_one_line(v)}" for k, v in _sorted_items(_changed_params(obj)))
        return f"{typ.__name__}({params})"
    return repr(obj)


def _pformat(obj: Any, indent: int, allowance: int) -> str:
    """``obj`` starting at column ``indent``, with ``allowance`` columns to leave at the end."""
    rep = _one_line(obj)
    if len(rep) <= _WIDTH - indent - allowance:
        return rep
    typ = type(obj)
    r = getattr(typ, "__repr__", None)
    if _is_estimator(obj):
        name = typ.__name__
        items = _sorted_items(_changed_params(obj))
        return f"{name}(" + _pack(items, indent + len(name), allowance + 1, "=") + ")"
    if issubclass(typ, dict) and r is dict.__repr__:
        return "{" + _pack(_sorted_items(obj), indent, allowance + 1, ": ") + "}"
    if issubclass(typ, list) and r is list.__repr__:
        return "[" + _pack(list(obj), indent, allowance + 1, None) + "]"
    if issubclass(typ, tuple) and r is tuple.__repr__:
        end = ",)" if len(obj) == 1 else ")"
        return "(" + _pack(list(obj), indent, allowance + len(end), None) + end
    return rep


def _pack(entries: list, indent: int, allowance: int, middle: str | None) -> str:
    """Items (``middle`` None), or ``key<middle>value`` pairs, packed into lines as pprint's ``compact=True``."""
    indent += 1
    newline = ",\n" + " " * indent
    out: list[str] = []
    delim = ""
    width = max_width = _WIDTH - indent + 1
    for i, entry in enumerate(entries):
        if i == _MAX_ITEMS:
            out.append(", ...")
            break
        last = i == len(entries) - 1
        if last:
            max_width -= allowance
            width -= allowance
        if middle is None:
            rep = _one_line(entry)
        else:
            key = _one_line(entry[0])
            key = key.strip("'") if middle == "=" else key
            rep = key + middle + _one_line(entry[1])
        w = len(rep) + 2
        if width < w:
            width = max_width
            if delim:
                delim = newline
        if width >= w:
            width -= w
            out.append(delim)
            delim = ", "
            out.append(rep)
            continue
        out.append(delim)
        delim = newline
        room = allowance if last else 1
        if middle is None:
            out.append(_pformat(entry, indent, room))
        else:
            out.append(key + middle + _pformat(entry[1], indent + len(key) + len(middle), room))
    return "".join(out)


# --------------------------------------------------------------------------- install
for _finder in [f for f in sys.meta_path if getattr(f, "dreg_adopts_sklearn", False)]:
    sys.meta_path.remove(_finder)  # this module reloaded: its new finder replaces the old one
sys.meta_path.insert(0, _AdoptOnImport())
if "sklearn.base" in sys.modules:
    import sklearn.base  # waits for an import under way in another thread

    _adopt(sklearn.base)
