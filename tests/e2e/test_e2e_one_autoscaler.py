"""One autoscaler for two nodes: ``kawa up --nats`` nodes ``a`` and ``b`` on one private
nats-server serve a Knative Service (the built-in event-display) through both their ports.

Every Pod of the Service's Revision is decided by the leader (its
``autoscaling.kawa.dev/scaled-by`` names the leader), while requests come through both
nodes; once the Revision is back at zero, a request through the node that does not lead
wakes it (its report reaches the leader's autoscaler at once) and is answered. The windows
are shortened through ConfigMap ``config-autoscaler``."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import KawaProcess
from .test_e2e_nodes import node, ready_nodes

KSVC = "/apis/serving.knative.dev/v1/namespaces/default/services"
PODS = "/api/v1/namespaces/default/pods?labelSelector=serving.knative.dev%2Fservice%3Ddisplay"
CONFIG = "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler"
SCALED_BY = "autoscaling.kawa.dev/scaled-by"
IMAGE = "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display"


def service() -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "display", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"image": IMAGE}]}}},
    }


def fast_autoscaler(kawa: KawaProcess) -> None:
    status, config = kawa.request("GET", CONFIG)
    assert status == 200, config
    config["data"] = {
        **(config.get("data") or {}),
        "stable-window": "2s",
        "scale-to-zero-grace-period": "1s",
        "tick-interval": "200ms",
    }
    status, body = kawa.request("PUT", CONFIG, config)
    assert status == 200, body


def pods(kawa: KawaProcess) -> list[dict[str, Any]]:
    status, found = kawa.request("GET", PODS)
    assert status == 200, found
    return list(found["items"])


def healthz(kawa: KawaProcess) -> int:
    url = f"{kawa.url}/serving/default/display/healthz"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
def test_one_autoscaler_decides_for_both_nodes(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        # where kawa listens: a request through one node may go to the Pod through the other
        a, b = node(tmp_path, "a", url, "127.0.0.1"), node(tmp_path, "b", url, "127.0.0.1")
        try:
            a.start()
            b.start()
            wait_until(lambda: ready_nodes(a) == {"a", "b"}, 20, "the nodes never got Ready")

            def leader() -> str:
                path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kawa-controllers"
                status, lease = a.request("GET", path)
                return str(lease["spec"].get("holderIdentity") or "") if status == 200 else ""

            lead = wait_until(leader, 15, "no leader")
            follower = b if lead == "a" else a
            fast_autoscaler(follower)
            status, body = follower.request("POST", KSVC, service())
            assert status == 201, body
            wait_until(lambda: _ready(follower), 40, "the Service never became Ready")
            seen: dict[str, str] = {}

            def record() -> list[dict[str, Any]]:
                found = pods(a)
                for pod in found:
                    annotations = pod["metadata"].get("annotations") or {}
                    seen[pod["metadata"]["name"]] = str(annotations.get(SCALED_BY))
                return found

            for _ in range(5):  # requests through both nodes
                for kawa in (a, b):
                    assert healthz(kawa) == 200
                record()

            # back at zero: stable window 2s and grace 1s after the last request
            wait_until(lambda: not record(), 30, "the Revision never scaled to zero")
            started = time.monotonic()
            assert healthz(follower) == 200  # from zero through the node that does not lead
            took = time.monotonic() - started
            record()
            assert took < 15, took
            assert seen, "no Pod was ever seen"
            assert set(seen.values()) == {lead}, seen  # every Pod decided by the leader
            assert len(record()) == 1
        finally:
            a.stop()
            b.stop()


def _ready(kawa: KawaProcess) -> bool:
    status, found = kawa.request("GET", f"{KSVC}/display")
    if status != 200:
        return False
    conditions = found.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
