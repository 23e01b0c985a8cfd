"""Every error the batch job reports, with the ``dreg`` command's exit code as a class attribute.

=====  ======================  ==================================================================
code   exception               meaning
=====  ======================  ==================================================================
0      --                      success
1      :class:`RegistryError`  the registry cannot be written or read (and any unexpected failure)
2      :class:`ConfigError`    usage or configuration error
3      :class:`DataError`      bad data: missing or non-numeric columns, invalid values,
                               unreadable files (the message names the file and the column)
4      :class:`ClusterError`   the Dask scheduler is unreachable or was lost
5      :class:`PromotionRejected`  the model was stored but not promoted to ``latest``
=====  ======================  ==================================================================

The command prints ``dreg: <label>: <message>`` on standard error and exits
with ``exit_code``; nothing is written to the registry unless the whole run
succeeded (a rejected model is stored, but ``latest`` is unchanged).
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "EXIT_OK",
    "ClusterError",
    "ConfigError",
    "DataError",
    "DregError",
    "PromotionRejected",
    "RegistryError",
]

EXIT_OK = 0


class DregError(Exception):
    """Base of the batch job's errors: ``exit_code`` and ``label`` say how ``dreg`` reports it.

    Subclasses declare both in their class statement:
    ``class DataError(DregError, ValueError, exit_code=3, label="data error")``.
    """

    exit_code: ClassVar[int] = 1
    label: ClassVar[str] = "error"

    def __init_subclass__(cls, *, exit_code: int, label: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.exit_code = exit_code
        cls.label = label


class RegistryError(DregError, RuntimeError, exit_code=1, label="registry error"):
    """The registry or a model in it cannot be read or written (exit code 1)."""


class ConfigError(DregError, ValueError, exit_code=2, label="configuration error"):
    """The configuration file is missing, not YAML, or not valid (exit code 2)."""


class DataError(DregError, ValueError, exit_code=3, label="data error"):
    """Bad data: missing or non-numeric columns, invalid values, unreadable files (exit code 3)."""


class ClusterError(DregError, RuntimeError, exit_code=4, label="cluster error"):
    """The Dask scheduler cannot be reached or was lost (exit code 4)."""


class PromotionRejected(DregError, RuntimeError, exit_code=5, label="not promoted"):
    """The new version was stored but not promoted to ``latest`` (exit code 5).

    ``outcome`` is the :class:`dreg.job.pipeline.FitOutcome` of the stored version.
    """

    def __init__(self, reason: str, outcome: Any) -> None:
        super().__init__(reason)
        self.outcome = outcome
