"""The scheduler's choice (pure): fit, then least load, fewest Pods, name."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.controllers.nodes import choice
from kawa.controllers.nodes.health import Health


def node(name: str, cpu: str = "2", memory: str = "4Gi", pods: str = "110", **status: Any) -> Any:
    ready = status.pop("ready", "True")
    return {
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": ready}],
        },
    }  # fmt: skip


def pod(
    name: str = "p", on: str = "", cpu: str | None = None, memory: str | None = None,
    phase: str = "Running", init: dict[str, str] | None = None,
) -> Any:  # fmt: skip
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    spec: dict[str, Any] = {"containers": [{"name": "c", "resources": {"requests": requests}}]}
    if init:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": init}}]
    if on:
        spec["nodeName"] = on
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("2", 2.0), ("0.5", 0.5), ("1Gi", 2.0**30), ("512M", 512e6),
     ("1e3", 1000.0), ("128974848", 128974848.0), (3, 3.0), ("bogus", 0.0), ("1Qi", 0.0),
     (True, 0.0)],
)  # fmt: skip
def test_quantities(text: Any, value: float) -> None:
    assert choice.quantity(text) == pytest.approx(value)


def test_a_pods_request_is_its_containers_or_its_largest_init_container() -> None:
    assert choice.requested(pod(cpu="250m", memory="64Mi")) == choice.Resources(0.25, 2.0**26)
    bigger_init = pod(cpu="100m", init={"cpu": "1", "memory": "1Mi"})
    assert choice.requested(bigger_init) == choice.Resources(1.0, 2.0**20)
    assert choice.requested({"spec": {}}) == choice.Resources()


def test_fewest_pods_first_then_the_name() -> None:
    nodes = [node("b"), node("a"), node("c")]
    pods = [pod("x", on="a"), pod("y", on="a"), pod("z", on="b")]
    assert choice.choose(pod(), choice.loads(nodes, pods)) == "c"
    # a tie: the first name
    assert choice.choose(pod(), choice.loads(nodes, [])) == "a"
    # finished Pods hold nothing
    done = [pod("x", on="c", phase="Succeeded"), pod("y", on="a"), pod("z", on="b")]
    assert choice.choose(pod(), choice.loads(nodes, done)) == "c"


def test_requested_cpu_and_memory_weigh_before_the_count() -> None:
    nodes = [node("a", cpu="4"), node("b", cpu="4")]
    pods = [pod("big", on="a", cpu="3"), pod("s1", on="b", cpu="100m"), pod("s2", on="b")]
    # a holds 75% of its CPU, b 2.5%: b, though it has more Pods
    assert choice.choose(pod(cpu="500m"), choice.loads(nodes, pods)) == "b"
    memory = [pod("m", on="b", memory="3Gi")]
    assert choice.choose(pod(), choice.loads(nodes, memory)) == "a"


def test_a_pod_goes_only_where_it_fits() -> None:
    nodes = [node("a", cpu="1"), node("b", cpu="2", pods="1")]
    loads = choice.loads(nodes, [pod("x", on="b")])
    assert choice.choose(pod(cpu="1500m"), loads) is None
    assert choice.choose(pod(cpu="1"), loads) == "a"
    message = choice.unschedulable_message(pod(cpu="1500m"), 3, 1, loads)
    assert message == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 Too many pods, 1 node(s) were not ready."
    )
    assert choice.unschedulable_message(pod(), 0, 0, []) == "0/0 nodes are available."


def test_ready_means_the_ready_condition_is_true() -> None:
    assert choice.node_ready(node("a"))
    assert not choice.node_ready(node("a", ready="Unknown"))
    assert not choice.node_ready({"metadata": {"name": "a"}})


def test_a_node_is_lost_when_its_lease_is_not_renewed_within_the_grace_period() -> None:
    health = Health(grace=10.0, me="leader")
    health.heard_of("a", 0.0)  # its Node seen: a whole grace period from now
    assert not health.alive("a", 1.0)  # no Lease seen yet: nothing is scheduled there
    assert not health.lost("a", 10.0)
    assert health.lost("a", 10.5)
    health.saw_lease("a", "t1", 11.0)
    assert health.alive("a", 11.0)
    assert not health.lost("a", 20.0)
    health.saw_lease("a", "t1", 19.0)  # the same renewTime again is no heartbeat
    assert health.lost("a", 21.5)
    health.saw_lease("a", "t2", 22.0)
    assert health.alive("a", 31.0)
    health.heard_of("leader", 0.0)
    assert not health.lost("leader", 1000.0)  # the leader runs: it is alive
    assert health.nodes() == ["a", "leader"]
