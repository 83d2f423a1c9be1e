"""``kawa deadletters`` against a running kawa: a given-up event is kept, listed, redriven
once to its own trigger's subscriber, and purged; the store off drops as before; a trigger
with a dead-letter sink still uses its sink.

One ``kawa up`` child, one broker, three triggers (each its own event type and subscriber
path): ``flaky`` (no sink: the store), ``off`` (``kawa.dev/dead-letter-store: "false"``) and
``sinked`` (a dead-letter sink). The subscriber is a threaded HTTP server in the test process
whose answer per path the test sets; the CLI runs in this process (click's runner).
"""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
import pytest
from click.testing import CliRunner

from kawa.cli.main import main

from ..waiting import wait_until
from .e2e_support import KawaProcess, broker, kawa_up, trigger

pytestmark = pytest.mark.slow

RETRY = {"retry": 1, "backoffDelay": "PT0.01S"}


class _Subscriber(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, int]] = {}
    """The status each path answers (202 when not set)."""
    got: ClassVar[list[tuple[str, str, int]]] = []
    """(path, event id, status answered), in arrival order."""
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        id_ = self.headers.get("ce-id") or orjson.loads(body)["id"]  # binary or structured
        with self.lock:
            status = self.answers.get(self.path, 202)
            self.got.append((self.path, id_, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _got(path: str, status: int | None = None) -> list[str]:
    with _Subscriber.lock:
        return [i for p, i, s in _Subscriber.got if p == path and status in (None, s)]


@pytest.fixture(scope="module")
def subscriber() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Subscriber)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _typed(name: str, url: str, type_: str, **spec: Any) -> dict[str, Any]:
    return trigger(name, url, filter={"attributes": {"type": type_}}, **spec)


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory, subscriber: str) -> Iterator[KawaProcess]:
    _Subscriber.answers.update({"/flaky": 500, "/off": 500, "/sinked": 500})
    with kawa_up(tmp_path_factory.mktemp("deadletters"), "--log-level", "warning") as running:
        running.create(broker())
        off = _typed("off", f"{subscriber}/off", "t.off", delivery=RETRY)
        off["metadata"]["annotations"] = {"kawa.dev/dead-letter-store": "false"}
        sink = {"uri": f"{subscriber}/dls"}
        for obj in (
            _typed("flaky", f"{subscriber}/flaky", "t.flaky", delivery=RETRY),
            off,
            _typed(
                "sinked",
                f"{subscriber}/sinked",
                "t.sinked",
                delivery=RETRY | {"deadLetterSink": sink},
            ),
        ):
            running.create(obj)
        running.wait_ready("brokers", "default")
        for name in ("flaky", "off", "sinked"):
            running.wait_ready("triggers", name)
        yield running


def _send(kawa: KawaProcess, id_: str, type_: str, url: str = "") -> None:
    body = orjson.dumps({"specversion": "1.0", "id": id_, "source": "/test", "type": type_})
    request = urllib.request.Request(
        url or kawa.broker_url(), data=body, method="POST",
        headers={"Content-Type": "application/cloudevents+json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 202


def _cli(kawa: KawaProcess, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["deadletters", *args, "--data-dir", str(kawa.data_dir)])
    return result.exit_code, result.stdout, result.stderr


def _listed(kawa: KawaProcess, *filters: str) -> list[dict[str, Any]]:
    code, out, err = _cli(kawa, "list", "--broker", "default", "-o", "json", *filters)
    assert code == 0, err
    (answer,) = orjson.loads(out)
    entries: list[dict[str, Any]] = answer["deadLetters"]
    return entries


def _all_finished(kawa: KawaProcess) -> bool:
    _, obj = kawa.get("triggers", "off")
    _, sinked = kawa.get("triggers", "sinked")
    _, flaky = kawa.get("triggers", "flaky")
    return all(kawa.cursor(t) == 3 for t in (obj, sinked, flaky))


def test_a_given_up_event_is_kept_listed_redriven_once_and_purged(kawa: KawaProcess) -> None:
    for id_, type_ in (("e1", "t.flaky"), ("e2", "t.off"), ("e3", "t.sinked")):
        _send(kawa, id_, type_)
    # every trigger finished its event (seqs 1-3): kept, dropped, sent to the sink
    wait_until(lambda: _all_finished(kawa), 15, "the triggers never finished their events")
    (kept,) = _listed(kawa)  # only flaky's: "off" dropped e2, "sinked" sent e3 to its sink
    assert (kept["name"], kept["event"]["id"], kept["status"], kept["attempts"]) == (
        "flaky", "e1", 500, 2,
    )  # fmt: skip
    assert _got("/dls") == ["e3"]
    assert _got("/flaky") == ["e1", "e1"]  # retry 1: two attempts
    assert _got("/off") == ["e2", "e2"]
    assert _listed(kawa, "--status", "404") == []
    assert _listed(kawa, "--trigger", "off") == []

    code, out, _ = _cli(kawa, "list", "--broker", "default")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["BROKER", "ID", "TRIGGER", "EVENT"]
    assert row.split()[:7] == ["default", str(kept["id"]), "flaky", "e1", "t.flaky", "500", "2"]
    # the console shows it too, with its id in the store
    path = "/console/deadletters/namespaces/default/brokers/default?trigger=flaky"
    status, console = kawa.request("GET", path)
    assert status == 200, console
    assert [(d["trigger"], d.get("store")) for d in console["deadLettered"]] == [
        ("flaky", kept["id"])
    ]

    code, out, _ = _cli(kawa, "show", str(kept["id"]), "--broker", "default")
    assert code == 0
    assert "Trigger:      flaky" in out
    assert "Last status:  500" in out
    assert '"id": "e1"' in out  # the whole event
    code, _, err = _cli(kawa, "show", "99", "--broker", "default")
    assert (code, err.strip()) == (1, "error: no dead letter 99 in default")

    _Subscriber.answers["/flaky"] = 202  # the subscriber is fixed
    code, out, err = _cli(kawa, "redrive", "--broker", "default", "--trigger", "flaky")
    assert code == 0, out + err
    assert _got("/flaky", 202) == ["e1"]  # delivered once, to that trigger's subscriber only
    assert _got("/off") == ["e2", "e2"]
    assert _listed(kawa) == []
    code, out, _ = _cli(kawa, "redrive", "--broker", "default")
    assert (code, out.strip()) == (0, "No dead letters matched.")
    assert _got("/flaky", 202) == ["e1"]

    _Subscriber.answers["/flaky"] = 500
    _send(kawa, "e4", "t.flaky")
    wait_until(lambda: _listed(kawa), 15, "e4 never reached the store")
    code, out, _ = _cli(kawa, "purge", "--broker", "default", "--trigger", "flaky")
    assert (code, out.strip()) == (0, "Broker default: 1 purged")
    assert _listed(kawa) == []


def test_a_subscription_keeps_its_dead_letters_too(kawa: KawaProcess, subscriber: str) -> None:
    _Subscriber.answers["/sub"] = 500
    channel = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}
    kawa.create(channel | {"metadata": {"name": "orders", "namespace": "default"}})
    subscription = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "Subscription",
        "metadata": {"name": "audit", "namespace": "default"},
        "spec": {
            "channel": channel | {"name": "orders"},
            "subscriber": {"uri": f"{subscriber}/sub"},
        },
    }
    kawa.create(subscription)
    kawa.wait_ready("inmemorychannels", "orders")
    kawa.wait_ready("subscriptions", "audit")
    _send(kawa, "c1", "t.channel", f"{kawa.url}/channels/default/orders")

    def listed() -> list[dict[str, Any]]:
        code, out, err = _cli(
            kawa, "list", "--channel", "orders", "--subscription", "audit", "-o", "json"
        )
        assert code == 0, err
        found: list[dict[str, Any]] = orjson.loads(out)[0]["deadLetters"]
        return found

    (kept,) = wait_until(listed, 15, "the channel's dead letter never showed")
    assert (kept["name"], kept["event"]["id"], kept["attempts"]) == ("audit", "c1", 1)
    _Subscriber.answers["/sub"] = 202
    code, out, err = _cli(kawa, "redrive", "--channel", "orders")
    assert code == 0, out + err
    assert _got("/sub", 202) == ["c1"]
    assert listed() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--since", "yesterday"], "--since: expected an RFC 3339 time"),
        (["list", "--status", "abc"], "'abc' is not a valid integer"),
        (["purge", "--broker", "default"], "purge needs a filter"),
        (["redrive", "--to", "ftp://x"], "--to: expected an http:// or https:// URL"),
        (["list", "--bogus"], "No such option '--bogus'"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    kawa: KawaProcess, args: list[str], message: str
) -> None:
    code, out, err = _cli(kawa, *args)
    assert code == 2, out + err
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert message in err
