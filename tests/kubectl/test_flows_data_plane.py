"""Sequence and Parallel end to end with the real kubectl against the suite's ``kawa up``
(issue 13, item 5 for flows and its "Must hold"): events go through the channels and
Subscriptions the flows make, to Knative Services running Knative's sample images, to
HTTP servers in the test process, and back.

- Knative's documented Sequence (``sequence-reply-to-event-display``): its three ``appender``
  Services, Sequence and event-display applied as documented; the event-display shows the
  message with the three suffixes in order;
- a Sequence of three ``appender`` steps replies to a sink in the test process;
- a Parallel whose branch 1 filter passes and branch 2 filter does not: only branch 1's output
  reaches the reply sink; a Parallel without filters: both branches' outputs do;
- Knative's documented odd/even Parallel (``parallel/multiple-branches``), its filter and
  transformer images mapped to a stand-in (:mod:`tests.kubectl.js_functions`);
- deleting a Sequence or a Parallel deletes its channels and Subscriptions and their
  consumers' cursors in the event log; its old address answers 404;
- a bad spec is refused or reported, and a flow already running keeps delivering.

Each test works in a namespace of its own. The documented examples feed their flows from a
PingSource that fires every one or two minutes, too slow for the suite: the tests send the
event to the flow's address themselves (what the PingSource would do).
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..broker.broker_support import saved_cursors
from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .knative_flow_docs import PARALLEL_YAML, SEQUENCE_YAML
from .kubectl_support import Kubectl, condition
from .sinks import Received, Sink

pytestmark = pytest.mark.slow

TIMEOUT = 45.0
"""Generous bound of every wait (a loaded 2-core machine; Knative Services start cold)."""
APPENDER = "gcr.io/knative-releases/knative.dev/eventing/cmd/appender"
EVENT_DISPLAY_HEADER = "☁️  cloudevents.Event"

# -- Knative's documentation, as written -------------------------------------------------------

SEQUENCE_STEPS_YAML = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: first
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/appender
          env:
            - name: MESSAGE
              value: " - Handled by 0"

---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: second
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/appender
          env:
            - name: MESSAGE
              value: " - Handled by 1"
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: third
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/appender
          env:
            - name: MESSAGE
              value: " - Handled by 2"
---
"""


EVENT_DISPLAY_YAML = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: event-display
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
"""

PING_SOURCE_YAML = """
apiVersion: sources.knative.dev/v1beta2
kind: PingSource
metadata:
  name: ping-source
spec:
  schedule: "*/2 * * * *"
  contentType: "application/json"
  data: '{"message": "Hello world!"}'
  sink:
    ref:
      apiVersion: flows.knative.dev/v1
      kind: Sequence
      name: sequence
"""

PARALLEL_FUNCTIONS_YAML = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: even-filter
spec:
  template:
    spec:
      containers:
      - image: villardl/filter-nodejs:0.1
        env:
        - name: FILTER
          value: |
            Math.round(Date.parse(event.time) / 60000) % 2 === 0
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: odd-filter
spec:
  template:
    spec:
      containers:
      - image: villardl/filter-nodejs:0.1
        env:
        - name: FILTER
          value: |
            Math.round(Date.parse(event.time) / 60000) % 2 !== 0
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: even-transformer
spec:
  template:
    spec:
      containers:
      - image: villardl/transformer-nodejs
        env:
        - name: TRANSFORMER
          value: |
            ({"message": "we are even!"})

---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: odd-transformer
spec:
  template:
    spec:
      containers:
      - image: villardl/transformer-nodejs:0.1
        env:
        - name: TRANSFORMER
          value: |
            ({"message": "this is odd!"})
"""
"""The docs' filters.yaml and transformers.yaml, without the stray ``.`` line that ends the
docs' block (it is not YAML)."""


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "flows-" + request.node.name.removeprefix("test_")[:40].replace("_", "-").rstrip("-")
    kubectl.ok("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--ignore-not-found", "--wait=false")


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    try:
        yield server
    finally:
        server.close()


class Functions:
    """Filters and subscribers in the test process: ``POST /pass`` answers with the event it
    got (binary mode: a filter that passes it, a step that hands it on); ``POST /drop``
    answers 202 with no event (a filter that drops it); ``POST /fail`` answers 500 with the
    event it got (a failing filter: its answer must not pass). Records ``(path, ce-id)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[str, str]] = []
        functions = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with functions._lock:
                    functions._seen.append((self.path, self.headers.get("ce-id") or ""))
                if self.path in ("/pass", "/fail"):
                    self.send_response(200 if self.path == "/pass" else 500)
                    for name, value in self.headers.items():
                        if name.lower().startswith("ce-") or name.lower() == "content-type":
                            self.send_header(name, value)
                else:
                    body = b""
                    self.send_response(202)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def seen(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._seen)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def functions() -> Iterator[Functions]:
    server = Functions()
    try:
        yield server
    finally:
        server.close()


def send(url: str, event_id: str, data: dict[str, Any], **attributes: str) -> int:
    """POST a binary-mode CloudEvent; the status."""
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": attributes.pop("type", "dev.kawa.test.flow"),
        "ce-source": attributes.pop("source", "/kawa/tests/flows"),
        **{f"ce-{k}": v for k, v in attributes.items()},
    }
    request = urllib.request.Request(
        url, data=json.dumps(data).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def ready(kubectl: Kubectl, *ref: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", *ref)
        cond = condition(obj)
        return obj if cond is not None and cond["status"] == "True" else None

    found: dict[str, Any] = wait_until(check, TIMEOUT, f"{ref} never Ready")
    return found


def services_ready(kubectl: Kubectl, ns: str, *names: str) -> None:
    """Wait until the Knative Services are Ready: a Service has an address before its first
    Revision is ready, and a channel's subscriber answered 503 then is not retried (a
    channel's default delivery, as Knative's), so the tests send only once they are."""
    for name in names:
        ready(kubectl, "ksvc", name, "-n", ns)


def address(kubectl: Kubectl, kind: str, name: str, ns: str) -> str:
    url: str = ready(kubectl, kind, name, "-n", ns)["status"]["address"]["url"]
    return url


def ksvc(name: str, image: str, **env: str) -> dict[str, Any]:
    container: dict[str, Any] = {"image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [container]},
            }
        },
    }


def service_ref(name: str) -> dict[str, Any]:
    return {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": name}}


def flow(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flows.knative.dev/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(kubectl: Kubectl, ns: str, manifests: str | list[dict[str, Any]]) -> str:
    text = manifests if isinstance(manifests, str) else yaml.safe_dump_all(manifests)
    return kubectl.ok("apply", "-n", ns, "-f", "-", stdin=text)


def displayed_events(log: str) -> list[str]:
    """The event-display's log, one entry per event."""
    return [EVENT_DISPLAY_HEADER + part for part in log.split(EVENT_DISPLAY_HEADER)[1:]]


def message(event: Received) -> str:
    text: str = event.json()["message"]
    return text


# -- Sequence ----------------------------------------------------------------------------------


def test_the_documented_sequence_replies_to_the_event_display(
    kubectl: Kubectl, namespace: str
) -> None:
    """Knative's ``sequence-reply-to-event-display``: the steps, the Sequence, the
    event-display and the PingSource exactly as documented. The PingSource sends every two
    minutes, too slow for the suite: the test checks that it targets the Sequence and sends
    the event it would send (``{"message": "Hello world!"}``) to the Sequence's address."""
    ns = namespace
    for manifests in (SEQUENCE_STEPS_YAML, SEQUENCE_YAML, EVENT_DISPLAY_YAML, PING_SOURCE_YAML):
        kubectl.ok("create", "-n", ns, "-f", "-", stdin=manifests)
    services_ready(kubectl, ns, "first", "second", "third", "event-display")
    url = address(kubectl, "sequence", "sequence", ns)
    channel = kubectl.json("get", "inmemorychannel", "sequence-kn-sequence-0", "-n", ns)
    assert url == channel["status"]["address"]["url"]
    assert ready(kubectl, "pingsource", "ping-source", "-n", ns)["status"]["sinkUri"] == url

    assert send(url, "hello-1", {"message": "Hello world!"}) == 202

    def shown() -> str | None:
        for event in displayed_events(kubectl.service_log("event-display", ns)):
            if "id: hello-1" in event:
                return event
        return None

    event = wait_until(shown, TIMEOUT, "the event-display never showed the event")
    assert '"message": "Hello world! - Handled by 0 - Handled by 1 - Handled by 2"' in event
    assert "type: dev.kawa.test.flow" in event, event  # the appenders keep the event's type
    assert "source: /kawa/tests/flows" in event, event


def test_three_appender_steps_reply_to_the_sink(
    kubectl: Kubectl, namespace: str, sink: Sink
) -> None:
    ns = namespace
    apply(
        kubectl,
        ns,
        [
            ksvc("one", APPENDER, MESSAGE=" - one"),
            ksvc("two", APPENDER, MESSAGE=" - two"),
            ksvc("three", APPENDER, MESSAGE=" - three", TYPE="dev.kawa.test.appended"),
            flow(
                "Sequence",
                "appenders",
                steps=[service_ref("one"), service_ref("two"), service_ref("three")],
                reply={"uri": sink.url},
            ),
        ],
    )
    services_ready(kubectl, ns, "one", "two", "three")
    url = address(kubectl, "sequence", "appenders", ns)
    for n in range(3):
        assert send(url, f"seq-{n}", {"id": n, "message": f"event {n}"}, team="kawa") == 202

    got = sink.wait(lambda r: (r.ce("id") or "").startswith("seq-"), 3, "the Sequence's replies")
    by_id = {str(r.ce("id")): r for r in got}
    assert sorted(by_id) == ["seq-0", "seq-1", "seq-2"], [r.ce("id") for r in got]
    for n in range(3):
        event = by_id[f"seq-{n}"]
        assert event.json() == {"id": n, "message": f"event {n} - one - two - three"}
        assert event.ce("type") == "dev.kawa.test.appended"  # the last step's $TYPE
        assert event.ce("source") == "/kawa/tests/flows"
        assert event.ce("team") == "kawa"  # extensions survive every step


# -- Parallel ----------------------------------------------------------------------------------


def test_parallel_with_and_without_filters(
    kubectl: Kubectl, namespace: str, sink: Sink, functions: Functions
) -> None:
    """Knative's conformance features for Parallel: branch 1's filter passes, branch 2's does
    not (only branch 1's output reaches the reply sink); without filters both branches'
    outputs do. A third branch's filter answers 500 with the event: a filter's non-2xx answer
    drops it too. The unfiltered Parallel's channels are generic Channels (its
    ``channelTemplate``). Filters are HTTP servers in the test process; subscribers are
    appenders."""
    ns = namespace
    branch_0, branch_1 = service_ref("branch-0"), service_ref("branch-1")
    apply(
        kubectl,
        ns,
        [
            ksvc("branch-0", APPENDER, MESSAGE=" - branch 0"),
            ksvc("branch-1", APPENDER, MESSAGE=" - branch 1"),
            flow(
                "Parallel",
                "filtered",
                branches=[
                    {"filter": {"uri": f"{functions.url}/pass"}, "subscriber": branch_0},
                    {"filter": {"uri": f"{functions.url}/drop"}, "subscriber": branch_1},
                    {"filter": {"uri": f"{functions.url}/fail"}, "subscriber": branch_1},
                ],
                reply={"uri": sink.url},
            ),
            flow(
                "Parallel",
                "unfiltered",
                branches=[{"subscriber": branch_0}, {"subscriber": branch_1}],
                reply={"uri": sink.url},
                # generic Channels (each backed by the default InMemoryChannel) carry it
                channelTemplate={"apiVersion": "messaging.knative.dev/v1", "kind": "Channel"},
            ),
        ],
    )
    services_ready(kubectl, ns, "branch-0", "branch-1")
    filtered = address(kubectl, "parallel", "filtered", ns)
    unfiltered = address(kubectl, "parallel", "unfiltered", ns)

    assert send(filtered, "f-1", {"message": "filtered"}) == 202
    got = sink.wait(lambda r: r.ce("id") == "f-1", 1, "branch 0's output")
    assert [message(r) for r in got] == ["filtered - branch 0"]
    # the dropping filter has answered: branch 1 never gets the event
    wait_until(lambda: ("/drop", "f-1") in functions.seen(), TIMEOUT, "branch 1's filter")
    wait_until(lambda: ("/fail", "f-1") in functions.seen(), TIMEOUT, "branch 2's filter")
    assert send(unfiltered, "u-1", {"message": "unfiltered"}) == 202
    got = sink.wait(lambda r: r.ce("id") == "u-1", 2, "both branches' outputs")
    assert sorted(message(r) for r in got) == ["unfiltered - branch 0", "unfiltered - branch 1"]
    assert [message(r) for r in sink.events(lambda r: r.ce("id") == "f-1")] == [
        "filtered - branch 0"
    ]
    assert ("/pass", "u-1") not in functions.seen()  # no filter: nothing called
    channels = kubectl.json("get", "channels.messaging.knative.dev", "-n", ns)["items"]
    assert len([c for c in channels if c["metadata"]["name"].startswith("unfiltered")]) == 3


@pytest.fixture
def mapped_js_images(kubectl: Kubectl) -> Iterator[None]:
    """``villardl/filter-nodejs`` and ``villardl/transformer-nodejs`` run
    :mod:`tests.kubectl.js_functions` (kawa does not ship them)."""
    script = shlex.quote(str(Path(__file__).with_name("js_functions.py")))
    python = shlex.quote(sys.executable)
    keys = {
        "villardl.filter-nodejs": f"{python} {script} filter",
        "villardl.transformer-nodejs": f"{python} {script} transformer",
    }
    cm = ("configmap", "config-kawa-images", "-n", "knative-serving")
    kubectl.ok("patch", *cm, "--type=merge", "-p", json.dumps({"data": keys}))
    yield
    kubectl.ok("patch", *cm, "--type=merge", "-p", json.dumps({"data": dict.fromkeys(keys)}))


def test_the_documented_odd_even_parallel(
    kubectl: Kubectl, namespace: str, mapped_js_images: None
) -> None:
    """Knative's ``parallel/multiple-branches``: its filters, transformers, event-display and
    Parallel as documented. Until kawa ships the images ``villardl/filter-nodejs`` and
    ``villardl/transformer-nodejs``, the test uses a mapped image (``config-kawa-images``) that
    evaluates the documented JavaScript expressions. The docs' PingSource fires every minute:
    the test sends one event at an even minute and one at an odd minute itself."""
    ns = namespace
    for manifests in (PARALLEL_FUNCTIONS_YAML, EVENT_DISPLAY_YAML, PARALLEL_YAML):
        kubectl.ok("create", "-n", ns, "-f", "-", stdin=manifests)
    services_ready(
        kubectl, ns, "even-filter", "odd-filter", "even-transformer", "odd-transformer",
        "event-display",
    )  # fmt: skip
    url = address(kubectl, "parallel", "odd-even-parallel", ns)
    data = {"message": "Even or odd?"}
    assert send(url, "at-even", data, time="2020-03-03T21:24:00.000Z") == 202
    assert send(url, "at-odd", data, time="2020-03-03T21:23:00.000Z") == 202

    def shown() -> dict[str, str] | None:
        events = displayed_events(kubectl.service_log("event-display", ns))
        found = {
            event_id: event for event_id in ("at-even", "at-odd") for event in events
            if f"id: {event_id}" in event
        }  # fmt: skip
        return found if len(found) == 2 else None

    shown_events = wait_until(shown, TIMEOUT, "the event-display never showed both events")
    assert '"message": "we are even!"' in shown_events["at-even"], shown_events
    assert '"message": "this is odd!"' in shown_events["at-odd"], shown_events
    log = kubectl.service_log("event-display", ns)
    assert len(displayed_events(log)) == 2, log  # each event took one branch only


# -- deletion ----------------------------------------------------------------------------------


def _children(kubectl: Kubectl, ns: str) -> tuple[dict[str, str], dict[str, str]]:
    """``({channel name: uid}, {subscription name: uid})`` in ``ns``."""
    found = []
    for resource in ("inmemorychannels", "subscriptions"):
        listed = kubectl.json("get", resource, "-n", ns)["items"]
        found.append({o["metadata"]["name"]: o["metadata"]["uid"] for o in listed})
    return found[0], found[1]


def test_deleting_a_flow_removes_its_channels_subscriptions_and_consumers(
    kubectl: Kubectl, kawa: KawaProcess, namespace: str, sink: Sink, functions: Functions
) -> None:
    ns = namespace
    step = {"uri": f"{functions.url}/pass"}
    apply(
        kubectl,
        ns,
        [
            flow("Sequence", "seq", steps=[step, step], reply={"uri": sink.url}),
            flow(
                "Parallel",
                "par",
                branches=[{"filter": step, "subscriber": step}, {"subscriber": step}],
                reply={"uri": sink.url},
            ),
        ],
    )
    flows = (("sequence", "seq"), ("parallel", "par"))
    urls = {kind: address(kubectl, kind, name, ns) for kind, name in flows}
    assert send(urls["sequence"], "s-1", {"message": "s"}) == 202
    assert send(urls["parallel"], "p-1", {"message": "p"}) == 202
    sink.wait(lambda r: r.ce("id") in ("s-1", "p-1"), 3, "both flows' outputs")

    channels, subscriptions = _children(kubectl, ns)
    assert len(channels) == 5, channels  # 2 for the Sequence, 3 for the Parallel
    assert len(subscriptions) == 6, subscriptions
    wanted = {
        f"subscription:{uid}@channel:{channels[sub['spec']['channel']['name']]}"
        for sub in kubectl.json("get", "subscriptions", "-n", ns)["items"]
        for uid in [sub["metadata"]["uid"]]
    }
    wait_until(
        lambda: wanted <= set(saved_cursors(kawa.data_dir)),
        TIMEOUT,
        f"not every subscriber has a cursor: {wanted - set(saved_cursors(kawa.data_dir))}",
    )

    for kind, name in flows:
        kubectl.ok("delete", kind, name, "-n", ns)
    wait_until(lambda: _children(kubectl, ns) == ({}, {}), TIMEOUT, "children left behind")

    def cursors_left() -> set[str]:
        return wanted & set(saved_cursors(kawa.data_dir))

    wait_until(lambda: not cursors_left(), TIMEOUT, f"cursors left: {cursors_left()}")
    streams = {stream for stream, _ in saved_cursors(kawa.data_dir).values()}
    assert not streams & {f"channel:{uid}" for uid in channels.values()}, streams
    for url in urls.values():
        assert send(url, "late", {"message": "late"}) == 404


# -- bad specs ---------------------------------------------------------------------------------


def test_bad_specs_are_refused_or_reported_and_a_running_flow_keeps_delivering(
    kubectl: Kubectl, namespace: str, sink: Sink
) -> None:
    ns = namespace
    apply(kubectl, ns, [flow("Sequence", "good", steps=[{"uri": sink.url}])])
    good = address(kubectl, "sequence", "good", ns)
    assert send(good, "before", {"message": "before"}) == 202
    sink.wait(lambda r: r.ce("id") == "before", 1, "the good flow's event")

    no_destination = yaml.safe_dump(flow("Sequence", "bad", steps=[{"delivery": {"retry": 1}}]))
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=no_destination)
    assert "spec.steps[0]: expected at least one of ref or uri" in refused.stderr, refused.explain()
    no_steps = yaml.safe_dump(flow("Sequence", "bad", steps=[]))
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=no_steps)
    assert "spec.steps: required field is missing" in refused.stderr, refused.explain()

    apply(
        kubectl,
        ns,
        [
            flow(
                "Parallel",
                "missing-filter",
                branches=[
                    {"filter": service_ref("no-such-filter"), "subscriber": {"uri": sink.url}}
                ],
            )
        ],
    )

    def reported() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "parallel", "missing-filter", "-n", ns)
        cond = condition(obj, "SubscriptionsReady")
        # False at first only says the Subscription has no Ready condition yet; wait for the
        # reason its reconciler gives.
        missing = cond is not None and "does not exist" in cond.get("message", "")
        return cond if cond is not None and cond["status"] == "False" and missing else None

    cond = wait_until(reported, TIMEOUT, "the Parallel never reported its missing filter")
    assert cond["reason"] == "SubscriptionsNotReady", cond
    assert 'Subscription "missing-filter-kn-parallel-filter-0"' in cond["message"], cond
    assert 'Service "no-such-filter" does not exist' in cond["message"], cond
    parallel = kubectl.json("get", "parallel", "missing-filter", "-n", ns)
    assert condition(parallel)["status"] != "True", parallel  # type: ignore[index]

    # a filter that exists but is not addressable (a ConfigMap has no address)
    kubectl.ok("create", "configmap", "not-a-filter", "-n", ns)
    config_map = {"ref": {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-a-filter"}}
    apply(
        kubectl,
        ns,
        [
            flow(
                "Parallel",
                "unaddressable",
                branches=[{"filter": config_map, "subscriber": {"uri": sink.url}}],
            )
        ],
    )

    def unaddressable() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "parallel", "unaddressable", "-n", ns)
        cond = condition(obj, "SubscriptionsReady")
        # as above: wait for the reason, not for the Subscription's first, unknown state
        named = cond is not None and "not-a-filter" in cond.get("message", "")
        return cond if cond is not None and cond["status"] == "False" and named else None

    cond = wait_until(unaddressable, TIMEOUT, "the Parallel never reported its filter")
    assert 'ConfigMap "' in cond["message"], cond
    assert "not-a-filter" in cond["message"], cond

    assert send(good, "after", {"message": "after"}) == 202
    sink.wait(lambda r: r.ce("id") == "after", 1, "the good flow's event after the bad specs")
    assert condition(kubectl.json("get", "sequence", "good", "-n", ns))["status"] == "True"  # type: ignore[index]
    assert kubectl.run("get", "sequence", "bad", "-n", ns).code != 0
