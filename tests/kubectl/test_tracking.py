"""Dependency tracking with the real kubectl: a Trigger whose subscriber (a Knative Service
running Knative's event_display image) is created after it becomes Ready within moments of
that Service, not at the controllers' periodic resync; an event sent as soon as the Trigger
is Ready reaches the subscriber (``kubectl logs``).

Works in a namespace of its own (the kawa is shared by the whole kubectl suite) and deletes
it at the end. The ApiServerSource counterpart (a sink created later) is in
``test_sources.py``.
"""

from __future__ import annotations

import secrets
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..waiting import wait_until
from .kubectl_support import Kubectl, condition

pytestmark = pytest.mark.slow

EVENT_DISPLAY = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"
TIMEOUT = 60.0
"""Generous bound of the waits for Pods (a loaded 2-core machine)."""
PROMPT = 1.0
"""How soon after its subscriber is addressable a Trigger is Ready (the periodic resync is
10 s: a Trigger waiting for it would almost always miss this bound)."""


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = "track-trigger"
    kubectl.ok("create", "namespace", name)
    try:
        yield name
    finally:
        kubectl.run("delete", "namespace", name, "--ignore-not-found")


def _ready(obj: dict[str, Any]) -> str | None:
    cond = condition(obj)
    return None if cond is None else str(cond["status"])


def test_trigger_is_ready_as_soon_as_its_service_is(kubectl: Kubectl, namespace: str) -> None:
    ns = namespace
    kubectl.apply(
        [
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": "default", "namespace": ns},
            },
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": "to-display", "namespace": ns},
                "spec": {
                    "broker": "default",
                    "subscriber": {
                        "ref": {
                            "apiVersion": "serving.knative.dev/v1",
                            "kind": "Service",
                            "name": "display",
                        }
                    },
                },
            },
        ]
    )

    def broker_ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "broker", "default", "-n", ns)
        return obj if _ready(obj) == "True" else None

    broker = wait_until(broker_ready, TIMEOUT, "the Broker never became Ready")

    def not_found() -> dict[str, Any] | None:
        trigger: dict[str, Any] = kubectl.json("get", "trigger", "to-display", "-n", ns)
        resolved = condition(trigger, "SubscriberResolved")
        return trigger if resolved is not None and resolved["status"] == "False" else None

    trigger = wait_until(not_found, TIMEOUT, "the Trigger never reported its missing subscriber")
    assert "NotFound" in str(condition(trigger, "SubscriberResolved")), trigger["status"]
    assert _ready(trigger) == "False", trigger["status"]

    kubectl.apply(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "display", "namespace": ns},
            "spec": {"template": {"spec": {"containers": [{"image": EVENT_DISPLAY}]}}},
        }
    )
    waited = kubectl.run(
        "wait", "--for=condition=Ready", "ksvc/display", "-n", ns, "--timeout=60s", timeout=70
    )
    assert waited.code == 0, waited.explain()
    service_ready = time.monotonic()

    def trigger_ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", "trigger", "to-display", "-n", ns)
        return obj if _ready(obj) == "True" else None

    trigger = wait_until(trigger_ready, TIMEOUT, "the Trigger never became Ready")
    elapsed = time.monotonic() - service_ready
    # an event sent the moment the Trigger shows Ready is delivered
    event_id = f"tracked-{secrets.token_hex(4)}"
    request = urllib.request.Request(
        broker["status"]["address"]["url"],
        data=b'{"hello": "tracked"}',
        method="POST",
        headers={
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-type": "dev.kawa.test.tracked",
            "ce-source": "/tests/kubectl/tracking",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202

    print(f"Trigger Ready {elapsed:.3f}s after kubectl wait ksvc returned")
    service = kubectl.json("get", "ksvc", "display", "-n", ns)
    assert trigger["status"]["subscriberUri"] == service["status"]["address"]["url"]
    assert elapsed < PROMPT, f"the Trigger became Ready {elapsed:.2f}s after its Service"

    def displayed() -> str | None:
        log = kubectl.service_log("display", ns)
        return log if f"id: {event_id}" in log else None

    log = wait_until(displayed, TIMEOUT, f"the event_display never showed event {event_id}")
    assert "type: dev.kawa.test.tracked" in log, log
    kubectl.ok("delete", "trigger", "to-display", "-n", ns)
    kubectl.ok("delete", "ksvc", "display", "-n", ns)
