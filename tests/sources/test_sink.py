"""The shared sink helpers of the sources: resolution, status, ceOverrides and sending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kawa.apis.conditions import ConditionSet, get_condition
from kawa.apis.sources import pingsource
from kawa.cloudevents.event import CloudEvent
from kawa.delivery.sender import DeliveryResult, Dispatcher
from kawa.reconciler.resolver import Unresolvable
from kawa.sources import sink
from kawa.store.sqlite import SqliteResourceStore

from .ping.support import Sink, addressable_broker, closed_url, serve_sink

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def source(sink_spec: Any, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"sink": sink_spec},
    }


def event() -> CloudEvent:
    return CloudEvent({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}, b"{}")


@pytest.fixture
async def store() -> AsyncIterator[SqliteResourceStore]:
    s = SqliteResourceStore(":memory:")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Sink]:
    async for s in serve_sink(Sink()):
        yield s


@pytest.fixture
async def dispatcher() -> AsyncIterator[Dispatcher]:
    async with Dispatcher(default_timeout=5.0) as d:
        yield d


# -- resolve_sink ------------------------------------------------------------------------------


async def test_resolves_a_uri_a_ref_and_a_ref_with_a_relative_uri(
    store: SqliteResourceStore,
) -> None:
    await addressable_broker(store, "default", "http://kawa.test/brokers/default/default")
    ref = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}
    assert await sink.resolve_sink(store, source({"uri": "http://x.test/a"})) == "http://x.test/a"
    url = await sink.resolve_sink(store, source({"ref": ref}))
    assert url == "http://kawa.test/brokers/default/default"
    url = await sink.resolve_sink(store, source({"ref": ref, "uri": "extra"}))
    assert url == "http://kawa.test/brokers/default/default/extra"


async def test_the_ref_namespace_defaults_to_the_sources(store: SqliteResourceStore) -> None:
    await addressable_broker(store, "b", "http://kawa.test/other", namespace="other")
    ref = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "b"}
    assert await sink.resolve_sink(store, source({"ref": ref}, "other")) == "http://kawa.test/other"
    with pytest.raises(Unresolvable) as caught:
        await sink.resolve_sink(store, source({"ref": ref}, "default"))
    assert caught.value.reason == "NotFound"
    assert 'Broker "b" does not exist in namespace "default"' in caught.value.message


async def test_a_sink_without_an_address_is_not_addressable(store: SqliteResourceStore) -> None:
    await addressable_broker(store, "default", None)
    ref = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}
    with pytest.raises(Unresolvable) as caught:
        await sink.resolve_sink(store, source({"ref": ref}))
    assert caught.value.reason == "NotAddressable"


async def test_the_v1alpha1_flat_sink_is_read_as_a_ref(store: SqliteResourceStore) -> None:
    await addressable_broker(store, "default", "http://kawa.test/b")
    flat = {"apiVersion": "eventing.knative.dev/v1alpha1", "kind": "Broker", "name": "default"}
    assert await sink.resolve_sink(store, source(flat)) == "http://kawa.test/b"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, "spec.sink: required field is missing"),
        ({}, "spec.sink: expected at least one of ref or uri"),
        ({"uri": "relative/path"}, "spec.sink.uri: must be an absolute URL"),
        ({"ref": {"kind": "Broker"}}, "spec.sink.ref.apiVersion"),
    ],
)
async def test_a_malformed_sink_says_which_field(
    store: SqliteResourceStore, spec: Any, expected: str
) -> None:
    obj = source(spec)
    if spec is None:
        del obj["spec"]["sink"]
    with pytest.raises(Unresolvable) as caught:
        await sink.resolve_sink(store, obj)
    assert caught.value.reason == sink.INVALID_SINK
    assert expected in caught.value.message


# -- set_sink_status ---------------------------------------------------------------------------


def test_a_resolved_sink_is_provided_and_recorded() -> None:
    conditions = pingsource.PINGSOURCE_CONDITIONS
    status: dict[str, Any] = {}
    conditions.initialize(status, clock=clock)
    conditions.mark_true(status, pingsource.DEPLOYED, clock=clock)
    conditions.mark_true(status, "OIDCIdentityCreated", clock=clock)
    sink.set_sink_status(status, "http://x.test/", None, clock, audience="aud")
    assert status["sinkUri"] == "http://x.test/"
    assert status["sinkAudience"] == "aud"
    provided = get_condition(status, "SinkProvided")
    assert provided is not None
    assert provided.is_true
    assert conditions.is_ready(status)
    sink.set_sink_status(status, "http://x.test/", None, clock)  # a sink naming no audience
    assert "sinkAudience" not in status


def test_an_unresolvable_sink_is_not_provided_and_says_why() -> None:
    conditions = pingsource.PINGSOURCE_CONDITIONS
    status: dict[str, Any] = {"sinkUri": "http://old.test/"}
    conditions.initialize(status, clock=clock)
    conditions.mark_true(status, pingsource.DEPLOYED, clock=clock)
    err = Unresolvable("NotFound", 'Broker "default" does not exist in namespace "default"')
    sink.set_sink_status(status, None, err, clock, conditions=conditions)
    assert "sinkUri" not in status
    ready = get_condition(status, "Ready")
    assert ready is not None
    assert ready.is_false
    assert ready.reason == "NotFound"
    assert ready.message == 'Broker "default" does not exist in namespace "default"'


def test_a_failed_delivery_marks_the_sink_unreachable_but_keeps_its_uri() -> None:
    conditions = ConditionSet(("SinkProvided", "Deployed", "SufficientPermissions"))
    status: dict[str, Any] = {}
    conditions.initialize(status, clock=clock)
    failed = DeliveryResult(False, None, 3, error="ClientConnectorError: refused")
    sink.set_sink_status(status, "http://x.test/", None, clock, delivery=failed)
    assert status["sinkUri"] == "http://x.test/"
    provided = get_condition(status, "SinkProvided")
    assert provided is not None
    assert provided.is_false
    assert provided.reason == sink.UNREACHABLE
    assert "3 attempt(s): ClientConnectorError: refused" in provided.message
    # Ready is derived from the three conditions already in status.
    ready = get_condition(status, "Ready")
    assert ready is not None
    assert ready.is_false
    assert ready.reason == sink.UNREACHABLE
    ok = DeliveryResult(True, 202, 1)
    sink.set_sink_status(status, "http://x.test/", None, clock, delivery=ok)
    provided = get_condition(status, "SinkProvided")
    assert provided is not None
    assert provided.is_true


def test_describe_failure() -> None:
    assert sink.describe_failure(DeliveryResult(False, 503, 3, error="HTTP 503")) == "HTTP 503"
    assert sink.describe_failure(DeliveryResult(False, None, 1, error="timeout")) == "timeout"


# -- apply_overrides ---------------------------------------------------------------------------


def test_overrides_add_extensions_in_either_form() -> None:
    spec_form = sink.apply_overrides(event(), {"extensions": {"team": "a", "env": "prod"}})
    assert spec_form.get("team") == "a"
    assert spec_form.get("env") == "prod"
    parsed_form = sink.apply_overrides(event(), {"team": "b"})
    assert parsed_form.get("team") == "b"
    assert sink.apply_overrides(event(), None) == event()
    assert sink.apply_overrides(event(), {}) == event()


def test_overrides_never_change_context_attributes() -> None:
    out = sink.apply_overrides(event(), {"extensions": {"type": "x", "id": "9", "ext": "y"}})
    assert out.type == "t"
    assert out.id == "1"
    assert out.get("ext") == "y"
    assert out.data == b"{}"


# -- SinkSender --------------------------------------------------------------------------------


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


async def test_sends_an_event_and_any_2xx_delivers_it(
    receiver: Sink, dispatcher: Dispatcher
) -> None:
    sender = sink.SinkSender(dispatcher)
    result = await sender.send(event(), receiver.url)
    assert result.ok
    assert result.status == 202
    assert result.attempts == 1
    receiver.status, receiver.body = 200, b"thanks"  # a body that is not a CloudEvent
    result = await sender.send(event(), receiver.url)
    assert result.ok
    assert result.attempts == 1
    assert [e.id for e in receiver.events] == ["1", "1"]
    assert receiver.events[0].data == b"{}"


async def test_retries_three_times_then_reports(receiver: Sink, dispatcher: Dispatcher) -> None:
    sleeps = Sleeps()
    sender = sink.SinkSender(dispatcher, sleep=sleeps)
    receiver.status = 503
    result = await sender.send(event(), receiver.url)
    assert not result.ok
    assert result.status == 503
    assert result.attempts == 3
    assert receiver.requests == 3
    assert sleeps == [0.4, 0.8]
    receiver.status = 400  # not retried
    result = await sender.send(event(), receiver.url)
    assert not result.ok
    assert result.attempts == 1


async def test_an_unreachable_sink_is_a_failed_result_not_an_exception(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    sender = sink.SinkSender(dispatcher, sleep=Sleeps())
    url = closed_url()
    result = await sender.send(event(), url)
    assert not result.ok
    assert result.status is None
    assert result.attempts == 3
    assert any(url in r.getMessage() for r in caplog.records if r.name == "kawa.sources.sink")
