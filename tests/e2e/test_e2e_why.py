"""``kawa why`` against a running kawa: its answers agree with what the broker delivers.

One ``kawa up`` for the module (with metrics, to see each trigger's decisions), a broker with
triggers of every kind of filter, and a subscriber in the test process. The CLI runs in this
process (click's runner) except where the real entry point matters (stdin, exit codes).
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from kawa.cli.main import main

from ..waiting import wait_until
from .e2e_support import KawaProcess, broker, kawa_up, run_cli, trigger

pytestmark = pytest.mark.slow

ORDERS = {
    "filters": [
        {"prefix": {"source": "/orders/"}},
        {"any": [{"exact": {"type": "com.example.order.created"}}, {"cesql": "subject = 'vip'"}]},
    ]
}
TRIGGERS: dict[str, dict[str, Any]] = {
    "everything": {},
    "orders": ORDERS,
    "big": {"filters": [{"cesql": "INT(amount) >= 100"}]},
    "paid": {"filter": {"attributes": {"type": "com.example.order.paid"}}},
    "fresh": {"filters": [{"exact": {"knativebrokerttl": "255"}}]},  # set by the ingress
    "quiet": {"filters": [{"not": {"exact": {"subject": "vip"}}}]},
}
EVENTS = [
    {"id": "e1", "source": "/orders/7", "type": "com.example.order.updated", "amount": "abc"},
    {"id": "e2", "source": "/orders/8", "type": "com.example.order.created", "amount": "150"},
    {"id": "e3", "source": "/pay", "type": "com.example.order.paid", "subject": "vip"},
]


class _Subscriber(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def subscriber() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Subscriber)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def kawa(tmp_path_factory: pytest.TempPathFactory, subscriber: str) -> Iterator[KawaProcess]:
    with kawa_up(tmp_path_factory.mktemp("why"), "--metrics-port", "0") as running:
        running.create(broker())
        for name, spec in TRIGGERS.items():
            running.create(trigger(name, subscriber, **spec))
        missing = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "no"}}
        unready = trigger("unready", subscriber)
        unready["spec"]["subscriber"] = missing
        running.create(unready)
        running.wait_ready("brokers", "default")
        for name in TRIGGERS:
            running.wait_ready("triggers", name)
        yield running


def why(kawa: KawaProcess, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["why", "--data-dir", str(kawa.data_dir), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def event(tmp_path: Path, **attributes: str) -> str:
    path = tmp_path / f"{attributes.get('id', 'event')}.json"
    path.write_bytes(orjson.dumps({"specversion": "1.0", **attributes}))
    return str(path)


def test_the_answers_agree_with_the_deliveries(kawa: KawaProcess, tmp_path: Path) -> None:
    predicted: dict[str, int] = dict.fromkeys(TRIGGERS, 0)
    for attributes in EVENTS:
        code, out, err = why(kawa, "--broker", "default", "--event", event(tmp_path, **attributes),
                             "-o", "json")  # fmt: skip
        assert code == 0, err
        answer = orjson.loads(out)
        decided = {t["name"]: t for t in answer["triggers"]}
        assert sorted(decided) == sorted([*TRIGGERS, "unready"])
        assert decided["unready"]["wouldDeliver"] is False
        for name in TRIGGERS:
            assert decided[name]["ready"]["status"] == "True"
            predicted[name] += decided[name]["wouldDeliver"]
    for attributes in EVENTS:
        body = orjson.dumps({"specversion": "1.0", **attributes})
        request = urllib.request.Request(
            kawa.broker_url(),
            data=body,
            method="POST",
            headers={"Content-Type": "application/cloudevents+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 202

    url = orjson.loads((kawa.data_dir / "server.json").read_bytes())["metricsUrl"]

    def decisions() -> dict[str, tuple[float, float]] | None:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        delivered: dict[str, float] = {}
        filtered: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name = sample.labels.get("trigger_name") or sample.labels.get("name", "")
                if sample.name == "mt_broker_filter_event_count_total":
                    delivered[name] = delivered.get(name, 0) + sample.value
                elif sample.name == "kawa_filtered_out_events_total":
                    filtered[name] = filtered.get(name, 0) + sample.value
        seen = {n: (delivered.get(n, 0), filtered.get(n, 0)) for n in TRIGGERS}
        return seen if all(d + f == len(EVENTS) for d, f in seen.values()) else None

    seen = wait_until(decisions, 20, "the triggers never decided on every event", 0.2)
    assert {n: int(d) for n, (d, _) in seen.items()} == predicted
    assert predicted == {"everything": 3, "orders": 1, "big": 1, "paid": 1, "fresh": 3, "quiet": 2}


def test_the_table_says_why_not(kawa: KawaProcess, tmp_path: Path) -> None:
    code, out, err = why(kawa, "--broker", "default", "--event", event(tmp_path, **EVENTS[0]))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Broker default/default: Ready"
    assert lines[1] == "Event: id=e1 source=/orders/7 type=com.example.order.updated"
    header = lines[3]
    assert header.split() == ["TRIGGER", "READY", "MATCHED", "WHY"]
    why_column = header.index("WHY")
    rows = {line.split()[0]: line for line in lines[4:] if line and not line.startswith(" ")}
    assert rows["everything"].split()[1:4] == ["True", "yes", "no"]
    assert rows["everything"][why_column:] == "no filters: every event matches"
    assert rows["big"][why_column:] == (
        "spec.filters[0].cesql: cast error in `INT(amount)`: cannot cast String 'abc' to "
        "Integer (amount = 'abc')"
    )
    assert rows["orders"][why_column:] == "spec.filters[1].any: none of its 2 alternatives matched"
    below = lines[lines.index(rows["orders"]) + 1 : lines.index(rows["orders"]) + 3]
    assert [line[why_column:] for line in below] == [
        '  spec.filters[1].any[0].exact.type: type "com.example.order.updated" is not '
        '"com.example.order.created"',
        "  spec.filters[1].any[1].cesql: missingAttribute error in `subject = 'vip'`: the event "
        "has no attribute 'subject' (no subject)",
    ]
    assert rows["paid"][why_column:] == (
        'spec.filter.attributes.type: type "com.example.order.updated" is not '
        '"com.example.order.paid"'
    )
    assert rows["fresh"][why_column:] == "spec.filters matched"
    unready = rows["unready"].split()
    assert unready[1] != "True"
    assert unready[2] == "yes"
    assert "not delivered: the trigger is not Ready (" in rows["unready"]
    assert lines[-1] == "3 of 7 triggers would deliver the event"


def test_stdin_and_the_real_command(kawa: KawaProcess, tmp_path: Path) -> None:
    body = orjson.dumps({"specversion": "1.0", **EVENTS[2]}).decode()
    code, out, err = why(kawa, "--broker", "default", "--event", "-", stdin=body)
    assert code == 0, err
    assert out.splitlines()[1] == "Event: id=e3 source=/pay type=com.example.order.paid"
    assert out.splitlines()[-1] == "3 of 7 triggers would deliver the event"
    args = ("why", "--broker", "default", "--event", "-", "--data-dir", str(kawa.data_dir))
    no_id = '{"specversion": "1.0", "source": "/s", "type": "t"}'
    bad = run_cli(*args, cwd=tmp_path, stdin=no_id)
    assert bad.code == 1, bad.explain()
    assert bad.stdout == ""
    assert bad.stderr == "error: --event - (stdin) is not a valid CloudEvent: id: required\n"


@pytest.mark.parametrize(
    ("args", "body", "expected"),
    [
        (("--broker", "nope"), {"id": "1", "source": "/s", "type": "t"},
         'error: Error from server (NotFound): brokers.eventing.knative.dev "nope" not found'),
        (("--broker", "default", "-n", "elsewhere"), {"id": "1", "source": "/s", "type": "t"},
         'error: Error from server (NotFound): brokers.eventing.knative.dev "default" not found'),
        (("--broker", "default"), {"id": "1", "type": "t", "time": "yesterday"},
         "is not a valid CloudEvent: time: must be an RFC 3339 timestamp"),
        (("--broker", "default"), {"id": "1", "source": "/s", "type": "t", "knativebrokerttl": 1},
         "knativebrokerttl: the event's TTL is exhausted"),
        (("--broker", "default"), [], "is not a valid CloudEvent: an event must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_the_field(
    kawa: KawaProcess, tmp_path: Path, args: tuple[str, ...], body: Any, expected: str
) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(orjson.dumps({"specversion": "1.0", **body} if body else body))
    code, out, err = why(kawa, *args, "--event", str(path))
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: "), err
    assert expected in err, err
    assert "Traceback" not in err


def test_a_missing_file_and_raw_json(kawa: KawaProcess, tmp_path: Path) -> None:
    code, _, err = why(kawa, "--broker", "default", "--event", str(tmp_path / "none.json"))
    assert code == 1
    assert (
        err == f"error: --event: cannot read {tmp_path / 'none.json'}: No such file or directory\n"
    )
    code, _, err = why(kawa, "--broker", "default", "--event", "-", stdin="not json")
    assert code == 1
    assert err.startswith(
        "error: --event - (stdin) is not a valid CloudEvent: body is not valid JSON"
    )


def test_rbac_applies_to_the_subresource(kawa: KawaProcess) -> None:
    token = (kawa.data_dir / "token").read_text().strip()
    request = urllib.request.Request(
        kawa.url + "/apis/eventing.knative.dev/v1/namespaces/default/brokers/default/why",
        data=orjson.dumps({"specversion": "1.0", **EVENTS[0]}),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "Impersonate-User": "someone",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value as answer:
        assert answer.code == 403
        status = orjson.loads(answer.read())
    assert 'cannot create resource "brokers/why"' in status["message"], status


def _post(url: str, attributes: dict[str, str]) -> None:
    request = urllib.request.Request(
        url,
        data=orjson.dumps({"specversion": "1.0", **attributes}),
        method="POST",
        headers={"Content-Type": "application/cloudevents+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 202


def trace(kawa: KawaProcess, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["trace", "--data-dir", str(kawa.data_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def test_kawa_trace_tells_a_broker_events_and_a_channel_events_story(
    kawa: KawaProcess, subscriber: str
) -> None:
    _post(kawa.broker_url(), {"id": "traced-1", "source": "/pay", "type": "t.traced"})

    def told() -> str | None:
        code, out, _ = trace(kawa, "--broker", "default", "--id", "traced-1")
        return out if code == 0 and "trigger everything: delivered" in out else None

    out = wait_until(told, 20, "the broker's trace never told the delivery")
    lines = out.splitlines()
    assert lines[0] == "Broker default/default: lineage on"
    assert "Event: id=traced-1 source=/pay type=t.traced" in lines[2]
    assert "accepted by " in lines[3]
    assert any(line.endswith("trigger paid: not matched") for line in lines), out

    # a channel: its subscriber is named by its Subscription
    channel = {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "metadata": {"name": "traced", "namespace": "default"},
    }
    kawa.create(channel)
    kawa.create(
        {
            "apiVersion": "messaging.knative.dev/v1",
            "kind": "Subscription",
            "metadata": {"name": "traced-to-sink", "namespace": "default"},
            "spec": {
                "channel": {
                    "apiVersion": "messaging.knative.dev/v1",
                    "kind": "InMemoryChannel",
                    "name": "traced",
                },
                "subscriber": {"uri": subscriber},
            },
        }
    )
    kawa.wait_ready("subscriptions", "traced-to-sink")
    _post(f"{kawa.url}/channels/default/traced", {"id": "on-channel", "source": "/c", "type": "t"})

    def channel_told() -> str | None:
        code, out, _ = trace(kawa, "--channel", "traced", "--id", "on-channel")
        return out if code == 0 and "subscription traced-to-sink: delivered" in out else None

    out = wait_until(channel_told, 20, "the channel's trace never told the delivery")
    assert out.splitlines()[0] == "Channel default/traced: lineage on"
    assert "subscription traced-to-sink: delivery attempt 1 to " in out

    code, _, err = trace(kawa, "--id", "x")
    assert code == 1
    assert "give one of --broker NAME or --channel NAME" in err
