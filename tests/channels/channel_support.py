"""Test support for the channel data plane: InMemoryChannels written through the real API.

The subscribers of a channel are written straight into ``spec.subscribers`` (what the
Subscription reconciler does), so these tests exercise the data plane alone.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from kawa.cloudevents import http as ce_http
from kawa.cloudevents.event import CloudEvent

from ..broker.broker_support import Kawa
from ..waiting import eventually

MESSAGING = "/apis/messaging.knative.dev/v1/namespaces"


def imc(
    name: str, *subscribers: dict[str, Any], ns: str = "default", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "messaging.knative.dev/v1",
        "kind": "InMemoryChannel",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"subscribers": list(subscribers), **spec},
    }


def sub(
    uid: str, subscriber: str | None = None, reply: str | None = None, **more: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": uid, "generation": 1, **more}
    if subscriber:
        out["subscriberUri"] = subscriber
    if reply:
        out["replyUri"] = reply
    return out


async def put_channel(kawa: Kawa, obj: dict[str, Any]) -> dict[str, Any]:
    """Create or replace an InMemoryChannel; wait until the data plane runs a consumer for
    each of its subscribers (each saves its cursor before it reads)."""
    meta = obj["metadata"]
    url = f"{kawa.url}{MESSAGING}/{meta['namespace']}/inmemorychannels"
    # The IMC reconciler writes status concurrently: a replace races with it and may get 409,
    # which a Kubernetes client answers by reading again (client-go's RetryOnConflict).
    for _ in range(20):
        async with kawa.session.get(f"{url}/{meta['name']}") as resp:
            exists = resp.status == 200
            current = await resp.json()
        if exists:
            rv = current["metadata"]["resourceVersion"]
            body = dict(obj, metadata=dict(meta, resourceVersion=rv))
            request = kawa.session.put(f"{url}/{meta['name']}", json=body)
        else:
            request = kawa.session.post(url, json=obj)
        async with request as resp:
            stored: dict[str, Any] = await resp.json()
            if resp.status == 409 and exists:
                continue
            assert resp.status in (200, 201), stored
            break
    else:
        raise AssertionError(f"channel {meta['name']}: 409 on every retry")
    stream = f"channel:{stored['metadata']['uid']}"
    wanted = {s["uid"] for s in obj["spec"].get("subscribers", [])}

    async def consumers_ready() -> bool:
        from ..broker.broker_support import saved_cursors

        cursors = saved_cursors(kawa.data_dir)
        have = {
            c.split(":", 1)[1].split("@", 1)[0] for c, (on, _) in cursors.items() if on == stream
        }
        return wanted <= have

    await eventually(consumers_ready, 10.0, f"channel {meta['name']}: consumers never started")
    return stored


def channel_url(kawa: Kawa, name: str, ns: str = "default") -> str:
    return f"{kawa.url}/channels/{ns}/{name}"


async def send(
    kawa: Kawa,
    url: str,
    ev: CloudEvent,
    *,
    structured: bool = False,
    headers: dict[str, str] | None = None,
) -> int:
    """POST ``ev`` as any sender would: without kawa's API token."""
    h, body = ce_http.to_structured(ev) if structured else ce_http.to_binary(ev)
    async with (
        aiohttp.ClientSession() as plain,
        plain.post(url, data=body, headers={**h, **(headers or {})}) as resp,
    ):
        await resp.read()
        return resp.status
