"""kawa's delivery limits (kawa.apis.limits): read from annotations, checked at admission on a
Trigger, a Subscription, a Sequence and a Parallel, carried on a channel as one annotation;
and what a Knative Service subscriber holds at once (kawa.apis.serving.autoscaling.capacity)."""

from __future__ import annotations

from typing import Any

import pytest

from kawa.apis import limits
from kawa.apis.flows import parallel, sequence
from kawa.apis.messaging import subscription
from kawa.apis.serving import autoscaling
from kawa.apis.serving.autoscaling import AutoscalerConfig

from .helpers import field_errors

RATE = f"metadata.annotations[{limits.MAX_RATE}]"
IN_FLIGHT = f"metadata.annotations[{limits.MAX_IN_FLIGHT}]"
BAD = {limits.MAX_RATE: "fast", limits.MAX_IN_FLIGHT: "0"}
EXPECTED = {
    RATE: "expected a positive number of events per second, got 'fast'",
    IN_FLIGHT: "expected a positive whole number of deliveries, got '0'",
}


def test_limits_are_read_and_the_lower_in_flight_bound_wins() -> None:
    found = limits.limits_of(
        {limits.MAX_RATE: "2.5", limits.MAX_IN_FLIGHT: "3"},
        {limits.SUBSCRIBER_MAX_IN_FLIGHT: "2"},
    )
    assert found == limits.Limits(2.5, 3, 2)
    assert found.in_flight == 2
    assert limits.Limits(max_in_flight=3).in_flight == 3
    assert limits.limits_of({}) == limits.NO_LIMITS
    assert limits.NO_LIMITS.in_flight is None
    # not valid (stored before admission checked it): not a limit
    assert limits.limits_of({limits.MAX_RATE: "-1", limits.MAX_IN_FLIGHT: "x"}).max_rate is None
    # the subscriber's bound is the control plane's, read from the status only
    assert limits.limits_of({limits.SUBSCRIBER_MAX_IN_FLIGHT: "1"}) == limits.NO_LIMITS


def test_a_channel_carries_a_subscribers_limits_in_one_annotation() -> None:
    assert limits.channel_annotation("u-1") == "limits.kawa.dev/u-1"
    both = limits.Limits(20.0, None, 2)
    text = limits.encode(both)
    assert text == '{"kawa.dev/max-rate":"20","kawa.dev/subscriber-max-in-flight":"2"}'
    assert limits.decode(text) == both
    assert limits.decode(limits.encode(limits.Limits(0.5, 4))) == limits.Limits(0.5, 4)
    assert limits.encode(limits.NO_LIMITS) is None
    for unreadable in ("{", "[1]", None, 7):
        assert limits.decode(unreadable) == limits.NO_LIMITS


def test_the_subscribers_bound_is_kept_in_status_annotations() -> None:
    status: dict[str, Any] = {"annotations": {"other": "x"}}
    limits.with_subscriber_limit(status, 4)
    assert status["annotations"] == {"other": "x", limits.SUBSCRIBER_MAX_IN_FLIGHT: "4"}
    limits.with_subscriber_limit(status, None)
    assert status["annotations"] == {"other": "x"}
    alone: dict[str, Any] = {}
    limits.with_subscriber_limit(alone, 2)
    limits.with_subscriber_limit(alone, None)
    assert alone == {}


def _meta(annotations: dict[str, str]) -> dict[str, Any]:
    return {"name": "x", "namespace": "ns", "annotations": annotations}


def test_a_subscription_with_bad_limits_is_refused_naming_the_annotations() -> None:
    obj = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "Subscription",
        "metadata": _meta(BAD),
        "spec": {
            "channel": {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "name": "c",
            },
            "subscriber": {"uri": "http://s/"},
        },
    }
    assert field_errors(lambda: subscription.parse_subscription(obj)) == EXPECTED
    obj["metadata"] = _meta({limits.MAX_RATE: "0.5", limits.MAX_IN_FLIGHT: "4"})
    assert subscription.parse_subscription(obj).annotations[limits.MAX_RATE] == "0.5"


@pytest.mark.parametrize(
    ("kind", "spec", "parse"),
    [
        ("Sequence", {"steps": [{"uri": "http://a/"}]}, sequence.parse_sequence),
        (
            "Parallel",
            {"branches": [{"subscriber": {"uri": "http://a/"}}]},
            parallel.parse_parallel,
        ),
    ],
)
def test_a_flow_with_bad_limits_is_refused_naming_the_annotations(
    kind: str, spec: dict[str, Any], parse: Any
) -> None:
    obj = {"apiVersion": "flows.knative.dev/v1", "kind": kind, "metadata": _meta(BAD), "spec": spec}
    assert field_errors(lambda: parse(obj)) == EXPECTED


def _template(cc: int = 0, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "annotations": {f"autoscaling.knative.dev/{k}": v for k, v in annotations.items()}
        },
        "spec": {"containerConcurrency": cc, "containers": [{"image": "x"}]},
    }


def _capacity(template: dict[str, Any], config: AutoscalerConfig | None = None) -> int | None:
    settings, _ = autoscaling.revision_settings(template, config or AutoscalerConfig())
    return autoscaling.capacity(settings)


def test_a_services_capacity_is_its_concurrency_times_its_max_scale() -> None:
    assert _capacity(_template(1, **{"max-scale": "2"})) == 2
    assert _capacity(_template(10, **{"max-scale": "3"})) == 30
    # containerConcurrency 0: the autoscaler's target per instance (100 x 70% by default)
    assert _capacity(_template(0, **{"max-scale": "2"})) == 140
    assert _capacity(_template(0, **{"max-scale": "2", "target": "5"})) == 8  # ceil(3.5) x 2
    # no max-scale: kawa's cap (kawa-max-scale-default) ...
    capped = AutoscalerConfig(max_scale_cap=4)
    assert _capacity(_template(2), capped) == 8
    # ... and none at all when that cap is 0: no bound
    assert _capacity(_template(2), AutoscalerConfig(max_scale_cap=0)) is None
