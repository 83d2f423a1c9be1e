"""Building CloudEvents for the filter tests."""

from __future__ import annotations

from kawa.cloudevents import AttributeValue, CloudEvent


def event(**attributes: AttributeValue) -> CloudEvent:
    """A CloudEvent with the required attributes (overridable) plus ``attributes``."""
    base: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": "1",
        "source": "/src",
        "type": "dev.knative.example",
    }
    base.update(attributes)
    return CloudEvent(base)
