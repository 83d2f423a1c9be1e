"""The log sink's line (pure) and the timer's event, as Knative's connectors make them."""

from __future__ import annotations

from datetime import UTC, datetime

from kawa.apis.integration import integrationsink, integrationsource
from kawa.integrationsink import format_line
from kawa.sources.integration import timer_event

HEADERS = {"ce-type": "t", "Authorization": "Bearer abc", "ce-id": "1"}


def settings(**fields: object) -> integrationsink.Log:
    return integrationsink.Log.model_validate(fields)


def test_the_default_line_is_camels() -> None:
    line = format_line(settings(), HEADERS, b"Hello, Eventing Core")
    assert line == "Exchange[ExchangePattern: InOnly, BodyType: String, Body: Hello, Eventing Core]"


def test_headers_are_sorted_and_the_token_never_shown() -> None:
    line = format_line(settings(showHeaders=True, showBodyType=False), HEADERS, b"x")
    assert line == (
        "Exchange[ExchangePattern: InOnly, Headers: {Authorization=xxxxx, ce-id=1, ce-type=t}, "
        "Body: x]"
    )


def test_mask_marker_multiline_and_binary_data() -> None:
    masked = format_line(
        settings(logMask=True, showExchangePattern=False, marker="M"),
        {},
        b'{"user": "u", "password": "p"}',
    )
    assert masked == 'M Exchange[BodyType: String, Body: {"user": "u", "password": "xxxxx"}]'
    binary = format_line(settings(multiline=True, showExchangePattern=False), {}, b"\xff\x00")
    assert binary == "Exchange[\n  BodyType: byte[]\n  Body: [2 bytes]\n]"


def test_the_timer_event_has_knatives_attributes() -> None:
    source = integrationsource.parse_integrationsource(
        {
            "apiVersion": integrationsource.API_VERSION,
            "kind": integrationsource.KIND,
            "metadata": {"name": "t", "namespace": "d"},
            "spec": {
                "timer": {"message": "hi"},
                "sink": {"uri": "http://127.0.0.1:9/"},
                "ceOverrides": {"extensions": {"team": "a", "type": "ignored"}},
            },
        }
    )
    event = timer_event(source, "id-1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert event.attributes == {
        "specversion": "1.0",
        "id": "id-1",
        "type": "dev.knative.eventing.timer",
        "source": "dev.knative.eventing.timer-source",
        "subject": "timer-source",
        "time": "2026-01-02T03:04:05.000000Z",
        "datacontenttype": "text/plain",
        "team": "a",
    }
    assert event.data == b"hi"


def test_other_credentials_are_never_shown_either() -> None:
    headers = {"Proxy-Authorization": "Basic x", "Cookie": "session=s", "ce-id": "1"}
    line = format_line(settings(showHeaders=True, showBodyType=False), headers, b"x")
    assert "Basic x" not in line
    assert "session=s" not in line
    assert "Cookie=xxxxx" in line
