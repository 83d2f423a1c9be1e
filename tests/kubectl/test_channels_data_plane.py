"""Knative's channel data-plane conformance and channel features (``test/rekt/features/channel``:
``data_plane.go`` and ``features.go``), driven with the real kubectl against one ``kawa up``.

Channels and Subscriptions are applied as YAML with kubectl; events are sent over HTTP as any
producer would (no token) and received by :class:`~tests.kubectl.sinks.Sink` servers in the
test process, some of them scripted as Knative's eventshub receivers are (fail the first N
requests, reply with a transformed event). Each test works in a namespace of its own.
Covered: the ingress contract (POST only, 404, 400, 202 at ``status.address.url`` and at
Knative's ``<name>-kn-channel`` host), every ready subscriber gets every event unchanged (binary
and structured, CloudEvents 0.3 and 1.0, ``traceparent``), the retry-count matrix with the
dead-letter extensions, a chain of ten channels, a dead-letter sink on the channel
(InMemoryChannel and generic Channel), a channel as a dead-letter sink, event transformation
through a reply channel, and a reply dropped without ``reply``; a Subscription's ``timeout``,
``retryAfterMax`` and ``backoffDelay`` timed at its subscribers.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..e2e.e2e_support import KawaProcess, free_port
from ..waiting import wait_until
from .kubectl_support import Kubectl
from .sinks import (
    TIMEOUT,
    Answer,
    Received,
    Script,
    Sink,
    always_fail,
    fail_first,
    post,
    reply_transformed,
    send,
)

pytestmark = pytest.mark.slow

V1 = "messaging.knative.dev/v1"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FAST_RETRY = {"backoffPolicy": "linear", "backoffDelay": "PT0.01S"}
"""Backoff of the tests that retry: tiny, so that retries take no noticeable time."""
CHAIN_LENGTH = 10


# -- manifests and waits ---------------------------------------------------------------------


def _channel(name: str, ns: str, kind: str = "InMemoryChannel", **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": V1,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
    }
    if spec:
        obj["spec"] = spec
    return obj


def _ref(name: str, kind: str = "InMemoryChannel") -> dict[str, Any]:
    return {"ref": {"apiVersion": V1, "kind": kind, "name": name}}


def _subscription(
    name: str,
    ns: str,
    channel: str,
    subscriber: dict[str, Any] | None,
    kind: str = "InMemoryChannel",
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"channel": {"apiVersion": V1, "kind": kind, "name": channel}}
    if subscriber is not None:
        body["subscriber"] = subscriber
    return {
        "apiVersion": V1,
        "kind": "Subscription",
        "metadata": {"name": name, "namespace": ns},
        "spec": {**body, **spec},
    }


def _uri(sink: Sink) -> dict[str, str]:
    return {"uri": sink.url}


def _ready(kubectl: Kubectl, ns: str, *resources: str) -> None:
    """``kubectl wait`` until every one of ``resources`` (``kind/name`` or ``kind --all``)
    is Ready."""
    kubectl.ok("wait", "-n", ns, "--for=condition=Ready", f"--timeout={int(TIMEOUT)}s", *resources)


def _address(kubectl: Kubectl, ns: str, resource: str) -> str:
    url: str = kubectl.json("get", resource, "-n", ns)["status"]["address"]["url"]
    return url


def _event(id_: str, type_: str = "dev.kawa.test", **attributes: Any) -> CloudEvent:
    data = attributes.pop("data", None)
    return CloudEvent(
        {"specversion": "1.0", "id": id_, "type": type_, "source": "/kubectl/tests", **attributes},
        data,
    )


def _ids(sink: Sink) -> list[str]:
    return [r.event().id for r in sink.events()]


def _by_id(id_: str) -> Callable[[Received], bool]:
    return lambda r: r.event().id == id_


# -- data plane conformance ------------------------------------------------------------------


def test_data_plane_http_contract(
    kubectl: Kubectl, kawa: KawaProcess, namespaces: Callable[..., str], sink: Sink
) -> None:
    """POST only (405), an unknown channel 404, not a CloudEvent 400, accepted 202 at
    ``status.address.url`` and at Knative's ``<name>-kn-channel.<ns>.svc.cluster.local``."""
    ns = namespaces("ch-dp-http")
    kubectl.apply([_channel("contract", ns), _subscription("to-sink", ns, "contract", _uri(sink))])
    _ready(kubectl, ns, "imc/contract", "subscription/to-sink")
    url = _address(kubectl, ns, "imc/contract")
    assert url == f"{kawa.url}/channels/{ns}/contract"

    for method in ("GET", "PUT"):
        answer = post(url, method=method)
        assert answer.status == 405, (method, answer)
        assert "POST" in answer.headers["allow"]
    assert send(f"{kawa.url}/channels/{ns}/nowhere", _event("lost")) == 404
    missing_id = post(url, {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "/s"}, b"{}")
    assert missing_id.status == 400, missing_id
    garbage = post(url, {"content-type": "application/cloudevents+json"}, b"not json")
    assert garbage.status == 400, garbage

    assert send(url, _event("by-address")) == 202
    host = f"contract-kn-channel.{ns}.svc.cluster.local"
    by_host = post(f"{kawa.url}/", *ce_http.to_binary(_event("by-host")), host=host)
    assert by_host.status == 202, by_host
    sink.wait(count=2, message="the events accepted at both addresses")
    assert sorted(_ids(sink)) == ["by-address", "by-host"]


def test_every_ready_subscriber_gets_every_event_unchanged(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    """Two subscribers each get all four events with every attribute and the data as sent,
    in the content mode and CloudEvents version they came in, with the sender's
    ``traceparent``."""
    ns = namespaces("ch-dp-fanout")
    first, second = sinks(), sinks()
    kubectl.apply(
        [
            _channel("fanout", ns),
            _subscription("first", ns, "fanout", _uri(first)),
            _subscription("second", ns, "fanout", _uri(second)),
        ]
    )
    _ready(kubectl, ns, "imc/fanout", "subscription/first", "subscription/second")
    url = _address(kubectl, ns, "imc/fanout")

    binary = _event(
        "binary",
        subject="s-1",
        time="2024-05-06T07:08:09.123456Z",
        dataschema="http://example.com/schema",
        datacontenttype="application/json",
        myextension="some value, with punctuation: 100%",
        data=b'{"n": 1, "text": "caf\xc3\xa9"}',
    )
    structured = _event("structured", datacontenttype="text/plain", data=b"plain text")
    version_03 = CloudEvent(
        {
            "specversion": "0.3",
            "id": "v03",
            "type": "dev.kawa.test.old",
            "source": "/kubectl/tests",
            "schemaurl": "http://example.com/old-schema",
            "datacontenttype": "application/json",
        },
        b'{"old": true}',
    )
    assert send(url, binary, traceparent=TRACEPARENT) == 202
    assert send(url, structured, structured=True) == 202
    structured_03 = CloudEvent(
        {
            "specversion": "0.3",
            "id": "v03-structured",
            "type": "dev.kawa.test.old",
            "source": "/kubectl/tests",
            "datacontenttype": "application/json",
        },
        b'{"old":"structured"}',  # compact: structured mode carries JSON, not bytes
    )
    assert send(url, version_03) == 202
    assert send(url, structured_03, structured=True) == 202

    sent = {e.id: e for e in (binary, structured, version_03, structured_03)}
    for sink in (first, second):
        got = {r.event().id: r for r in sink.wait(count=4, message="all four events")}
        assert sorted(got) == sorted(sent)
        for id_, event in sent.items():
            assert got[id_].event() == event, id_
        assert got["binary"].headers["traceparent"] == TRACEPARENT
        assert not got["binary"].structured
        assert got["structured"].structured
        assert got["v03"].headers["ce-specversion"] == "0.3"
        assert got["v03-structured"].structured
        assert got["v03-structured"].json()["specversion"] == "0.3"
        assert len(sink.events()) == 4


# -- retries and dead letters ----------------------------------------------------------------


@pytest.mark.parametrize("retry", [0, 1, 2, 3])
def test_retry_count_matrix(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink], retry: int
) -> None:
    """A subscriber that always fails gets exactly ``retry`` + 1 attempts; then the
    subscription's dead-letter sink gets the event once, with the error extensions and the
    ``Kn-Namespace`` header."""
    ns = namespaces(f"ch-dp-retry-{retry}")
    failing = sinks(always_fail(503, b"try later"))
    dead = sinks()
    delivery = {"retry": retry, **FAST_RETRY, "deadLetterSink": _uri(dead)}
    kubectl.apply(
        [
            _channel("retried", ns),
            _subscription("failing", ns, "retried", _uri(failing), delivery=delivery),
        ]
    )
    _ready(kubectl, ns, "imc/retried", "subscription/failing")
    assert send(_address(kubectl, ns, "imc/retried"), _event("doomed")) == 202

    (letter,) = dead.wait(message="the dead letter")
    assert len(failing.events()) == retry + 1
    assert {r.event().id for r in failing.events()} == {"doomed"}
    event = letter.event()
    assert event.id == "doomed"
    assert event.get("knativeerrorcode") == "503"
    assert event.get("knativeerrordest") == failing.url
    assert base64.b64decode(str(event.get("knativeerrordata"))) == b"try later"
    assert letter.headers["kn-namespace"] == ns
    # a later event is dead-lettered in turn: the first one never came twice
    assert send(_address(kubectl, ns, "imc/retried"), _event("doomed-too")) == 202
    dead.wait(count=2, message="the second dead letter")
    assert _ids(dead) == ["doomed", "doomed-too"]


def test_channel_chain(kubectl: Kubectl, namespaces: Callable[..., str], sink: Sink) -> None:
    """Subscription i takes channel i to channel i+1 (its subscriber), the last one to the
    sink: an event sent to the first channel arrives unchanged."""
    ns = namespaces("ch-dp-chain")
    length = CHAIN_LENGTH
    names = [f"chain-{i:02d}" for i in range(length)]
    manifests = [_channel(name, ns) for name in names]
    for i, name in enumerate(names):
        target = _ref(names[i + 1]) if i + 1 < length else _uri(sink)
        manifests.append(_subscription(f"link-{i:02d}", ns, name, target))
    kubectl.apply(manifests)
    _ready(kubectl, ns, "imc,subscription", "--all")
    event = _event("relayed", datacontenttype="application/json", data=b'{"hops": 10}')
    assert send(_address(kubectl, ns, f"imc/{names[0]}"), event) == 202
    (got,) = sink.wait(message="the event at the end of the chain")
    assert got.event() == event


@pytest.mark.parametrize("kind", ["InMemoryChannel", "Channel"])
def test_dead_letter_sink_on_the_channel(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink], kind: str
) -> None:
    """DeadLetterSink and DeadLetterSinkGenericChannel: the channel's ``spec.delivery`` holds
    the dead-letter sink, the Subscription has no delivery; an event its subscriber refuses
    goes there (no retries by default), the next one is delivered."""
    ns = namespaces(f"ch-dp-dls-{kind.lower()}")
    failer = sinks(fail_first(1, 500))
    dead = sinks()
    kubectl.apply(
        [
            _channel("with-dls", ns, kind, delivery={"deadLetterSink": _uri(dead)}),
            _subscription("to-failer", ns, "with-dls", _uri(failer), kind=kind),
        ]
    )
    resource = f"{'imc' if kind == 'InMemoryChannel' else 'channels'}/with-dls"
    _ready(kubectl, ns, resource, "subscription/to-failer")
    channel = kubectl.json("get", resource, "-n", ns)
    assert channel["status"]["deadLetterSinkUri"] == dead.url
    url = channel["status"]["address"]["url"]

    assert send(url, _event("refused")) == 202
    (letter,) = dead.wait(message="the refused event at the channel's dead-letter sink")
    assert letter.event().id == "refused"
    assert letter.event().get("knativeerrorcode") == "500"
    assert letter.headers["kn-namespace"] == ns
    assert send(url, _event("taken")) == 202
    failer.wait(_by_id("taken"), message="the second event at the subscriber")
    assert _ids(failer) == ["refused", "taken"]
    assert _ids(dead) == ["refused"]


ERROR_PAGE = (
    b"<!doctype html>\n<html>\n<head>\n    <title>Error Page</title>\n</head>\n"
    b"<body>\n<p>Not processed: 422\n</body></html>"
)


@pytest.mark.parametrize("case", ["unreachable", "error-without-data", "error-with-data"])
def test_channel_dead_letter_sink_extensions(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink], case: str
) -> None:
    """ChannelDeadLetterSinkExtensions: the channel's dead-letter sink gets the event with
    ``knativeerrordest`` the failed subscriber; for an answer, ``knativeerrorcode`` its status
    and ``knativeerrordata`` its body in base64 (as it came, new lines and all; left out when
    the body is empty)."""
    ns = namespaces(f"ch-dp-ext-{case}")
    dead = sinks()
    if case == "unreachable":
        subscriber_url = f"http://127.0.0.1:{free_port()}/"
    else:
        body = ERROR_PAGE if case == "error-with-data" else b""
        subscriber_url = sinks(fail_first(1, 422, body)).url
    kubectl.apply(
        [
            _channel("failing", ns, delivery={"deadLetterSink": _uri(dead)}),
            _subscription("to-failer", ns, "failing", {"uri": subscriber_url}),
        ]
    )
    _ready(kubectl, ns, "imc/failing", "subscription/to-failer")
    assert send(_address(kubectl, ns, "imc/failing"), _event("failed")) == 202
    (letter,) = dead.wait(message="the dead letter")
    event = letter.event()
    assert event.id == "failed"
    assert event.get("knativeerrordest") == subscriber_url
    if case == "unreachable":
        assert event.get("knativeerrorcode") == "500"  # no answer at all, as Knative's
        data = base64.b64decode(str(event.get("knativeerrordata")))
        assert data.startswith(b"dispatch error: "), data
        return
    assert event.get("knativeerrorcode") == "422"
    if case == "error-with-data":
        assert base64.b64decode(str(event.get("knativeerrordata"))) == ERROR_PAGE
    else:
        assert event.get("knativeerrordata") is None


def test_channel_as_dead_letter_sink(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    """AsDeadLetterSink: a Channel's dead-letter sink is another Channel, whose subscriber
    gets the events the first channel's subscriber refused."""
    ns = namespaces("ch-dp-as-dls")
    failer = sinks(always_fail(500))
    sink = sinks()
    kubectl.apply(
        [
            _channel("dls", ns, "Channel"),
            _subscription("dls-to-sink", ns, "dls", _uri(sink), kind="Channel"),
            _channel(
                "main", ns, "Channel", delivery={"deadLetterSink": _ref("dls", kind="Channel")}
            ),
            _subscription("main-to-failer", ns, "main", _uri(failer), kind="Channel"),
        ]
    )
    _ready(kubectl, ns, "channels,subscription", "--all")
    dls_address = _address(kubectl, ns, "channels/dls")
    main = kubectl.json("get", "channels/main", "-n", ns)
    assert main["status"]["deadLetterSinkUri"] == dls_address

    assert send(main["status"]["address"]["url"], _event("refused")) == 202
    (got,) = sink.wait(message="the refused event through the dead-letter channel")
    event = got.event()
    assert event.id == "refused"
    assert event.get("knativeerrorcode") == "500"
    assert event.get("knativeerrordest") == failer.url
    assert len(failer.events()) == 1


# -- replies ---------------------------------------------------------------------------------


def test_event_transformation(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    """Subscription 1 takes channel 1 to a transformer and its replies to channel 2;
    subscription 2 takes channel 2 to the sink, which gets the three events transformed."""
    ns = namespaces("ch-dp-transform")
    transformer = sinks(reply_transformed("transformed", "transformer"))
    sink = sinks()
    kubectl.apply(
        [
            _channel("channel-1", ns),
            _channel("channel-2", ns),
            _subscription(
                "subscription-1", ns, "channel-1", _uri(transformer), reply=_ref("channel-2")
            ),
            _subscription("subscription-2", ns, "channel-2", _uri(sink)),
        ]
    )
    _ready(kubectl, ns, "imc,subscription", "--all")
    url = _address(kubectl, ns, "imc/channel-1")
    sent = [
        _event(f"e{i}", data=f"payload {i}".encode(), datacontenttype="text/plain")
        for i in range(3)
    ]
    for event in sent:
        assert send(url, event) == 202
    received = sink.wait(count=3, message="the transformed events")
    by_id = {r.event().id: r.event() for r in received}
    assert sorted(by_id) == ["e0", "e1", "e2"]
    for event in sent:
        assert by_id[event.id] == event.with_attributes(type="transformed", source="transformer")
    assert len(transformer.events()) == 3


def test_reply_without_reply_destination_is_dropped(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    """A subscriber's reply with no ``reply`` in its Subscription goes nowhere: not back into
    the channel (its other subscriber and the replier itself see only what was sent)."""
    ns = namespaces("ch-dp-dropped")
    replier = sinks(reply_transformed("dev.kawa.test.reply", "replier"))
    observer = sinks()
    kubectl.apply(
        [
            _channel("replies", ns),
            _subscription("replier", ns, "replies", _uri(replier)),
            _subscription("observer", ns, "replies", _uri(observer)),
        ]
    )
    _ready(kubectl, ns, "imc/replies", "subscription/replier", "subscription/observer")
    url = _address(kubectl, ns, "imc/replies")
    assert send(url, _event("asked")) == 202
    replier.wait(message="the event at the replier")
    observer.wait(message="the event at the observer")
    wait_until(lambda: replier.answered >= 1, TIMEOUT, "the replier never answered")
    # a later event, sent once the reply was out, has passed both subscribers: a reply put
    # back into the channel would have reached them too
    assert send(url, _event("marker")) == 202
    replier.wait(_by_id("marker"), message="the marker at the replier")
    observer.wait(_by_id("marker"), message="the marker at the observer")
    assert sorted(_ids(replier)) == ["asked", "marker"]
    assert sorted(_ids(observer)) == ["asked", "marker"]


# -- a Subscription's delivery timing ---------------------------------------------------------


def _timed(answer: Callable[[int], Answer], sleep: float = 0.0) -> tuple[Script, list[float]]:
    """A script answering request ``n`` with ``answer(n)`` after ``sleep`` seconds, and the
    monotonic times the requests arrived."""
    arrivals: list[float] = []

    def script(n: int, received: Received) -> Answer:
        arrivals.append(time.monotonic())
        time.sleep(sleep)
        return answer(n)

    return script, arrivals


def test_subscription_timeout_retry_after_max_and_backoff(
    kubectl: Kubectl, namespaces: Callable[..., str], sinks: Callable[..., Sink]
) -> None:
    """A Subscription's ``delivery`` reaches its subscriber's attempts (the options are the
    triggers', ``kawa.delivery``): ``timeout`` ends an attempt that takes longer (a subscriber
    that sleeps 3 s per request is dead-lettered after its two attempts, well before 6 s);
    ``retryAfterMax`` lets a 429's ``Retry-After: 60`` delay the retry, but by at most 0.6 s;
    a linear ``backoffDelay`` of 0.3 s waits 0.3 s, then 0.6 s. Bounds: waits at least what
    the policy says; at most what would show the option ignored."""
    ns = namespaces("ch-dp-timing")
    slow_script, slow_arrivals = _timed(lambda n: Answer(), sleep=3.0)
    limited_script, limited_arrivals = _timed(
        lambda n: Answer(429, {"Retry-After": "60"}) if n == 0 else Answer()
    )
    backoff_script, backoff_arrivals = _timed(lambda n: Answer(500) if n < 2 else Answer())
    slow, limited, backed_off = sinks(slow_script), sinks(limited_script), sinks(backoff_script)
    dead = sinks()
    deliveries = {
        "slow": {"retry": 1, **FAST_RETRY, "timeout": "PT0.3S", "deadLetterSink": _uri(dead)},
        "limited": {"retry": 1, **FAST_RETRY, "retryAfterMax": "PT0.6S"},
        "backoff": {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT0.3S"},
    }
    targets = {"slow": slow, "limited": limited, "backoff": backed_off}
    kubectl.apply(
        [
            _channel("timed", ns),
            *(
                _subscription(name, ns, "timed", _uri(targets[name]), delivery=delivery)
                for name, delivery in deliveries.items()
            ),
        ]
    )
    _ready(kubectl, ns, "imc/timed", *(f"subscription/{name}" for name in deliveries))
    subscription = kubectl.json("get", "subscription/limited", "-n", ns)
    assert subscription["spec"]["delivery"]["retryAfterMax"] == "PT0.6S"
    sent = time.monotonic()
    assert send(_address(kubectl, ns, "imc/timed"), _event("timed")) == 202

    (letter,) = dead.wait(message="the slow subscriber's dead letter")
    took = time.monotonic() - sent
    assert letter.event().id == "timed"
    # no answer in time: Knative's dispatcher reports 500 with the error as the data
    assert letter.event().get("knativeerrorcode") == "500"
    assert b"timeout" in base64.b64decode(str(letter.event().get("knativeerrordata")))
    assert len(slow_arrivals) == 2
    assert took < 5.5, f"dead-lettered after {took:.2f} s: the 0.3 s timeout was not applied"

    limited.wait(count=2, message="the 429'd event's retry")
    waited = limited_arrivals[1] - limited_arrivals[0]
    assert 0.55 <= waited < 20.0, f"retried after {waited:.2f} s (Retry-After 60, cap 0.6 s)"

    backed_off.wait(count=3, message="the third attempt after two 500s")
    first, second = (b - a for a, b in itertools.pairwise(backoff_arrivals))
    assert first >= 0.28, f"first retry after {first:.2f} s (linear 0.3 s)"
    assert second >= 0.58, f"second retry after {second:.2f} s (linear 0.6 s)"
    assert _ids(limited) == ["timed", "timed"]
