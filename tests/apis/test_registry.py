from __future__ import annotations

from typing import Annotated

import pytest

from kawa.apis.model import KubeObject, Model, doc
from kawa.apis.registry import BROKER, SCHEME, TRIGGER, ResourceKind, Scheme
from kawa.errors import ValidationError

from .helpers import broker_obj, field_errors, trigger_obj


def test_kind_facts() -> None:
    assert BROKER.api_versions == ("eventing.knative.dev/v1", "eventing.knative.dev/v1alpha1")
    assert TRIGGER.api_versions == ("eventing.knative.dev/v1", "eventing.knative.dev/v1alpha1")
    assert TRIGGER.storage_api_version == "eventing.knative.dev/v1"
    assert (TRIGGER.plural, TRIGGER.singular, TRIGGER.namespaced) == ("triggers", "trigger", True)
    assert BROKER.resource == "brokers.eventing.knative.dev"
    assert "eventing" in BROKER.categories
    assert [c.name for c in TRIGGER.printer_columns] == [
        "Broker",
        "Subscriber_URI",
        "Age",
        "Ready",
        "Reason",
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("broker", BROKER),
        ("brokers", BROKER),
        ("Broker", BROKER),
        ("BROKERS", BROKER),
        ("brokers.eventing.knative.dev", BROKER),
        ("trigger", TRIGGER),
        ("Triggers", TRIGGER),
    ],
)
def test_resolve_by_any_name(name: str, kind: ResourceKind) -> None:
    assert SCHEME.resolve(name) is kind


def test_unknown_names_list_the_known_kinds() -> None:
    errors = field_errors(lambda: SCHEME.resolve("frobnicator"))
    message = errors["kind"]
    assert message.startswith("unknown resource type 'frobnicator'; known kinds: ")
    assert "Broker" in message
    assert "Trigger" in message


def test_lookup_by_api_version_and_kind() -> None:
    assert SCHEME.for_api_version_kind("eventing.knative.dev/v1alpha1", "Trigger") is TRIGGER
    unknown = field_errors(lambda: SCHEME.for_api_version_kind("x.dev/v1", "Thing"))
    assert list(unknown) == ["kind"]
    assert unknown["kind"].startswith("unknown kind 'Thing' (x.dev/v1); known kinds: ")
    assert "Broker" in unknown["kind"]
    wrong_version = field_errors(
        lambda: SCHEME.for_api_version_kind("eventing.knative.dev/v2", "Broker")
    )
    assert wrong_version == {
        "apiVersion": "Broker is served as eventing.knative.dev/v1, "
        "eventing.knative.dev/v1alpha1, not 'eventing.knative.dev/v2'"
    }
    missing = field_errors(lambda: SCHEME.for_object({}))
    assert missing == {
        "apiVersion": "required field is missing",
        "kind": "required field is missing",
    }


def test_lookup_by_resource_path() -> None:
    assert SCHEME.for_resource("eventing.knative.dev", "v1", "triggers") is TRIGGER
    assert SCHEME.for_resource("eventing.knative.dev", "v1alpha1", "triggers") is TRIGGER
    assert SCHEME.for_resource("eventing.knative.dev", "v1alpha1", "brokers") is BROKER
    assert SCHEME.for_resource("eventing.knative.dev", "v2", "brokers") is None
    assert SCHEME.for_resource("eventing.knative.dev", "v1", "trigger") is None


def test_scheme_dispatches_default_validate_and_update() -> None:
    defaulted = SCHEME.default(broker_obj())
    assert defaulted["metadata"]["annotations"] == {
        "eventing.knative.dev/broker.class": "MTChannelBasedBroker"
    }
    SCHEME.validate(defaulted)
    SCHEME.validate(trigger_obj())
    with pytest.raises(ValidationError):
        SCHEME.validate(trigger_obj({"broker": "default"}))
    with pytest.raises(ValidationError):
        SCHEME.validate_update(trigger_obj(), trigger_obj({"broker": "x", "subscriber": {}}))


class ThingSpec(Model):
    """A thing."""

    size: Annotated[int, doc("How big.", ge=1)] = 1


class Thing(KubeObject):
    """A kind made up for this test."""

    spec: Annotated[ThingSpec, doc("The thing's spec.")] = ThingSpec()


def test_adding_a_kind_is_one_value_and_names_must_not_clash() -> None:
    ping = ResourceKind(
        group="example.dev",
        versions=("v1",),
        kind="Thing",
        plural="things",
        singular="thing",
        namespaced=True,
        model=Thing,
        short_names=("thg",),
    )
    scheme = Scheme([*SCHEME.kinds, ping])
    assert scheme.resolve("THG") is ping
    assert scheme.for_resource("example.dev", "v1", "things") is ping
    clash = ResourceKind(
        group="other.dev",
        versions=("v1",),
        kind="Other",
        plural="others",
        singular="other",
        namespaced=True,
        model=Thing,
        short_names=("broker",),
    )
    with pytest.raises(ValueError, match="names both Broker and Other"):
        Scheme([*SCHEME.kinds, clash])
