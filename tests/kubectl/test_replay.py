"""``kawa replay`` against a running kawa, seen through the real kubectl: a Broker that keeps
its events an hour (``kawa.dev/retention``) with two Triggers gets three events at three
times; replaying the window of the first two to Trigger ``a`` delivers exactly those two to
``a``'s subscriber again, marked ``kawareplay``, and nothing new to ``b``'s; ``kubectl get
replays`` shows the Replay Succeeded. Bad windows and filters are refused with 422 at their
field paths (and by the CLI with exit code 2); a Replay of an unknown Trigger is not Ready
and says why."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kawa.cloudevents.event import CloudEvent

from ..e2e.e2e_support import KawaProcess, run_cli
from ..waiting import wait_until
from .kubectl_support import Kubectl, condition, header
from .sinks import TIMEOUT, Received, Sink, send

pytestmark = pytest.mark.slow

BROKER = """\
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  annotations:
    kawa.dev/retention: PT1H
"""

TRIGGER = """\
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: {name}
spec:
  broker: default
  subscriber:
    uri: {url}
"""

REPLAY = """\
apiVersion: kawa.dev/v1alpha1
kind: Replay
metadata:
  name: {name}
spec:
  broker: default
  trigger: {trigger}
  from: "{start}"
{rest}"""


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(event_id: str) -> CloudEvent:
    return CloudEvent({"specversion": "1.0", "id": event_id, "source": "/t", "type": "t.e"})


def replayed(received: Received) -> bool:
    return received.ce("kawareplay") is not None


def ready(kubectl: Kubectl, resource: str, name: str, ns: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", resource, name, "-n", ns)
        found = condition(obj)
        return obj if found is not None and found["status"] == "True" else None

    found: dict[str, Any] = wait_until(seen, TIMEOUT, f"{resource} {ns}/{name} never turned Ready")
    return found


def test_a_replayed_window_reaches_only_the_named_trigger(
    kawa: KawaProcess,
    kubectl: Kubectl,
    namespaces: Callable[..., str],
    sinks: Callable[..., Sink],
) -> None:
    ns = namespaces("replay")
    a, b = sinks(), sinks()
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=BROKER)
    for name, sink in (("a", a), ("b", b)):
        kubectl.ok("apply", "-n", ns, "-f", "-", stdin=TRIGGER.format(name=name, url=sink.url))
    url = ready(kubectl, "broker", "default", ns)["status"]["address"]["url"]
    ready(kubectl, "trigger", "a", ns)
    ready(kubectl, "trigger", "b", ns)

    start = time.time()  # t1, t2 in the window; t3 after it
    for n in (1, 2):
        assert send(url, event(f"e{n}")) == 202
        a.wait(count=n, message="a's first events")
    b.wait(count=2, message="b's first events")
    end = time.time()
    assert send(url, event("e3")) == 202
    a.wait(count=3, message="a's third event")
    b.wait(count=3, message="b's third event")

    cli = run_cli(
        "replay",
        "--broker",
        "default",
        "--trigger",
        "a",
        "-n",
        ns,
        "--from",
        rfc3339(start - 0.5),
        "--to",
        rfc3339(end),
        "--name",
        "first-two",
        "--data-dir",
        str(kawa.data_dir),
        cwd=kawa.workdir,
    )
    assert cli.code == 0, cli.explain()
    assert "replay first-two succeeded" in cli.stdout, cli.explain()
    again = a.wait(replayed, count=2, message="a's replayed events")
    assert sorted(r.ce("id") or "" for r in again) == ["e1", "e2"]
    assert {r.ce("kawareplay") for r in again} == {"first-two"}
    assert len(b.events()) == 3
    assert b.events(replayed) == []
    assert len(a.events()) == 5

    table = kubectl.ok("get", "replays", "-n", ns)
    assert header(table) == [
        "NAME",
        "BROKER",
        "TRIGGER",
        "PROGRESS",
        "SUCCEEDED",
        "READY",
        "REASON",
        "AGE",
    ]
    assert table.splitlines()[1].split()[:7] == [
        "first-two",
        "default",
        "a",
        "2/2",
        "True",
        "True",
        "Completed",
    ]
    status = kubectl.json("get", "replay", "first-two", "-n", ns)["status"]
    assert status["progress"]["delivered"] == 2
    assert status["position"] == status["window"]["lastSeq"]


def test_bad_replays_are_refused_or_not_ready(
    kawa: KawaProcess, kubectl: Kubectl, namespaces: Callable[..., str]
) -> None:
    ns = namespaces("replay-bad")
    bad = REPLAY.format(
        name="bad",
        trigger="a",
        start="yesterday",
        rest='  to: "2026-01-01T00:00:00Z"\n  filter: "type ="\n',
    )
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=bad)
    assert "spec.from: expected an RFC 3339 date-time" in refused.stderr, refused.explain()
    assert "spec.filter" in refused.stderr, refused.explain()
    backwards = REPLAY.format(
        name="bad", trigger="a", start="2026-02-01T00:00:00Z", rest='  to: "2026-01-01T00:00:00Z"\n'
    )
    refused = kubectl.fails("apply", "-n", ns, "-f", "-", stdin=backwards)
    assert "spec.to: must not be before from" in refused.stderr, refused.explain()

    cli = run_cli(
        "replay",
        "--broker",
        "default",
        "--trigger",
        "a",
        "--from",
        "-1h",
        "--to",
        "-2h",
        "--data-dir",
        str(kawa.data_dir),
        cwd=kawa.workdir,
    )
    assert cli.code == 2, cli.explain()
    assert "is after --to" in cli.stderr, cli.explain()

    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=BROKER)
    orphan = REPLAY.format(name="orphan", trigger="nope", start="2026-01-01T00:00:00Z", rest="")
    kubectl.ok("apply", "-n", ns, "-f", "-", stdin=orphan)

    def not_ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "replay", "orphan", "-n", ns)
        found = condition(obj)
        return obj if found is not None and found.get("reason") == "TriggerNotFound" else None

    obj = wait_until(not_ready, TIMEOUT, "the Replay of an unknown Trigger never said so")
    found = condition(obj) or {}
    assert found["status"] == "False"
    assert found["message"] == f"trigger nope does not exist in namespace {ns}"
    assert (condition(obj, "BrokerReady") or {})["status"] == "True"
    assert (condition(obj, "Succeeded") or {})["status"] == "Unknown"
