"""Knative's sample images and documented objects, applied with the real kubectl to the
suite's ``kawa up`` (issue 12, items 3 and 6).

- heartbeats (a ContainerSource, as Knative's docs write it) -> Broker -> Trigger -> the
  appender (a Knative Service) whose reply goes back to the Broker -> Trigger -> the
  event_display (a Knative Service): the display shows the appended message;
- the getting-started CloudEvents Player: Service, SinkBinding to a Broker, Trigger back to
  it; an event sent from the player comes back to it through the broker;
- ``kubectl run --image=python:3.11 -- python3 -c ...`` says to use ``--command``; with it,
  the program runs;
- a Broker whose ``spec.config`` names a missing ConfigMap says so in its conditions.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition

pytestmark = pytest.mark.slow

TIMEOUT = 45.0
"""Generous bound of every wait (a loaded 2-core machine; Knative Services start cold)."""
APPENDER = "gcr.io/knative-releases/knative.dev/eventing/cmd/appender"
HEARTBEATS = "gcr.io/knative-nightly/knative.dev/eventing/cmd/heartbeats"
EVENT_DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
PLAYER = "quay.io/ruben/cloudevents-player:latest"


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "samples-" + request.node.name.removeprefix("test_")[:40].replace("_", "-")
    kubectl.ok("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--ignore-not-found", "--wait=false")


def _ksvc(name: str, ns: str, image: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [container]},
            }
        },
    }


def _trigger(name: str, ns: str, broker: str, type_: str | None, service: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "broker": broker,
        "subscriber": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": service}
        },
    }
    if type_ is not None:
        spec["filter"] = {"attributes": {"type": type_}}
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _broker(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _ready(kubectl: Kubectl, *ref: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", *ref)
        cond = condition(obj)
        return obj if cond is not None and cond["status"] == "True" else None

    found: dict[str, Any] = wait_until(ready, TIMEOUT, f"{ref} never Ready")
    return found


def test_heartbeats_through_the_appender_to_the_event_display(
    kubectl: Kubectl, namespace: str
) -> None:
    ns = namespace
    kubectl.apply(
        [
            _broker("default", ns),
            _ksvc("appender", ns, APPENDER, {"MESSAGE": " - appended", "TYPE": "samples.appended"}),
            _ksvc("display", ns, EVENT_DISPLAY),
            _trigger(
                "to-appender", ns, "default", "dev.knative.eventing.samples.heartbeat", "appender"
            ),
            _trigger("to-display", ns, "default", "samples.appended", "display"),
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "ContainerSource",
                "metadata": {"name": "heartbeats", "namespace": ns},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "image": HEARTBEATS,
                                    "name": "heartbeats",
                                    "args": ["--period=1", "--label=kawa"],
                                    "env": [
                                        {"name": "POD_NAME", "value": "mypod"},
                                        {"name": "POD_NAMESPACE", "value": ns},
                                    ],
                                }
                            ]
                        }
                    },
                    "sink": {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1",
                            "kind": "Broker",
                            "name": "default",
                        }
                    },
                },
            },
        ]
    )
    for ref in ("trigger/to-appender", "trigger/to-display", "containersource/heartbeats"):
        _ready(kubectl, *ref.split("/"), "-n", ns)

    def displayed() -> str | None:
        log = kubectl.service_log("display", ns)
        return log if "samples.appended" in log and " - appended" in log else None

    log = wait_until(displayed, TIMEOUT, "the display never showed an appended heartbeat")
    assert f"source: https://knative.dev/eventing-contrib/cmd/heartbeats/#{ns}/mypod" in log, log
    assert '"label": "kawa"' not in log  # Go's struct: the appender keeps only id and message
    assert '"message": " - appended"' in log, log
    assert "heart: yes" in log, log  # the heartbeat's extensions survive the reply


def test_the_getting_started_cloudevents_player(kubectl: Kubectl, namespace: str) -> None:
    ns = namespace
    kubectl.apply(
        [
            _broker("example-broker", ns),
            _ksvc("cloudevents-player", ns, PLAYER),
            {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "SinkBinding",
                "metadata": {"name": "ce-player-binding", "namespace": ns},
                "spec": {
                    "sink": {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1",
                            "kind": "Broker",
                            "name": "example-broker",
                        }
                    },
                    "subject": {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Service",
                        "name": "cloudevents-player",
                    },
                },
            },
            _trigger("cloudevents-trigger", ns, "example-broker", None, "cloudevents-player"),
        ]
    )
    _ready(kubectl, "trigger", "cloudevents-trigger", "-n", ns)
    _ready(kubectl, "sinkbinding", "ce-player-binding", "-n", ns)
    url = _ready(kubectl, "ksvc", "cloudevents-player", "-n", ns)["status"]["url"].rstrip("/")

    def request(method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
        req = urllib.request.Request(url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if resp.headers.get_content_type() == "application/json" else raw

    with urllib.request.urlopen(url + "/", timeout=10) as resp:
        assert b"Create Event" in resp.read()

    # the SinkBinding's K_SINK reaches the player (its revision may roll once for it)
    def sent_and_received() -> list[dict[str, Any]] | None:
        request(
            "POST",
            "/messages",
            b'{"message": "Hello CloudEvents!"}',
            **{
                "Content-Type": "application/json",
                "Ce-Id": "player-1",
                "Ce-Specversion": "1.0",
                "Ce-Type": "some-type",
                "Ce-Source": "cloudevents-player",
            },
        )
        listed: list[dict[str, Any]] = request("GET", "/messages?size=200")
        kinds = {m["type"] for m in listed if m["id"] == "player-1"}
        return listed if {"SENT", "RECEIVED"} <= kinds else None

    listed = wait_until(sent_and_received, TIMEOUT, "the player never got its event back", every=1)
    received = next(m for m in listed if m["type"] == "RECEIVED")
    assert received["data"] == {"message": "Hello CloudEvents!"}
    assert received["eventType"] == "some-type"
    # the tutorial's curl to the player itself
    status = request(
        "POST",
        "",
        b'{"msg":"Hello CloudEvents!"}',
        **{
            "Content-Type": "application/json",
            "Ce-Id": "123456789",
            "Ce-Specversion": "1.0",
            "Ce-Type": "some-type",
            "Ce-Source": "command-line",
        },
    )
    assert status == b""
    assert any(m["id"] == "123456789" for m in request("GET", "/messages"))


def test_kubectl_run_with_args_but_no_command_says_to_use_command(
    kubectl: Kubectl, namespace: str
) -> None:
    ns = namespace
    kubectl.ok(
        "run", "pyargs", "-n", ns, "--image=python:3.11", "--restart=Never",
        "--", "python3", "-c", "print('hi')",
    )  # fmt: skip

    def waiting() -> dict[str, Any] | None:
        pod: dict[str, Any] = kubectl.json("get", "pod", "pyargs", "-n", ns)
        statuses = pod.get("status", {}).get("containerStatuses") or [{}]
        state = statuses[0].get("state", {}).get("waiting") or {}
        return state if state.get("reason") == "ImageNotRunnable" else None

    state = wait_until(waiting, TIMEOUT, "the Pod never said ImageNotRunnable")
    assert "kubectl run NAME --image=python:3.11 --command -- python3 -c" in state["message"]
    events = kubectl.ok("get", "events", "-n", ns, "--field-selector", "involvedObject.name=pyargs")
    assert "--command" in events, events

    kubectl.ok(
        "run", "pycmd", "-n", ns, "--image=python:3.11", "--restart=Never",
        "--command", "--", "python3", "-c", "print('hi from python')",
    )  # fmt: skip

    def done() -> str | None:
        log = kubectl.run("logs", "pycmd", "-n", ns)
        return log.stdout if "hi from python" in log.stdout else None

    wait_until(done, TIMEOUT, "python3 never ran")


def test_a_broker_naming_a_missing_configmap_says_so(kubectl: Kubectl, namespace: str) -> None:
    ns = namespace
    config = {"apiVersion": "v1", "kind": "ConfigMap", "name": "missing-config"}
    kubectl.apply(_broker("b", ns, config=config))

    def failed() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "broker", "b", "-n", ns)
        cond = condition(obj)
        return cond if cond is not None and cond["status"] == "False" else None

    cond = wait_until(failed, TIMEOUT, "the Broker never said its config is missing")
    assert cond["reason"] == "ChannelTemplateFailed", cond
    assert f'configmap "missing-config" not found in namespace "{ns}"' in cond["message"]
    # Knative's documented default exists, as in a Knative install
    documented = dict(config, name="config-br-default-channel", namespace="knative-eventing")
    kubectl.apply(_broker("documented", ns, config=documented))
    _ready(kubectl, "broker", "documented", "-n", ns)
    kubectl.ok("create", "configmap", "missing-config", "-n", ns)
    _ready(kubectl, "broker", "b", "-n", ns)
