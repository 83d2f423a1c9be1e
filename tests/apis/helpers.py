"""Small builders and assertions shared by the kawa.apis tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kawa.apis.model.base import Context
from kawa.apis.model.parse import validate
from kawa.errors import FieldError, ValidationError


def trigger_obj(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    """A valid v1 Trigger dict; ``spec`` replaces the whole spec when given."""
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "t", "namespace": "default", **metadata},
        "spec": copy.deepcopy(spec)
        if spec is not None
        else {"broker": "default", "subscriber": {"uri": "http://example.com/"}},
    }


def broker_obj(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": "default", "namespace": "default", **metadata},
    }
    if spec is not None:
        obj["spec"] = copy.deepcopy(spec)
    return obj


def field_errors(call: Callable[[], object]) -> dict[str, str]:
    """Run ``call``, expect a ValidationError, return ``{path: message}``.

    Several messages at one path are joined with `` | ``.
    """
    with pytest.raises(ValidationError) as info:
        call()
    found: dict[str, str] = {}
    for error in info.value.errors:
        found[error.path] = (
            f"{found[error.path]} | {error.message}" if error.path in found else error.message
        )
    return found


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def new_status() -> dict[str, Any]:
    """An empty ``status`` dict."""
    return {}


def status_errors(kind: Any, status: dict[str, Any]) -> list[FieldError]:
    """What a write of ``status`` to ``kind``'s status subresource would be refused for (its
    status model, as the API server checks it)."""
    errors: list[FieldError] = []
    validate(kind.status, status, errors, ctx=Context(), path="status", rules=False)
    return errors
