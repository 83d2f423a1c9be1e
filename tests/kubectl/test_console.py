"""The web console in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium;
``./dev install`` installs it) against the shared ``kawa up``.

The seed tutorial's objects (examples/seed, in a namespace of the test's own) are drawn as a
topology coloured by Ready; clicking a node shows its conditions and YAML; an event sent to
the broker appears live (and one the type filter rejects does not); a page without the token
shows the login and fetches no data, and the live-events endpoint refuses a request without
it. A Trigger's details show its numbers. Clicking a live event shows its lineage (the broker's
``trace`` subresource): the seed trigger's match and delivery with its status, a filtered
trigger's "not matched" with the reason; the lookup box finds an event by id and source.
With ``KAWA_DOCS_SCREENSHOTS=1`` the test writes docs/images/console-topology.png and
console-lineage.png. A trigger's numbers endpoint is checked against known traffic
(delivered, dead-lettered, filtered out, a held event's backlog and age), and so is the
broker's dead-letters endpoint (the failed events, their status and sink), which the
trigger's details show. The Services view shows the seed's service with its revision taking
all the traffic.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Api, Kubectl, condition
from .sinks import Answer, Received, Sink, post

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "console-topology.png"
LINEAGE_SHOT = SCREENSHOT.with_name("console-lineage.png")
NAMESPACE = "console-seed"
ORDERS_ONLY = f"""\
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders-only
  namespace: {NAMESPACE}
spec:
  broker: default
  filter:
    attributes:
      type: dev.kawa.console.order
  subscriber:
    uri: http://127.0.0.1:9/orders
"""
"""A trigger of the test's own beside the seed's: it rejects the events the test sends, so
their lineage has a "not matched" with its reason."""
TIMEOUT_MS = 10_000

playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (scripts/install-debian-packages installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # kawa's certificate is its own (self-signed): the browser is told to accept it, as a
    # user accepts it once (or imports <data-dir>/tls/server.crt)
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1500, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def _seed_manifests() -> list[str]:
    """The tutorial's manifests, moved to the test's namespace and with cluster-wide names of
    their own (the shared kawa runs test_seed.py's copy in ``default``)."""
    texts = []
    for name in ("serviceaccount.yaml", "k8s-events.yaml", "service.yaml", "trigger.yaml"):
        text = (SEED / name).read_text()
        text = text.replace("namespace: default", f"namespace: {NAMESPACE}")
        text = text.replace("event-watcher", "console-event-watcher")
        texts.append(text)
    return texts


@pytest.fixture
def seeded(kubectl: Kubectl, namespaces: Callable[..., str], tmp_path: Path) -> Iterator[Kubectl]:
    namespaces(NAMESPACE)
    try:
        for index, text in enumerate(_seed_manifests()):
            manifest = tmp_path / f"seed-{index}.yaml"
            manifest.write_text(text)
            kubectl.ok("apply", "--filename", str(manifest))
            if index == 2:  # the tutorial labels its namespace before the trigger
                kubectl.ok("label", "namespace", NAMESPACE, "knative-eventing-injection=enabled")
        orders_only = tmp_path / "orders-only.yaml"
        orders_only.write_text(ORDERS_ONLY)
        kubectl.ok("apply", "--filename", str(orders_only))
        for ref in (
            ("broker", "default"),
            ("apiserversources.sources.knative.dev", "testevents"),
            ("ksvc", "event-display"),
            ("trigger", "testevents-trigger"),
            ("trigger", "orders-only"),
        ):
            _wait_ready(kubectl, *ref)
        yield kubectl
    finally:
        kubectl.run("delete", "clusterrolebinding", "k8s-ra-console-event-watcher")
        kubectl.run("delete", "clusterrole", "console-event-watcher")


def _wait_ready(kubectl: Kubectl, *ref: str, namespace: str = NAMESPACE) -> None:
    def ready() -> bool:
        obj = kubectl.json("get", "--namespace", namespace, *ref)
        found = condition(obj)
        return found is not None and found["status"] == "True"

    wait_until(ready, 30, f"{ref} never became Ready")


def _console_url(kawa: KawaProcess) -> str:
    return f"https://127.0.0.1:{kawa.api_port}/console/"


def _node(page: Any, kind: str, name: str) -> Any:
    return page.locator(
        f'svg .node[data-kind="{kind}"][data-namespace="{NAMESPACE}"][data-name="{name}"]'
    )


def test_seed_topology_and_live_events(
    kawa: KawaProcess, api: Api, seeded: Kubectl, page: Any
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []  # the page's modules run without an uncaught error
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(_console_url(kawa) + "#token=" + api.token)

    # the fragment logged in and left the address bar; no request carried the token in a URL
    page.locator("#app").wait_for(state="visible")
    assert "token" not in page.url
    assert all(api.token not in url for url in requests), requests

    # the seed's topology: source -> broker -> trigger -> service, each Ready
    expect = playwright_sync.expect
    for kind, name in (
        ("ApiServerSource", "testevents"),
        ("Broker", "default"),
        ("Trigger", "testevents-trigger"),
        ("Service", "event-display"),
    ):
        expect(_node(page, kind, name)).to_have_attribute("data-ready", "ready")
    for source, target in (
        ("ApiServerSource", "Broker/default"),
        ("Broker", "Trigger/testevents-trigger"),
        ("Trigger", "Service/event-display"),
    ):
        edge = page.locator(
            f'svg path.edge[data-to="{target.split("/")[0]}/{NAMESPACE}/'
            f'{target.split("/")[1]}"][data-from^="{source}/{NAMESPACE}/"]'
        )
        expect(edge).to_have_count(1)

    # the Services view: the seed's service with its revision, Ready, taking all the traffic
    service = page.locator(
        f'#services .service[data-namespace="{NAMESPACE}"][data-name="event-display"]'
    )
    expect(service).to_have_attribute("data-ready", "ready")
    revision = service.locator("tbody tr[data-revision]")
    expect(revision).to_have_count(1)
    expect(revision).to_have_attribute("data-revision", re.compile("^event-display-"))
    expect(revision.locator('[data-column="ready"]')).to_have_text("True")
    expect(revision.locator('[data-column="traffic"]')).to_have_text(re.compile("^100%"))
    expect(revision.locator('[data-column="instances"]')).to_have_text(re.compile(r"^\d+ / \d+$"))

    # a node's details: its conditions and its YAML
    _node(page, "Trigger", "testevents-trigger").click()
    expect(page.locator("#details-title")).to_have_text(f"Trigger {NAMESPACE}/testevents-trigger")
    expect(page.locator("#conditions tbody")).to_contain_text("SubscriberResolved")
    expect(page.locator("#object")).to_contain_text("broker: default")
    expect(page.locator("#object")).to_contain_text("kind: Trigger")
    page.locator("#show-json").click()
    expect(page.locator("#object")).to_contain_text('"broker": "default"')

    # live events of the broker, filtered by type: the matching event appears, the other not
    _node(page, "Broker", "default").click()
    wanted = f"dev.kawa.console.test.{uuid.uuid4().hex[:8]}"
    page.locator("#live-type").fill(wanted)
    page.locator("#watch-broker").click()
    expect(page.locator("#live-status")).to_have_attribute(
        "data-watching", f"brokers/{NAMESPACE}/default"
    )
    broker_url = kawa.broker_url("default", NAMESPACE)
    for type_, id_ in (("dev.kawa.console.other", "skipped-1"), (wanted, "shown-1")):
        sent = post(
            broker_url,
            {
                "ce-specversion": "1.0",
                "ce-type": type_,
                "ce-source": "/console/test",
                "ce-id": id_,
                "content-type": "application/json",
            },
            b'{"hello": "console"}',
        )
        assert sent.status == 202, sent
    row = page.locator(f'#events tbody tr[data-id="shown-1"][data-type="{wanted}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("/console/test")
    row.click()
    expect(page.locator("#events tr.data")).to_contain_text('"hello": "console"')
    expect(page.locator("#events tr.data")).not_to_contain_text("knativebrokerttl")
    assert page.locator('#events tbody tr[data-id="skipped-1"]').count() == 0

    # the click opened the event's lineage: accepted, each trigger's verdict (and why not),
    # the delivery to the seed's service with its status
    _see_lineage(page, wanted)
    assert page.locator("#lookup-id").input_value() == "shown-1"
    if os.environ.get("KAWA_DOCS_SCREENSHOTS"):  # docs/observability.md's second picture
        page.locator("#lineage-panel").screenshot(path=str(LINEAGE_SHOT))

    # the lookup box finds an event by id (and source): the one the filter kept out of view
    page.locator("#lookup-id").fill("skipped-1")
    page.locator("#lookup-source").fill("/console/test")
    page.locator("#lookup-start").click()
    _see_lineage(page, "dev.kawa.console.other")
    # an id the broker never accepted: kawa's 404, said as text
    page.locator("#lookup-id").fill("never-sent")
    page.locator("#lookup-start").click()
    expect(page.locator("#lineage-status")).to_contain_text("no event with id 'never-sent'")
    expect(page.locator("#lineage li")).to_have_count(0)

    # a trigger's numbers in its details: the seed's delivered the events, the test's own
    # matched none (the source's events are of other types too) and filtered out ours
    _node(page, "Trigger", "orders-only").click()
    number = page.locator("#numbers dd")
    some = re.compile("^[1-9][0-9]*$")
    expect(number.and_(page.locator('[data-number="filteredOut"]'))).to_have_text(some)
    expect(number.and_(page.locator('[data-number="matched"]'))).to_have_text("0")
    _node(page, "Trigger", "testevents-trigger").click()
    expect(page.locator("#numbers-status")).to_contain_text("Since its consumer started")
    expect(number.and_(page.locator('[data-number="delivered"]'))).to_have_text(some)

    assert errors == []

    if os.environ.get("KAWA_DOCS_SCREENSHOTS"):  # docs/observability.md's picture
        page.locator("#show-yaml").click()
        expect(page.locator("#object")).to_contain_text("kind: Trigger")
        assert "managedFields" not in page.locator("#object").inner_text()
        page.locator("#lookup-id").fill("shown-1")
        page.locator("#lookup-start").click()
        _see_lineage(page, wanted)
        page.evaluate("window.scrollTo(0, 0)")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def _see_lineage(page: Any, type_: str) -> None:
    expect = playwright_sync.expect
    expect(page.locator("#lineage-status")).to_have_attribute("data-settled", "yes")
    steps = page.locator("#lineage li")
    expect(page.locator("#lineage h3")).to_contain_text(type_)
    expect(steps.and_(page.locator('[data-what="accepted"]'))).to_contain_text("accepted by")
    seed = '[data-trigger="testevents-trigger"]'
    expect(page.locator(f'#lineage li[data-what="filter"]{seed}')).to_have_text(
        re.compile("testevents-trigger: matched$")
    )
    rejected = page.locator('#lineage li[data-what="filter"][data-trigger="orders-only"]')
    expect(rejected).to_have_attribute("data-matched", "false")
    expect(rejected).to_contain_text("orders-only: not matched")
    expect(rejected.locator(".why")).to_have_text(
        f'spec.filter.attributes.type: type "{type_}" is not "dev.kawa.console.order"'
    )
    attempt = page.locator(f'#lineage li[data-what="attempt"]{seed}')
    expect(attempt).to_have_count(1)
    expect(attempt).to_have_attribute("data-status", re.compile("^2[0-9][0-9]$"))
    expect(attempt).to_contain_text(re.compile(r"delivery attempt 1 to http.*: HTTP 2\d\d in "))
    expect(page.locator(f'#lineage li[data-what="delivered"]{seed}')).to_have_count(1)


def test_without_the_token_the_page_shows_the_login_not_data(
    kawa: KawaProcess, api: Api, page: Any
) -> None:
    answered: list[tuple[str, int]] = []
    page.on("response", lambda response: answered.append((response.url, response.status)))
    page.goto(_console_url(kawa))
    expect = playwright_sync.expect
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    # only the page's own files were fetched: no API list
    assert all(re.search(r"/console/(static/.*)?$", url) for url, _ in answered), answered

    # a wrong token is refused by the API and the page stays on the login
    page.locator("#token").fill("not-the-token")
    page.locator("#login-form button").click()
    expect(page.locator("#login-error")).to_have_text("That token is not kawa's.")
    expect(page.locator("#app")).to_be_hidden()
    assert [status for url, status in answered if "/apis/" in url] == [401], answered

    # the right one opens it
    page.locator("#token").fill(api.token)
    page.locator("#login-form button").click()
    expect(page.locator("#app")).to_be_visible()
    page.locator("#logout").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#topology .node")).to_have_count(0)


def test_live_events_endpoint_and_page_need_tls_and_the_token(kawa: KawaProcess, api: Api) -> None:
    path = "/console/events/namespaces/default/brokers/default"
    refused = api.request("GET", path, content_type=None, token="wrong")
    assert refused.status == 401, refused
    assert refused.json()["kind"] == "Status"
    # a CESQL filter that does not compile is Invalid (422), naming the parameter
    bad = api.request("GET", path + "?cesql=type%20%3D%3D", content_type=None)
    assert bad.status == 422, bad
    assert bad.json()["details"]["causes"][0]["field"] == "cesql", bad
    # the page is only served over TLS
    plain = post(f"{kawa.url}/console/", method="GET")
    assert plain.status == 404
    assert b"HTTPS" in plain.body
    page = api.request("GET", "/console/", content_type=None, token="")
    assert page.status == 200
    assert "Content-Security-Policy" in page.headers


CHANNEL_NAMESPACE = "console-channel"
CHANNEL = f"""\
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata:
  name: orders
  namespace: {CHANNEL_NAMESPACE}
"""


def test_live_events_of_a_channel(
    kawa: KawaProcess,
    api: Api,
    kubectl: Kubectl,
    namespaces: Callable[..., str],
    page: Any,
    tmp_path: Path,
) -> None:
    """A Channel's node offers its live events (those of its backing InMemoryChannel): an
    event posted to the channel's address appears, with its data; the endpoint answers 404
    for a channel that does not exist or a kind that has no events."""
    namespaces(CHANNEL_NAMESPACE)
    manifest = tmp_path / "channel.yaml"
    manifest.write_text(CHANNEL)
    kubectl.ok("apply", "--filename", str(manifest))
    _wait_ready(kubectl, "channels.messaging.knative.dev", "orders", namespace=CHANNEL_NAMESPACE)
    channel = kubectl.json(
        "get", "channels.messaging.knative.dev", "orders", "--namespace", CHANNEL_NAMESPACE
    )
    url = channel["status"]["address"]["url"]

    page.goto(_console_url(kawa) + "#token=" + api.token)
    expect = playwright_sync.expect
    node = page.locator(
        f'svg .node[data-kind="Channel"][data-namespace="{CHANNEL_NAMESPACE}"][data-name="orders"]'
    )
    node.click()
    expect(page.locator("#watch-broker")).to_have_text("Live events of this Channel")
    page.locator("#live-type").fill("")
    page.locator("#watch-broker").click()
    expect(page.locator("#live-status")).to_have_attribute(
        "data-watching", f"channels/{CHANNEL_NAMESPACE}/orders"
    )
    sent = post(
        url,
        {
            "ce-specversion": "1.0",
            "ce-type": "dev.kawa.console.channel",
            "ce-source": "/console/channel",
            "ce-id": "on-the-channel",
            "content-type": "application/json",
        },
        b'{"on": "channel"}',
    )
    assert sent.status == 202, sent
    row = page.locator('#events tbody tr[data-id="on-the-channel"]')
    expect(row).to_contain_text("dev.kawa.console.channel")
    row.click()
    expect(page.locator("#events tr.data")).to_contain_text('"on": "channel"')

    for path in (
        f"/console/events/namespaces/{CHANNEL_NAMESPACE}/channels/nowhere",
        f"/console/events/namespaces/{CHANNEL_NAMESPACE}/inmemorychannels/nowhere",
        f"/console/events/namespaces/{CHANNEL_NAMESPACE}/triggers/orders",
    ):
        missing = api.request("GET", path, content_type=None)
        assert missing.status == 404, (path, missing)


NUMBERS_NAMESPACE = "console-numbers"


def _numbers_manifest(subscriber: str, dead_letters: str) -> str:
    return f"""\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: {NUMBERS_NAMESPACE}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: counted
  namespace: {NUMBERS_NAMESPACE}
spec:
  broker: default
  filter:
    attributes:
      type: dev.kawa.counted
  subscriber:
    uri: {subscriber}
  delivery:
    retry: 0
    deadLetterSink:
      uri: {dead_letters}
"""


def test_a_triggers_numbers_count_known_traffic(
    kawa: KawaProcess,
    api: Api,
    kubectl: Kubectl,
    namespaces: Callable[..., str],
    tmp_path: Path,
    page: Any,
) -> None:
    """3 delivered, 2 failed (dead-lettered, no retries), 1 filtered out; then one held by
    the subscriber is the backlog, with an age, until it is answered."""
    gate = threading.Event()

    def script(n: int, received: Received) -> Answer:
        if received.ce("subject") == "hold":
            gate.wait(30)
        return Answer(500 if received.ce("subject") == "fail" else 202)

    subscriber, dead_letters = Sink(script), Sink()
    path = f"/console/numbers/namespaces/{NUMBERS_NAMESPACE}/triggers/counted"
    try:
        namespaces(NUMBERS_NAMESPACE)
        manifest = tmp_path / "numbers.yaml"
        manifest.write_text(_numbers_manifest(subscriber.url, dead_letters.url))
        kubectl.ok("apply", "--filename", str(manifest))
        for ref in (("broker", "default"), ("trigger", "counted")):
            _wait_ready(kubectl, *ref, namespace=NUMBERS_NAMESPACE)

        def send(type_: str, subject: str, n: int) -> None:
            headers = {
                "ce-specversion": "1.0",
                "ce-type": type_,
                "ce-source": "/console/numbers",
                "ce-id": f"{subject}-{n}",
                "ce-subject": subject,
            }
            sent = post(kawa.broker_url("default", NUMBERS_NAMESPACE), headers, b"")
            assert sent.status == 202, sent

        for n in range(3):
            send("dev.kawa.counted", "ok", n)
        for n in range(2):
            send("dev.kawa.counted", "fail", n)
        send("dev.kawa.other", "ok", 9)
        dead_letters.wait(count=2)

        def numbers() -> dict[str, Any]:
            answer = api.request("GET", path, content_type=None)
            assert answer.status == 200, answer
            found: dict[str, Any] = answer.json()
            return found

        settled = {
            "namespace": NUMBERS_NAMESPACE,
            "name": "counted",
            "running": True,
            "broker": "default",
            "matched": 5,
            "filteredOut": 1,
            "delivered": 3,
            "failed": 2,
            "retries": 0,
            "deadLettered": 2,
            "dropped": 0,
            "replies": 0,
            "lastError": "HTTP 500",
            "backlog": 0,
            "oldestUndeliveredSeconds": 0,
        }
        _until(numbers, settled)

        send("dev.kawa.counted", "hold", 0)
        subscriber.wait(lambda r: r.ce("subject") == "hold")
        held = numbers()
        assert held["backlog"] == 1, held
        assert held["oldestUndeliveredSeconds"] > 0, held
        gate.set()
        settled |= {"matched": 6, "delivered": 4}
        _until(numbers, settled)
    finally:
        gate.set()
        subscriber.close()
        dead_letters.close()

    # the token is needed; an unknown trigger is a 404 Status
    refused = api.request("GET", path, content_type=None, token="wrong")
    assert refused.status == 401, refused
    missing = api.request("GET", path.replace("counted", "nope"), content_type=None)
    assert missing.status == 404, missing
    assert missing.json()["kind"] == "Status", missing

    order = _dead_letters_of_known_traffic(api, dead_letters.url)

    # the page shows them in the trigger's details; a click looks up the event's lineage
    page.goto(_console_url(kawa) + "#token=" + api.token)
    page.locator(
        f'svg .node[data-kind="Trigger"][data-namespace="{NUMBERS_NAMESPACE}"][data-name="counted"]'
    ).click()
    expect = playwright_sync.expect
    rows = page.locator("#dead-letters tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-id", order[0])
    expect(rows.first).to_have_attribute("data-status", "500")
    expect(rows.first).to_contain_text("HTTP 500")
    rows.first.click()
    expect(page.locator("#lineage-status")).to_have_attribute("data-settled", "yes")
    expect(page.locator('#lineage li[data-what="dead-lettered"]')).to_have_count(1)


def _dead_letters_of_known_traffic(api: Api, sink: str) -> list[str]:
    """The broker's dead-lettered events, from its lineage: the two failed ones, the last
    dead-lettered first, with the subscriber's status and the dead-letter sink; bounded by
    ``limit``."""
    path = f"/console/deadletters/namespaces/{NUMBERS_NAMESPACE}/brokers/default"

    def listed(query: str = "") -> list[dict[str, Any]]:
        answer = api.request("GET", path + query, content_type=None)
        assert answer.status == 200, answer
        body = answer.json()
        assert body["broker"] == {
            "namespace": NUMBERS_NAMESPACE,
            "name": "default",
            "lineage": True,
        }
        found: list[dict[str, Any]] = body["deadLettered"]
        return found

    # lineage is written a moment after the fact
    wait_until(lambda: len(listed()) == 2, 30, "the dead letters never showed", every=0.2)
    newest, oldest = listed()
    # sent one after the other, delivered at once: either may be dead-lettered last
    assert {newest["event"]["id"], oldest["event"]["id"]} == {"fail-0", "fail-1"}
    assert newest["at"] >= oldest["at"]
    for entry in (newest, oldest):
        assert entry["trigger"] == "counted", entry
        assert entry["status"] == 500, entry
        assert entry["attempts"] == 1, entry  # retry: 0
        assert entry["deadLetterSink"] == sink, entry
        assert entry["event"]["type"] == "dev.kawa.counted", entry
        assert entry["event"]["source"] == "/console/numbers", entry
    order = [newest["event"]["id"], oldest["event"]["id"]]
    assert [e["event"]["id"] for e in listed("?limit=1")] == order[:1]
    assert [e["event"]["id"] for e in listed("?trigger=counted")] == order
    assert listed("?trigger=other") == []
    bad = api.request("GET", path + "?limit=0", content_type=None)
    assert bad.status == 422, bad
    assert bad.json()["details"]["causes"][0]["field"] == "limit", bad
    refused = api.request("GET", path, content_type=None, token="wrong")
    assert refused.status == 401, refused
    missing = api.request("GET", path.replace("brokers/default", "brokers/nope"), content_type=None)
    assert missing.status == 404, missing
    return order


def _until(numbers: Callable[[], dict[str, Any]], expected: dict[str, Any]) -> None:
    last: list[dict[str, Any]] = []

    def reached() -> bool:
        found = numbers()
        assert set(found.get("rates", {})) == {"windowSeconds", "perSecond"}, found
        last[:] = [{name: value for name, value in found.items() if name != "rates"}]
        return last[0] == expected

    try:
        wait_until(reached, 30, "the numbers never settled", every=0.2)
    except AssertionError:
        assert last[0] == expected  # the difference, as pytest shows it
        raise
