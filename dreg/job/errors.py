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
    """Base of the batch job's errors: ``exit_code`` and ``label`` say how ``dreg`` reports it."""

    exit_code: ClassVar[int] = 1
    label: ClassVar[str] = "error"


class RegistryError(DregError, RuntimeError):
    """The registry or a model in it cannot be read or written (exit code 1)."""

    exit_code = 1
    label = "registry error"


class ConfigError(DregError, ValueError):
    """The configuration file is missing, not YAML, or not valid (exit code 2)."""

    exit_code = 2
    label = "configuration error"


class DataError(DregError, ValueError):
    """Bad data: missing or non-numeric columns, invalid values, unreadable files (exit code 3)."""

    exit_code = 3
    label = "data error"


class ClusterError(DregError, RuntimeError):
    """The Dask scheduler cannot be reached or was lost (exit code 4)."""

    exit_code = 4
    label = "cluster error"


class PromotionRejected(DregError, RuntimeError):
    """The new version was stored but not promoted to ``latest`` (exit code 5).

    ``outcome`` is the :class:`dreg.job.pipeline.FitOutcome` of the stored version.
    """

    exit_code = 5
    label = "not promoted"

    def __init__(self, reason: str, outcome: Any) -> None:
        super().__init__(reason)
        self.outcome = outcome
