"""The default-ch-webhook config (Knative's format): parsed, picked per namespace, and every
problem reported with its path."""

from __future__ import annotations

import pytest

from kawa.apis.messaging import channel_defaults
from kawa.apis.messaging.channel import DEFAULT_CHANNEL_TEMPLATE
from kawa.errors import ValidationError

V1 = "messaging.knative.dev/v1"


def test_namespace_default_then_cluster_default_then_in_memory_channel() -> None:
    defaults = channel_defaults.parse_defaults(
        "clusterDefault:\n"
        "  apiVersion: messaging.knative.dev/v1\n"
        "  kind: InMemoryChannel\n"
        "  spec: {delivery: {retry: 1}}\n"
        "namespaceDefaults:\n"
        "  kafka-ns: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel}\n"
    )
    assert defaults.for_namespace("kafka-ns").to_dict() == {
        "apiVersion": "messaging.knative.dev/v1beta1",
        "kind": "KafkaChannel",
    }
    assert defaults.for_namespace("other").to_dict() == {
        "apiVersion": V1,
        "kind": "InMemoryChannel",
        "spec": {"delivery": {"retry": 1}},
    }
    assert channel_defaults.parse_defaults("").for_namespace("x") == DEFAULT_CHANNEL_TEMPLATE
    shipped = channel_defaults.parse_defaults(channel_defaults.DEFAULT_CONFIG)
    assert shipped.for_namespace("x") == DEFAULT_CHANNEL_TEMPLATE


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("clusterDefault: {kind: InMemoryChannel}", ["clusterDefault.apiVersion"]),
        ("namespaceDefaults: {a: 3}", ["namespaceDefaults.a"]),
        ("namespaceDefaults: [a]", ["namespaceDefaults"]),
        ("clusterdefault: {}", ["clusterdefault"]),
        ("- a", [""]),
        ("a: [", [""]),
    ],
)
def test_bad_configs_name_every_problem(text: str, paths: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        channel_defaults.parse_defaults(text)
    assert [e.path for e in caught.value.errors] == paths
    assert "ConfigMap knative-eventing/default-ch-webhook key default-ch-config" in str(
        caught.value
    )
