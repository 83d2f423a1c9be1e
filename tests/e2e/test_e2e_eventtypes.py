"""EventType auto-creation (``eventtype-auto-create``) end to end, with the real kubectl and a
kawa of its own (the flag is cluster-wide).

Flag off (Knative's default): events create no EventType. ``kubectl patch`` turns it on: an
event posted to a Broker, one to an InMemoryChannel and a reply a Trigger's subscriber sends
back into the Broker each give an EventType named as Knative names them, owned by the Broker or
channel, its ``spec.reference`` the receiver, its attributes the event's ``type``, ``source``,
``specversion``, ``id`` and extensions; a second event of the same type and source makes no
second one. Beyond Knative, the annotation ``eventing.kawa.dev/data-schema`` holds a JSON
Schema of the data seen (merged over events), which ``kawa get eventtypes -o wide`` summarises
and ``kubectl describe`` shows. Deleting the Broker deletes its EventTypes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from typing import Any

import pytest

from ..kubectl.kubectl_support import Kubectl
from ..kubectl.sinks import Sink, reply_transformed
from ..waiting import wait_until
from .e2e_support import KawaProcess, run_cli
from .flags_support import kawa, kubectl, set_flag

pytestmark = pytest.mark.slow

__all__ = ["kawa", "kubectl"]  # the module's fixtures

SETUP = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {{name: shop}}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {{name: audit}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {{name: pricing}}
spec:
  broker: shop
  filter: {{attributes: {{type: order.created}}}}
  subscriber: {{uri: "{replier}"}}
"""


def post(kawa: KawaProcess, path: str, type_: str, data: Any, **extensions: str) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": f"{type_}-{json.dumps(data, sort_keys=True)}",
        "ce-source": "/shop",
        "ce-type": type_,
        "content-type": "application/json",
        **{f"ce-{k}": v for k, v in extensions.items()},
    }
    conn = http.client.HTTPConnection("127.0.0.1", kawa.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(data).encode(), headers=headers)
        response = conn.getresponse()
        assert response.status == 202, response.read()
    finally:
        conn.close()


def knative_name(receiver: str, type_: str, source: str = "/shop") -> str:
    digest = hashlib.md5(f"{type_}{source}default{receiver}".encode()).hexdigest()
    return f"et-{receiver}-{digest}"


def eventtypes(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    items = kubectl.json("get", "eventtypes")["items"]
    return {o["metadata"]["name"]: o for o in items}


def test_events_fill_the_registry(kawa: KawaProcess, kubectl: Kubectl) -> None:
    replier = Sink(reply_transformed("order.priced", "/pricing"))
    try:
        kubectl.ok("apply", "-f", "-", stdin=SETUP.format(replier=replier.url))
        for ref in ("broker/shop", "inmemorychannel/audit", "trigger/pricing"):
            kubectl.ok("wait", ref, "--for=condition=Ready", "--timeout=30s")

        # the flag off: nothing is created
        post(kawa, "/brokers/default/shop", "order.cancelled", {"id": 0})
        set_flag(kubectl, "eventtype-auto-create", "enabled")
        created = knative_name("shop", "order.created")
        wait_until(
            lambda: created in eventtypes(kubectl) or post_again(kawa),
            30,
            "no EventType was created for the broker's events",
        )
        post(kawa, "/brokers/default/shop", "order.created", {"id": 2, "total": 2.5, "coupon": "X"})
        post(kawa, "/channels/default/audit", "audit.entry", {"who": "me"}, traceid="t-1")

        priced = knative_name("shop", "order.priced", "/pricing")
        audit = knative_name("audit", "audit.entry")
        wait_until(
            lambda: {created, priced, audit} <= set(eventtypes(kubectl)),
            30,
            f"the registry never held all three: {sorted(eventtypes(kubectl))}",
        )
        found = eventtypes(kubectl)
        assert knative_name("shop", "order.cancelled") not in found  # sent with the flag off
        shop = kubectl.json("get", "broker", "shop")
        order = found[created]
        assert order["spec"]["reference"] == {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "name": "shop",
        }
        assert order["metadata"]["ownerReferences"][0]["uid"] == shop["metadata"]["uid"]
        attributes = {a["name"]: a for a in order["spec"]["attributes"]}
        assert attributes["type"] == {"name": "type", "required": True, "value": "order.created"}
        assert attributes["source"]["value"] == "/shop"
        assert attributes["specversion"]["value"] == "1.0"
        assert attributes["id"]["required"] is True
        channel_attributes = {a["name"] for a in found[audit]["spec"]["attributes"]}
        assert "traceid" in channel_attributes  # the event's extension
        assert found[audit]["spec"]["reference"]["kind"] == "InMemoryChannel"
        assert found[priced]["spec"]["reference"]["name"] == "shop"  # the reply's broker

        # the data's schema, merged over the events seen: id in both, coupon in one
        def schema() -> dict[str, Any] | None:
            text = (
                eventtypes(kubectl)[created]["metadata"]
                .get("annotations", {})
                .get("eventing.kawa.dev/data-schema")
            )
            parsed = json.loads(text) if text else None
            return parsed if parsed and "coupon" in parsed.get("properties", {}) else None

        merged = wait_until(schema, 30, "the data schema never took in the second event")
        assert merged["properties"]["id"] == {"type": "integer"}
        assert merged["properties"]["total"] == {"type": "number"}
        assert merged["required"] == ["id", "total"]
        assert merged["$schema"] == "https://json-schema.org/draft/2020-12/schema"

        # kawa get -o wide summarises it; kubectl describe shows it
        wide = run_cli(
            "get", "eventtypes", "-o", "wide", "--data-dir", str(kawa.data_dir), cwd=kawa.workdir
        )
        assert wide.code == 0, wide.explain()
        row = next(line for line in wide.stdout.splitlines() if line.startswith(created))
        cells = re.split(r"\s{2,}", row.strip())
        assert "order.created" in cells, row
        assert "/shop" in cells, row
        assert "coupon:string id:integer total:number" in cells, row
        assert "True" in cells, row  # its Broker exists
        described = kubectl.ok("describe", "eventtype", created)
        assert "eventing.kawa.dev/data-schema" in described

        # one EventType per type and source: a repeat makes no other
        before = len(eventtypes(kubectl))
        post(kawa, "/brokers/default/shop", "order.created", {"id": 3, "total": 1})
        assert len(eventtypes(kubectl)) == before

        # the Broker's EventTypes go with it
        kubectl.ok("delete", "broker", "shop")
        wait_until(
            lambda: not {created, priced} & set(eventtypes(kubectl)),
            30,
            "the broker's EventTypes outlived it",
        )
    finally:
        set_flag(kubectl, "eventtype-auto-create", "disabled")
        kubectl.run("delete", "broker", "shop", "--ignore-not-found")
        kubectl.run("delete", "inmemorychannel", "audit", "--ignore-not-found")
        replier.close()


_posted = {"n": 0}


def post_again(kawa: KawaProcess) -> bool:
    """Post another order (the flag may not have reached the data plane yet); never done."""
    _posted["n"] += 1
    post(kawa, "/brokers/default/shop", "order.created", {"id": 1, "total": 10})
    return False
