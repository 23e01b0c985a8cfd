"""The batch job: ``dreg fit``, ``dreg predict``, ``dreg show`` / ``history``, ``dreg demo``.

:mod:`~dreg.job.config` (YAML, validated) -> :mod:`~dreg.job.lake` (list, prune
and read Parquet files) -> :mod:`~dreg.job.scan` (the Dask pass: one task a
file, with :mod:`~dreg.job.cache`) on :mod:`~dreg.job.cluster` ->
:mod:`~dreg.job.pipeline` (CV on the coordinator, the promotion check) ->
:mod:`~dreg.job.record` (the typed model record) -> :mod:`~dreg.job.registry`
and :mod:`~dreg.job.report`; :mod:`~dreg.job.cli` is the command and
:mod:`~dreg.job.errors` holds every error with its exit code.
"""
