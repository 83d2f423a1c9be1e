from __future__ import annotations

import pytest

from kawa.errors import FieldError, ValidationError


def test_field_error_nested_paths() -> None:
    assert str(FieldError("retry", "must be >= 0").nested("spec.delivery")) == (
        "spec.delivery.retry: must be >= 0"
    )
    assert FieldError("[0].exact", "x").nested("spec.filters").path == "spec.filters[0].exact"
    assert FieldError("", "required").nested("spec.broker").path == "spec.broker"


def test_validation_error_lists_every_field() -> None:
    err = ValidationError(
        [FieldError("spec.broker", "required"), FieldError("spec.subscriber", "required")],
        subject="Trigger default/t",
    )
    assert "spec.broker: required" in str(err)
    assert "spec.subscriber: required" in str(err)
    assert len(err.errors) == 2
    with pytest.raises(ValueError, match="at least one"):
        ValidationError([])
