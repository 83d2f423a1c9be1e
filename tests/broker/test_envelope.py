"""The broker's log record: the event plus forwarded headers, and what ingress makes of it."""

from __future__ import annotations

import pytest

from kawa.broker import envelope, ttl
from kawa.errors import ValidationError

from .broker_support import event


def test_wrap_and_unwrap_round_trip() -> None:
    ev = event("1", data=b'{"k": "v"}', datacontenttype="application/json")
    assert envelope.unwrap(envelope.wrap(ev)) == (ev, {})
    headers = {"traceparent": "00-abc-def-01", "x-request-id": "r1"}
    assert envelope.unwrap(envelope.wrap(ev, headers)) == (ev, headers)


def test_on_ingress_applies_the_ttl_rule_then_wraps() -> None:
    stored, headers = envelope.unwrap(envelope.on_ingress(event("1"), {"x-request-id": "r"}))
    assert stored.attributes[ttl.TTL_ATTRIBUTE] == ttl.DEFAULT_TTL
    assert headers == {"x-request-id": "r"}
    again, none = envelope.unwrap(envelope.on_ingress(stored))
    assert again.attributes[ttl.TTL_ATTRIBUTE] == ttl.DEFAULT_TTL - 1
    assert none == {}
    with pytest.raises(ValidationError, match="exhausted"):
        envelope.on_ingress(event("1").with_attributes({ttl.TTL_ATTRIBUTE: 1}))
