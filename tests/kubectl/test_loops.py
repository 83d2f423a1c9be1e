"""Loop detection through the real kubectl: an apply that puts a Trigger on an event loop
succeeds with kubectl's ``Warning:`` naming the loop, and the Triggers on it get the warning
condition ``LoopFree`` (``False``, ``LoopDetected``; ``Ready`` untouched), which goes away with
the loop."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, to_yaml


def trigger(name: str, broker: str, subscriber: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "broker": broker,
            "filter": {"attributes": {"type": "order.paid"}},
            "subscriber": {
                "ref": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": subscriber,
                }
            }
            if subscriber.startswith("broker-")
            else {"uri": subscriber},
        },
    }


def broker(name: str) -> dict[str, Any]:
    return {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": name}}


def loop_free(kubectl: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    return condition(kubectl.json("get", "trigger", name, "-n", ns), "LoopFree")


def test_an_apply_that_closes_a_loop_warns_and_marks_the_triggers(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("loops")
    kubectl.ok(
        "apply", "-n", ns, "-f", "-", stdin=to_yaml([broker("broker-a"), broker("broker-b")])
    )
    ping = trigger("ping", "broker-a", "broker-b")
    quiet = kubectl.run("apply", "-n", ns, "-f", "-", stdin=to_yaml(ping))
    assert quiet.code == 0, quiet.explain()
    assert "Warning" not in quiet.stderr, quiet.explain()

    # pong closes the loop: a -> ping -> b -> pong -> a (server-side apply)
    pong = trigger("pong", "broker-b", "broker-a")
    closed = kubectl.run("apply", "--server-side", "-n", ns, "-f", "-", stdin=to_yaml(pong))
    assert closed.code == 0, closed.explain()
    expected = (
        "Warning: event loop: Broker broker-b -> Trigger pong (subscriber) -> Broker broker-a"
        " -> Trigger ping (subscriber) -> Broker broker-b"
    )
    assert expected in closed.stderr, closed.explain()
    assert "trigger.eventing.knative.dev/pong serverside-applied" in closed.stdout

    for name in ("ping", "pong"):  # both are on the loop, and neither is less Ready for it
        found = wait_until(
            functools.partial(loop_free, kubectl, ns, name), 30, f"{name} has no LoopFree"
        )
        assert found["status"] == "False", found
        assert found["reason"] == "LoopDetected", found
        assert found["severity"] == "Warning"
        assert "Trigger pong (subscriber) -> Broker broker-a" in found["message"]
    ready = condition(kubectl.json("get", "trigger", "pong", "-n", ns))
    assert ready is not None
    assert ready.get("reason") != "LoopDetected"

    # a declared reply type its own filter matches: a loop through a Service's replies
    replies = trigger(
        "echo", "broker-a", "http://echo.example/", **{"kawa.dev/reply-types": "order.paid"}
    )
    echoed = kubectl.run("apply", "-n", ns, "-f", "-", stdin=to_yaml(replies))
    assert (
        "Warning: event loop: Broker broker-a -> Trigger echo (reply: order.paid) -> Broker"
        " broker-a (events of type 'order.paid' come back to Trigger echo" in echoed.stderr
    ), echoed.explain()

    # the loop broken, the condition goes
    kubectl.ok("delete", "trigger", "pong", "-n", ns)
    wait_until(lambda: loop_free(kubectl, ns, "ping") is None, 30, "ping keeps LoopFree")


def test_a_bad_reply_types_annotation_is_refused_at_its_field(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("loops-bad")
    bad = trigger("t", "broker-a", "http://x.example/", **{"kawa.dev/reply-types": "a,,b"})
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=to_yaml(bad))
    assert "metadata.annotations[kawa.dev/reply-types]" in refused.stderr, refused.explain()
    assert "empty one" in refused.stderr


def test_a_loop_closed_by_a_subscription_marks_the_trigger_at_once(
    kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    """No Trigger of the namespace was on a loop; a Subscription (not a Trigger) closes one:
    the Trigger is marked without waiting for a resync."""
    ns = namespaces("loops-sub")
    channel = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "metadata": {"name": "c"},
    }
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=to_yaml([broker("broker-c"), channel]))

    def address() -> str | None:
        found = kubectl.json("get", "inmemorychannel", "c", "-n", ns).get("status", {})
        url: str | None = (found.get("address") or {}).get("url")
        return url

    # the channel by its address, not by a ref (which the Trigger would track)
    to_channel = trigger("fan", "broker-c", wait_until(address, 30, "the channel has no address"))
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=to_yaml(to_channel))
    wait_until(lambda: condition(kubectl.json("get", "trigger", "fan", "-n", ns)), 30, "no status")
    assert loop_free(kubectl, ns, "fan") is None
    back = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "Subscription",
        "metadata": {"name": "back", "annotations": {"kawa.dev/reply-types": "order.paid"}},
        "spec": {
            "channel": {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "name": "c",
            },
            "subscriber": {"uri": "http://echo.example/"},
            "reply": {
                "ref": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": "broker-c",
                }
            },
        },
    }
    closed = kubectl.run("apply", "-n", ns, "-f", "-", stdin=to_yaml(back))
    assert "Warning: event loop" in closed.stderr, closed.explain()
    # well before the Trigger controller's 10 s resync would find it
    found = wait_until(functools.partial(loop_free, kubectl, ns, "fan"), 8, "fan not marked")
    assert found["status"] == "False", found
