"""Headers forwarded to subscribers and dead-letter sinks, and the dead-letter extensions."""

from __future__ import annotations

import base64

from multidict import CIMultiDict, CIMultiDictProxy

from kawa.cloudevents import http
from kawa.delivery import headers

INCOMING = [
    ("X-Request-Id", "req-1"),
    ("Retry-After", "5"),
    ("Knative-Foo", "bar"),
    ("knative-serving-namespace", "ns"),
    ("X-B3-TraceId", "463ac35c9f6413ad"),
    ("X-B3-Sampled", "1"),
    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ("tracestate", "congo=t61rcWkgMzE"),
    ("Authorization", "Bearer secret"),
    ("Cookie", "a=b"),
    ("Content-Type", "application/json"),
    ("Ce-Id", "1"),
    ("Host", "broker"),
    ("X-Forwarded-For", "1.2.3.4"),
    ("Prefer", "reply"),
]

FORWARDED = {
    "x-request-id": "req-1",
    "retry-after": "5",
    "knative-foo": "bar",
    "knative-serving-namespace": "ns",
    "x-b3-traceid": "463ac35c9f6413ad",
    "x-b3-sampled": "1",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "congo=t61rcWkgMzE",
}


def test_only_allowed_headers_are_forwarded() -> None:
    assert headers.forwarded_headers(INCOMING) == FORWARDED


def test_forwarded_from_a_mapping() -> None:
    assert headers.forwarded_headers({"X-Request-Id": "r", "Accept": "*/*"}) == {
        "x-request-id": "r"
    }
    assert headers.forwarded_headers(None) == {}


def test_repeated_header_values_are_joined() -> None:
    got = headers.forwarded_headers([("Knative-A", "1"), ("knative-a", "2")])
    assert got == {"knative-a": "1, 2"}


def test_subscriber_headers_add_prefer_reply_and_namespace() -> None:
    got = headers.subscriber_headers(INCOMING, "team-a")
    assert got == {**FORWARDED, "Kn-Namespace": "team-a", "Prefer": "reply"}


def test_subscriber_headers_without_namespace() -> None:
    assert headers.subscriber_headers([], None) == {"Prefer": "reply"}


def test_dead_letter_headers_do_not_ask_for_a_reply() -> None:
    got = headers.dead_letter_headers(INCOMING, "team-a")
    assert got == {**FORWARDED, "Kn-Namespace": "team-a"}


def test_is_forwarded() -> None:
    assert headers.is_forwarded("KNATIVE-X")
    assert headers.is_forwarded("x-b3-spanid")
    assert not headers.is_forwarded("ce-type")
    assert not headers.is_forwarded("knative")  # the prefix needs its dash


def test_error_extensions() -> None:
    got = headers.error_extensions("http://sub.example/path", 503, b"overloaded")
    assert got == {
        "knativeerrordest": "http://sub.example/path",
        "knativeerrorcode": "503",
        "knativeerrordata": base64.b64encode(b"overloaded").decode(),
    }


def test_error_extensions_without_body_have_no_data() -> None:
    assert headers.error_extensions("http://x/", 404, b"") == {
        "knativeerrordest": "http://x/",
        "knativeerrorcode": "404",
    }


def test_error_data_is_the_base64_string_cut_to_1024_chars() -> None:
    for size in (767, 768, 769, 1000, 5000):
        body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        assert len(body) == size
        expected = base64.b64encode(body).decode()[:1024]
        assert headers.error_data(body) == expected
    assert len(headers.error_data(b"x" * 5000)) == 1024
    assert len(headers.error_data(b"x" * 10)) == 16


def test_the_ingress_one_pass_split_keeps_what_is_forwarded() -> None:
    # the broker and channel ingress read the event and the forwarded headers in one pass
    incoming = [
        *INCOMING,
        ("ce-specversion", "1.0"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("X-Request-Id", "req-2"),  # repeated: joined, as forwarded_headers does
    ]
    proxy = CIMultiDictProxy(CIMultiDict(incoming))
    event, kept = http.from_http_keeping(
        proxy, b"{}", headers.FORWARDED_HEADERS, headers.FORWARDED_PREFIXES
    )
    assert kept == headers.forwarded_headers(incoming)
    assert kept["x-request-id"] == "req-1, req-2"
    assert event.id == "1"
    assert event.source == "/s"
    assert http.from_http_keeping(proxy, b"{}")[1] == {}
