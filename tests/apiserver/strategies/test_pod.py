"""The Pod strategy: Kubernetes' graceful deletion rules for Pods (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kawa.apiserver.strategies.base import Deletion, Strategy, keep_deletion
from kawa.apiserver.strategies.pod import PodStrategy, plan_deletion

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def pod(node: str = "kawa", phase: str = "Running", grace: int = 30, **meta: Any) -> Any:
    return {
        "metadata": {"name": "p", **meta},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": grace},
        "status": {"phase": phase},
    }


def test_a_running_pod_gets_its_grace_period() -> None:
    assert plan_deletion(pod(grace=5), None, NOW) == Deletion(
        False, {"deletionTimestamp": "2024-05-01T12:00:05Z", "deletionGracePeriodSeconds": 5}
    )
    planned = plan_deletion(pod(grace=5), 60, NOW).metadata
    assert planned == {
        "deletionTimestamp": "2024-05-01T12:01:00Z",
        "deletionGracePeriodSeconds": 60,
    }


def test_immediate_removals() -> None:
    forced = Deletion(
        True, {"deletionTimestamp": "2024-05-01T12:00:00Z", "deletionGracePeriodSeconds": 0}
    )
    assert plan_deletion(pod(), 0, NOW) == forced  # --grace-period=0 --force
    assert plan_deletion(pod(grace=0), None, NOW) == forced
    assert plan_deletion(pod(node=""), None, NOW).immediate  # never bound
    assert plan_deletion(pod(phase="Succeeded"), 30, NOW).immediate
    assert plan_deletion(pod(phase="Failed"), None, NOW) == Deletion(True)
    # (bound to a node that does not exist: the CRUD makes it immediate, tests/apiserver)


def test_a_negative_grace_period_is_one_second() -> None:
    assert plan_deletion(pod(), -5, NOW).metadata == {
        "deletionTimestamp": "2024-05-01T12:00:01Z",
        "deletionGracePeriodSeconds": 1,
    }


def test_a_second_deletion_may_only_shorten_it() -> None:
    deleting = pod(deletionTimestamp="2024-05-01T12:00:30Z", deletionGracePeriodSeconds=30)
    assert plan_deletion(deleting, None, NOW) == Deletion(False)
    assert plan_deletion(deleting, 60, NOW) == Deletion(False)
    assert plan_deletion(deleting, 10, NOW).metadata == {
        "deletionTimestamp": "2024-05-01T12:00:10Z",
        "deletionGracePeriodSeconds": 10,
    }
    assert plan_deletion(deleting, 0, NOW).immediate


def test_updates_keep_the_deletion_fields() -> None:
    old = pod(deletionTimestamp="2024-05-01T12:00:30Z", deletionGracePeriodSeconds=30)
    new = pod(labels={"a": "b"})
    keep_deletion(old, new)
    assert new["metadata"]["deletionTimestamp"] == "2024-05-01T12:00:30Z"
    assert new["metadata"]["deletionGracePeriodSeconds"] == 30
    forged = pod(deletionTimestamp="2024-05-01T12:00:30Z")
    keep_deletion(pod(), forged)  # a client cannot set them either
    assert "deletionTimestamp" not in forged["metadata"]


def test_the_strategy_uses_these_rules() -> None:
    strategy = PodStrategy()
    assert strategy.plan_deletion(pod(grace=5), None, NOW) == plan_deletion(pod(grace=5), None, NOW)
    old = pod(deletionTimestamp="2024-05-01T12:00:30Z", deletionGracePeriodSeconds=30)
    new = pod()
    strategy.prepare_for_update(old, new)
    assert new["metadata"]["deletionGracePeriodSeconds"] == 30
    assert strategy.forbids_deletion("p") is None


def test_a_pods_node_must_exist() -> None:
    """Creating or binding a Pod names its node: the CRUD looks it up."""
    strategy = PodStrategy()
    [ref] = strategy.references(None, pod(node="elsewhere"))
    assert (ref.path, ref.resource, ref.name) == ("spec.nodeName", "nodes", "elsewhere")
    assert ref.message.startswith('Not found: node "elsewhere" not found')
    assert strategy.references(None, pod(node="")) == []
    [binding] = strategy.references(pod(node=""), pod(node="elsewhere"))
    assert binding.name == "elsewhere"
    # moving a bound Pod is the declaration's update rule (immutable), not reported twice
    assert strategy.references(pod(node="kawa"), pod(node="elsewhere")) == []
    assert strategy.validate(None, pod(node="elsewhere")) == []


def test_any_bound_pod_gets_its_grace_period() -> None:
    assert not plan_deletion(pod(node="node-2"), None, NOW).immediate
    assert plan_deletion(pod(node=""), None, NOW).immediate
    assert plan_deletion(pod(node="node-2", phase="Failed"), None, NOW).immediate


def test_no_new_finalizers_on_an_object_being_deleted() -> None:
    strategy = Strategy()
    deleting = pod(deletionTimestamp="2024-05-01T12:00:30Z", finalizers=["a.io/x"])
    assert strategy.validate(deleting, pod(finalizers=["a.io/x"])) == []
    assert strategy.validate(deleting, pod(finalizers=[])) == []
    [error] = strategy.validate(deleting, pod(finalizers=["a.io/x", "b.io/y", "a.io/z"]))
    assert error.path == "metadata.finalizers"
    assert error.message.endswith('found new finalizers ["a.io/z", "b.io/y"]')
    assert strategy.validate(pod(), pod(finalizers=["b.io/y"])) == []  # not deleting
    assert strategy.validate(None, pod(finalizers=["b.io/y"])) == []
    assert PodStrategy().validate(deleting, pod(finalizers=["b.io/y"]))  # every kind
