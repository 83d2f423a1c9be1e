"""The ``kawa.dev/retention`` annotation of a Broker, an InMemoryChannel, a Channel or a flow
(which carry it to their channels): what it reads as, and the 422 it gets at admission when
it is not a duration."""

from __future__ import annotations

import pytest

from kawa.apis import eventing
from kawa.apis.flows import sequence
from kawa.apis.messaging import channel, inmemorychannel
from kawa.apis.retention import ANNOTATION, retention_errors, retention_of

from .helpers import broker_obj, field_errors

PATH = f"metadata.annotations[{ANNOTATION}]"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("P7D", 7 * 86400.0), ("PT1H", 3600.0), ("PT1.5S", 1.5), ("3600", 3600.0), ("0", 0.0)],
)
def test_a_duration_or_seconds(text: str, seconds: float) -> None:
    assert retention_of({ANNOTATION: text}) == seconds
    assert retention_errors({ANNOTATION: text}) == []
    eventing.parse_broker(broker_obj(annotations={ANNOTATION: text}))
    inmemorychannel.parse_inmemorychannel(channel_obj({ANNOTATION: text}))
    channel.parse_channel(channel_obj({ANNOTATION: text}, channel.KIND))
    sequence.parse_sequence(sequence_obj({ANNOTATION: text}))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("seven days", "ISO 8601 duration"),
        ("-5", ">= 0"),
        ("P1Y", "years are ambiguous"),
        ("PT", "invalid duration"),
        ("P99999D", "at most ten years"),
        ("inf", ">= 0"),
    ],
)
def test_a_bad_retention_is_refused_at_its_annotation(text: str, says: str) -> None:
    assert retention_of({ANNOTATION: text}) is None
    errors = field_errors(lambda: eventing.parse_broker(broker_obj(annotations={ANNOTATION: text})))
    assert list(errors) == [PATH]
    assert says in errors[PATH]
    errors = field_errors(
        lambda: inmemorychannel.parse_inmemorychannel(channel_obj({ANNOTATION: text}))
    )
    assert list(errors) == [PATH]
    assert says in errors[PATH]
    errors = field_errors(
        lambda: channel.parse_channel(channel_obj({ANNOTATION: text}, channel.KIND))
    )
    assert list(errors) == [PATH]
    assert says in errors[PATH]
    errors = field_errors(lambda: sequence.parse_sequence(sequence_obj({ANNOTATION: text})))
    assert list(errors) == [PATH]
    assert says in errors[PATH]


def test_absent_means_the_logs_retention() -> None:
    assert retention_of({}) is None
    assert retention_of(None) is None


def channel_obj(annotations: dict[str, str], kind: str = inmemorychannel.KIND) -> dict[str, object]:
    return {
        "apiVersion": inmemorychannel.API_VERSION,
        "kind": kind,
        "metadata": {"name": "orders", "namespace": "default", "annotations": annotations},
        "spec": {},
    }


def sequence_obj(annotations: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": sequence.API_VERSION,
        "kind": sequence.KIND,
        "metadata": {"name": "steps", "namespace": "default", "annotations": annotations},
        "spec": {"steps": [{"uri": "http://step.example/"}]},
    }
