"""Loop detection from a namespace's objects (kawa.loops): loops found, non-loops left alone."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kawa import loops
from kawa.apis.reply_types import ANNOTATION, reply_type_errors, reply_types_of

NS = "default"


def broker(name: str, dls: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if dls is not None:
        spec["delivery"] = {"deadLetterSink": dls}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def ref(kind: str, name: str) -> dict[str, Any]:
    groups = {
        "Broker": "eventing.knative.dev/v1",
        "EventTransform": "eventing.knative.dev/v1alpha1",
        "Sequence": "flows.knative.dev/v1",
        "Parallel": "flows.knative.dev/v1",
        "InMemoryChannel": "messaging.knative.dev/v1",
        "Service": "serving.knative.dev/v1",
    }
    return {"ref": {"apiVersion": groups[kind], "kind": kind, "name": name}}


def trigger(
    name: str,
    on: str,
    subscriber: dict[str, Any],
    *,
    filter: dict[str, str] | None = None,
    filters: list[dict[str, Any]] | None = None,
    replies: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"broker": on, "subscriber": subscriber}
    if filter is not None:
        spec["filter"] = {"attributes": filter}
    if filters is not None:
        spec["filters"] = filters
    metadata: dict[str, Any] = {"name": name, "namespace": NS}
    if replies is not None:
        metadata["annotations"] = {ANNOTATION: replies}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": metadata,
        "spec": spec,
    }


def found(*objects: dict[str, Any]) -> list[str]:
    return [loop.text() for loop in loops.find_loops(loops.topology(NS, objects))]


def test_a_trigger_whose_subscriber_is_its_own_broker_is_a_loop() -> None:
    assert found(broker("default"), trigger("t", "default", ref("Broker", "default"))) == [
        "Broker default -> Trigger t (subscriber) -> Broker default"
    ]


def test_a_declared_reply_its_own_filter_matches_is_a_loop() -> None:
    looping = trigger(
        "t", "default", ref("Service", "svc"), filter={"type": "order.paid"}, replies="order.paid"
    )
    (loop,) = loops.find_loops(loops.topology(NS, [broker("default"), looping]))
    assert loop.text() == "Broker default -> Trigger t (reply: order.paid) -> Broker default"
    assert loop.event_type == "order.paid"
    assert "events of type 'order.paid' come back to Trigger t" in loops.message(loop)


def test_replies_of_another_type_or_undeclared_are_no_loop() -> None:
    other = trigger("t", "default", ref("Service", "s"), filter={"type": "a"}, replies="b")
    assert found(broker("default"), other) == []
    unknown = trigger("t", "default", ref("Service", "s"), filter={"type": "a"})
    assert found(broker("default"), unknown) == []  # unknown replies: no warning
    none = trigger("t", "default", ref("Service", "s"), replies="")
    assert found(broker("default"), none) == []  # declared: no replies at all


def test_a_ping_pong_across_two_brokers_is_one_loop() -> None:
    objects = [
        broker("a"),
        broker("b"),
        trigger("ping", "a", ref("Broker", "b"), filter={"type": "x"}),
        trigger("pong", "b", ref("Broker", "a"), filters=[{"prefix": {"type": "x"}}]),
    ]
    assert found(*objects) == [
        "Broker a -> Trigger ping (subscriber) -> Broker b -> Trigger pong (subscriber) -> Broker a"
    ]


def test_disjoint_filters_make_no_loop() -> None:
    objects = [
        broker("a"),
        broker("b"),
        trigger("ping", "a", ref("Broker", "b"), filter={"type": "x"}),
        trigger("pong", "b", ref("Broker", "a"), filters=[{"exact": {"type": "y"}}]),
    ]
    assert found(*objects) == []  # an event the first passes, the second refuses
    prefixes = [
        broker("a"),
        broker("b"),
        trigger("ping", "a", ref("Broker", "b"), filters=[{"prefix": {"type": "com.a."}}]),
        trigger("pong", "b", ref("Broker", "a"), filters=[{"prefix": {"type": "com.b."}}]),
    ]
    assert found(*prefixes) == []


def test_cesql_and_suffix_filters_are_decided_by_the_real_filters() -> None:
    looping = trigger(
        "t",
        "default",
        ref("Broker", "default"),
        filters=[{"suffix": {"type": ".done"}}, {"cesql": "type LIKE '%.done'"}],
    )
    assert len(found(broker("default"), looping)) == 1
    never = trigger(
        "t",
        "default",
        ref("Broker", "default"),
        filters=[{"suffix": {"type": ".done"}}, {"cesql": "type = 'x.started'"}],
    )
    assert found(broker("default"), never) == []  # the witness fails the expression


def test_a_sequence_whose_reply_goes_back_to_a_matching_trigger() -> None:
    sequence: dict[str, Any] = {
        "apiVersion": "flows.knative.dev/v1",
        "kind": "Sequence",
        "metadata": {"name": "seq", "namespace": NS, "annotations": {ANNOTATION: "step.done"}},
        "spec": {
            "steps": [ref("Service", "one"), ref("Service", "two")],
            "reply": ref("Broker", "default"),
        },
    }
    objects = [
        broker("default"),
        trigger("start", "default", ref("Sequence", "seq"), filter={"type": "step.done"}),
        sequence,
    ]
    assert found(*objects) == [
        "Broker default -> Trigger start (subscriber) -> Sequence seq (reply: step.done)"
        " -> Broker default"
    ]
    sequence["metadata"]["annotations"][ANNOTATION] = "order.shipped"
    assert found(*objects) == []


def test_an_eventtransform_literal_type_is_its_reply_type() -> None:
    transform = {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventTransform",
        "metadata": {"name": "tx", "namespace": NS},
        "spec": {"jsonata": {"expression": '{"specversion": "1.0", "id": id, "type": "a"}'}},
    }
    objects = [broker("default"), transform]
    looping = trigger("t", "default", ref("EventTransform", "tx"), filter={"type": "a"})
    assert found(*objects, looping) == ["Broker default -> Trigger t (reply: a) -> Broker default"]
    other = trigger("t", "default", ref("EventTransform", "tx"), filter={"type": "b"})
    assert found(*objects, other) == []


def test_a_dead_letter_sink_back_to_the_broker_is_a_loop() -> None:
    objects = [
        broker("default", dls=ref("Broker", "default")),
        trigger("t", "default", ref("Service", "s")),
    ]
    assert found(*objects) == ["Broker default -> Trigger t (dead-letter sink) -> Broker default"]


def test_a_channel_subscription_back_into_its_channel_is_a_loop() -> None:
    subscription: dict[str, Any] = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "Subscription",
        "metadata": {"name": "s", "namespace": NS},
        "spec": {
            "channel": {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "name": "c",
            },
            "subscriber": ref("Service", "svc"),
            "reply": ref("InMemoryChannel", "c"),
        },
    }
    assert found(subscription) == []  # the service's replies are unknown
    subscription["metadata"]["annotations"] = {ANNOTATION: "x"}
    assert found(subscription) == [
        "InMemoryChannel c -> Subscription s (reply: x) -> InMemoryChannel c"
    ]


def test_a_subscriber_by_url_is_known_by_the_brokers_address() -> None:
    target = broker("default")
    target["status"] = {"address": {"url": "http://kawa.local/default/default"}}
    looping = trigger("t", "default", {"uri": "http://kawa.local/default/default"})
    assert len(found(target, looping)) == 1


def test_observed_reply_types_stand_in_for_undeclared_ones() -> None:
    objects = [broker("default"), trigger("t", "default", ref("Service", "s"))]
    observed = {("Trigger", "t"): ("x",)}
    assert len(loops.find_loops(loops.topology(NS, objects, observed=observed))) == 1


def test_the_search_is_bounded() -> None:
    # a thousand brokers chained, each passing everything to the next: no loop
    objects: list[dict[str, Any]] = []
    for i in range(1000):
        objects += [broker(f"b{i}"), trigger(f"t{i}", f"b{i}", ref("Broker", f"b{i + 1}"))]
    assert found(*objects) == []
    objects.append(trigger("back", "b1000", ref("Broker", "b0")))
    (loop,) = found(*objects)
    assert loop.startswith("Broker b0 -> Trigger t0") or "Trigger back" in loop


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a, b ,c", ("a", "b", "c")), ("", ()), ("a,a", ("a",))],
)
def test_the_reply_types_annotation(text: str, expected: tuple[str, ...]) -> None:
    assert reply_types_of({ANNOTATION: text}) == expected
    assert reply_type_errors({ANNOTATION: text}) == []


def test_a_bad_reply_types_annotation_names_the_field() -> None:
    (error,) = reply_type_errors({ANNOTATION: "a,,b"})
    assert error.path == f"metadata.annotations[{ANNOTATION}]"
    assert "empty one" in error.message
    assert reply_types_of({ANNOTATION: "a,,b"}) is None


def test_the_work_is_bounded_whatever_the_filters() -> None:
    # every trigger filters on its own extension: the event passed on must pass them all
    objects: list[dict[str, Any]] = []
    for i in range(500):
        on = ref("Broker", f"b{(i + 1) % 500}")
        objects += [broker(f"b{i}"), trigger(f"t{i}", f"b{i}", on, filter={f"x{i}": "1"})]
    topology = loops.topology(NS, objects)
    started = time.perf_counter()
    found = loops.find_loops(topology)  # found or not within the budget, but soon
    assert time.perf_counter() - started < 5.0
    for loop in found:  # a long loop is told short
        assert "more steps" in loop.text()
        assert len(loop.text()) < 600


def test_a_loop_is_told_from_any_object_on_it() -> None:
    objects = [
        broker("a"),
        broker("b"),
        trigger("ping", "a", ref("Broker", "b")),
        trigger("pong", "b", ref("Broker", "a")),
    ]
    (loop,) = loops.find_loops(loops.topology(NS, objects))
    assert loop.starting_at("Trigger", "pong").text() == (
        "Broker b -> Trigger pong (subscriber) -> Broker a -> Trigger ping (subscriber) -> Broker b"
    )
    assert loop.starting_at("Broker", "b").text() == loop.starting_at("Trigger", "pong").text()
    assert loop.starting_at("Trigger", "ping") == loop


def test_a_loop_of_replies_through_two_triggers_of_one_broker() -> None:
    objects = [
        broker("default"),
        trigger("ask", "default", ref("Service", "a"), filter={"type": "q"}, replies="r"),
        trigger("answer", "default", ref("Service", "b"), filter={"type": "r"}, replies="q"),
    ]
    assert found(*objects) == [
        "Broker default -> Trigger ask (reply: r) -> Broker default -> Trigger answer (reply: q)"
        " -> Broker default"
    ]


def test_many_triggers_of_one_broker_with_declared_replies_are_analysed_in_full() -> None:
    objects = [broker("default")]
    for i in range(500):
        filters = [{"cesql": f"type = 'a{i}'"}] if i % 2 else [{"exact": {"type": f"a{i}"}}]
        objects.append(
            trigger(f"t{i}", "default", ref("Service", "s"), filters=filters, replies=f"b{i}")
        )
    assert found(*objects) == []
    objects.append(
        trigger("echo", "default", ref("Service", "x"), filter={"type": "b7"}, replies="a7")
    )
    assert found(*objects) == [
        "Broker default -> Trigger t7 (reply: b7) -> Broker default -> Trigger echo (reply: a7)"
        " -> Broker default"
    ]
