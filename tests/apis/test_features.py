"""Knative Eventing's feature flags (``knative-eventing/config-features``): defaults, reading,
admission of bad values, and the OIDC audience of an addressable."""

from __future__ import annotations

import pytest

from kawa.apis import features
from kawa.apis.core.configmap import parse_config_map
from kawa.errors import ValidationError


def test_knatives_defaults_without_a_configmap() -> None:
    flags = features.DEFAULTS
    assert flags.oidc is False
    assert flags.authorization_mode == "allow-same-namespace"
    assert flags.transport_encryption == "disabled"
    assert flags.eventtype_auto_create is False
    assert flags.value("delivery-timeout") == "enabled"


def test_the_configmap_sets_the_flags_in_any_case_and_with_blanks() -> None:
    flags = features.from_data(
        {
            "authentication-oidc": " Enabled ",
            "default-authorization-mode": "deny-all",
            "transport-encryption": "strict",
            "eventtype-auto-create": "enabled",
            "some-future-flag": "allowed",
            "_example": "ignored",
        }
    )
    assert flags.oidc is True
    assert flags.authorization_mode == "deny-all"
    assert flags.transport_encryption == "strict"
    assert flags.eventtype_auto_create is True
    assert flags.value("some-future-flag") == "allowed"


def test_a_value_that_cannot_be_read_keeps_the_default() -> None:
    flags = features.from_data({"authentication-oidc": "yes", "transport-encryption": "on"})
    assert flags.oidc is False
    assert flags.transport_encryption == "disabled"


def config_features(data: dict[str, str], namespace: str = "knative-eventing") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "config-features", "namespace": namespace},
        "data": data,
    }


def test_admission_refuses_a_bad_flag_value_naming_the_key_and_the_choices() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_config_map(
            config_features({"authentication-oidc": "enable", "transport-encryption": "tls"})
        )
    text = str(refused.value)
    assert "data[authentication-oidc]" in text
    assert "must be one of disabled, enabled" in text
    assert "data[transport-encryption]" in text
    assert "disabled, permissive, strict" in text


def test_admission_accepts_good_values_and_leaves_other_configmaps_alone() -> None:
    parse_config_map(config_features({"authentication-oidc": "enabled", "x": "anything"}))
    # the same name elsewhere is just a ConfigMap
    parse_config_map(config_features({"authentication-oidc": "maybe"}, namespace="default"))


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("eventing.knative.dev/v1", "Broker", "eventing.knative.dev/broker/ns/n"),
        (
            "messaging.knative.dev/v1",
            "InMemoryChannel",
            "messaging.knative.dev/inmemorychannel/ns/n",
        ),
        ("flows.knative.dev/v1", "Sequence", "flows.knative.dev/sequence/ns/n"),
    ],
)
def test_audience_in_knatives_form(api_version: str, kind: str, expected: str) -> None:
    assert features.audience(api_version, kind, "ns", "n") == expected
