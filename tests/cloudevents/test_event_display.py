"""Knative event-display text, compared line by line with sdk-go's Event.String() layout."""

from __future__ import annotations

from kawa.cloudevents.display import format_event, indent_json
from kawa.cloudevents.event import CloudEvent


def test_full_event() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "2b72d7bf",
            "source": "https://knative.dev/heartbeats",
            "type": "dev.knative.eventing.samples.heartbeat",
            "datacontenttype": "application/json",
            "time": "2019-10-18T17:23:20.809775386+02:00",
            "subject": "beat",
            "dataschema": "https://example.com/schema",
            "the": 42,
            "heart": "yes",
            "beats": True,
        },
        b'{"id":2,"label":"","nested":{"list":[1,{"a":[]}],"empty":{}}}',
    )
    assert format_event(event) == (
        "☁️  cloudevents.Event\n"
        "Context Attributes,\n"
        "  specversion: 1.0\n"
        "  type: dev.knative.eventing.samples.heartbeat\n"
        "  source: https://knative.dev/heartbeats\n"
        "  subject: beat\n"
        "  id: 2b72d7bf\n"
        "  time: 2019-10-18T15:23:20.809775386Z\n"
        "  dataschema: https://example.com/schema\n"
        "  datacontenttype: application/json\n"
        "Extensions,\n"
        "  beats: true\n"
        "  heart: yes\n"
        "  the: 42\n"
        "Data,\n"
        "  {\n"
        '    "id": 2,\n'
        '    "label": "",\n'
        '    "nested": {\n'
        '      "list": [\n'
        "        1,\n"
        "        {\n"
        '          "a": []\n'
        "        }\n"
        "      ],\n"
        '      "empty": {}\n'
        "    }\n"
        "  }\n"
    )


def test_minimal_event_without_data() -> None:
    event = CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})
    assert format_event(event) == (
        "☁️  cloudevents.Event\n"
        "Context Attributes,\n"
        "  specversion: 1.0\n"
        "  type: t\n"
        "  source: /s\n"
        "  id: 1\n"
    )


def test_text_data_is_printed_as_is() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
            "datacontenttype": "text/plain",
        },
        b"line one\nline two",
    )
    assert format_event(event).endswith("Data,\n  line one\nline two\n")


def test_json_without_json_media_type_is_not_reindented() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
            "datacontenttype": "text/plain",
        },
        b'{"a":1}',
    )
    assert format_event(event).endswith('Data,\n  {"a":1}\n')


def test_invalid_json_is_printed_as_is() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
            "datacontenttype": "application/json",
        },
        b'{"a":',
    )
    assert format_event(event).endswith('Data,\n  {"a":\n')


def test_plus_json_is_reindented_keeping_key_order_and_numbers() -> None:
    event = CloudEvent(
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/s",
            "type": "t",
            "datacontenttype": "application/vnd.example+json; charset=utf-8",
        },
        b' { "z" : 1.50e3 , "a" : "x\\"y:, {" } ',
    )
    assert format_event(event).endswith('Data,\n  {\n    "z": 1.50e3,\n    "a": "x\\"y:, {"\n  }\n')


def test_binary_data() -> None:
    event = CloudEvent(
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "raw": b"\x01\x02"},
        b"\xff\x00",
    )
    text = format_event(event)
    assert "Extensions,\n  raw: AQI=\n" in text
    assert text.endswith("Data (binary),\n  \ufffd\x00\n")


def test_v03_attributes() -> None:
    event = CloudEvent(
        {
            "specversion": "0.3",
            "id": "1",
            "source": "/s",
            "type": "t",
            "schemaurl": "https://e.com/s",
            "datacontenttype": "text/plain",
            "time": "2020-01-01T00:00:00Z",
        },
        b"x",
    )
    assert format_event(event) == (
        "☁️  cloudevents.Event\n"
        "Context Attributes,\n"
        "  specversion: 0.3\n"
        "  type: t\n"
        "  source: /s\n"
        "  id: 1\n"
        "  time: 2020-01-01T00:00:00Z\n"
        "  schemaurl: https://e.com/s\n"
        "  datacontenttype: text/plain\n"
        "Data,\n"
        "  x\n"
    )


def test_indent_json_edge_cases() -> None:
    assert indent_json("[]") == "[]"
    assert indent_json("{ }") == "{}"
    assert indent_json('"s"') == '"s"'
    assert indent_json("[[],[1]]") == "[\n    [],\n    [\n      1\n    ]\n  ]"
    assert indent_json('{"k\\\\":"v"}') == '{\n    "k\\\\": "v"\n  }'
