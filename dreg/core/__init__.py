"""The maths of dreg: pure numpy/scipy, no Dask, pandas, pyarrow, scikit-learn or matplotlib.

Data flow: :mod:`~dreg.core.stats` (mergeable per-fold sufficient statistics,
one pass) -> :mod:`~dreg.core.problem` (the standardized quadratic problem of a
row set) -> :mod:`~dreg.core.solvers` (coordinate descent, ADMM, eigen-ridge:
they take ``Q, q``, never data) -> :mod:`~dreg.core.path` (grids and whole
paths) -> :mod:`~dreg.core.cv` (K-fold CV from the statistics alone).
:mod:`~dreg.core.penalty` is the penalty value object they share,
:mod:`~dreg.core.datafit` the loss (squared error: statistics -> problem and
held-out error), :mod:`~dreg.core.encode` the exact linear maps of the
statistics for one-hot levels (union across files, lumping) and imputation,
:mod:`~dreg.core.folds` the chunk-independent fold
assignment and :mod:`~dreg.core._util` the thread, numba and data-check
policies every layer shares.

Enforced twice: ruff's banned-api rule (``dreg/core/ruff.toml``) and
``tests/core/test_purity.py``.
"""
