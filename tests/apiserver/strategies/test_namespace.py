"""The Namespace strategy: termination planned as Kubernetes' namespace registry does it,
``spec.finalizers`` kept by updates (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kawa.apiserver.strategies.base import IMMEDIATE, Deletion
from kawa.apiserver.strategies.namespace import NamespaceStrategy

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
STRATEGY = NamespaceStrategy()


def namespace(*finalizers: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team", **meta},
        "spec": {"finalizers": list(finalizers)},
        "status": {"phase": "Active"},
    }


def test_the_first_delete_starts_the_termination() -> None:
    assert STRATEGY.plan_deletion(namespace("kubernetes"), None, NOW) == Deletion(
        False,
        {"deletionTimestamp": "2024-05-01T12:00:00Z"},
        spec={"finalizers": ["kubernetes"]},
        status={"phase": "Terminating"},
    )
    # one stored without the controller's finalizer (an older kawa) gets it
    planned = STRATEGY.plan_deletion(namespace("example.com/x"), 0, NOW)
    assert planned.spec == {"finalizers": ["example.com/x", "kubernetes"]}


def test_a_later_delete_waits_for_the_controller() -> None:
    terminating = namespace("kubernetes", deletionTimestamp="2024-05-01T11:00:00Z")
    assert STRATEGY.plan_deletion(terminating, None, NOW) == Deletion(False)
    emptied = namespace(deletionTimestamp="2024-05-01T11:00:00Z")
    assert STRATEGY.plan_deletion(emptied, None, NOW) == IMMEDIATE


def test_updates_keep_the_spec_finalizers_and_the_deletion() -> None:
    old = namespace("kubernetes", deletionTimestamp="2024-05-01T11:00:00Z")
    new = namespace(labels={"a": "b"})
    STRATEGY.prepare_for_update(old, new)
    assert new["spec"]["finalizers"] == ["kubernetes"]
    assert new["metadata"]["deletionTimestamp"] == "2024-05-01T11:00:00Z"
    bare = {**namespace(), "spec": {}}
    forged = namespace("example.com/x")
    STRATEGY.prepare_for_update(bare, forged)
    assert forged["spec"] == {}
