"""Every batch-job error lives in dreg.job.errors and carries the exit code the README documents."""

from __future__ import annotations

import pytest

from dreg.job import errors

DOCUMENTED = {  # README "Exit codes"
    "RegistryError": 1,
    "ConfigError": 2,
    "DataError": 3,
    "ClusterError": 4,
    "PromotionRejected": 5,
}


def test_each_error_has_its_documented_exit_code():
    found = {
        name: cls.exit_code
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.DregError) and cls is not errors.DregError
    }
    assert found == DOCUMENTED


@pytest.mark.parametrize(("name", "base"), [("ConfigError", ValueError), ("DataError", ValueError)])
def test_value_errors_stay_value_errors(name, base):
    """Callers that caught ValueError for bad data or configuration still do."""
    assert issubclass(getattr(errors, name), base)


def test_a_subclass_must_declare_its_exit_code():
    with pytest.raises(TypeError):
        type("Undeclared", (errors.DregError,), {})
