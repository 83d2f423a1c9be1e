"""What admission costs: parsing a kind's dict into its typed view, and a whole API write.

Measured in one run, on one machine (numbers go to docs/performance.md):

- ``parse``: ``ResourceKind.parse`` of a typical object (defaults, strict JSON types through
  pydantic, then the kind's rules) for a rich Trigger, a Broker, a Pod with probes, mounts
  and env, and a Knative Service, in microseconds;
- ``admit``: a ``POST ...?dryRun=All`` of the same Trigger to kawa's API in process, over
  loopback HTTP (the whole admission path: body decoding, conversion, defaults, validation,
  unknown-field check, response), p50 in milliseconds;
- ``TriggerSpec alone``: pydantic's share (the spec's types only, no defaults, no rules).

Run: ``.venv/bin/python bench/admission_parse.py``.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import time
import timeit
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kawa.apis.eventing.trigger import TriggerSpec
from kawa.apis.registry import BROKER, SCHEME, TRIGGER
from kawa.apiserver.server import ApiServer
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

POD = SCHEME.resolve("pods")
KSERVICE = SCHEME.resolve("services.serving.knative.dev")

TRIGGER_OBJ: dict[str, Any] = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Trigger",
    "metadata": {"name": "t", "namespace": "default", "annotations": {"a": "b"}},
    "spec": {
        "broker": "default",
        "filter": {"attributes": {"type": "dev.knative.foo", "source": "x"}},
        "filters": [{"exact": {"type": "a"}}, {"cesql": "type LIKE 'a%'"}],
        "subscriber": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "display"}
        },
        "delivery": {
            "retry": 5,
            "backoffPolicy": "exponential",
            "backoffDelay": "PT0.2S",
            "deadLetterSink": {"uri": "http://x.example/dls"},
        },
    },
}
POD_OBJ: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "labels": {"app": "x"}},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "busybox",
                "command": ["sh", "-c", "sleep 3600"],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"httpGet": {"port": "http", "path": "/"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
}
SERVICE_OBJ: dict[str, Any] = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "s", "namespace": "default"},
    "spec": {
        "template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/max-scale": "3"}},
            "spec": {
                "containers": [{"image": "event-display", "env": [{"name": "A", "value": "1"}]}]
            },
        }
    },
}
BROKER_OBJ: dict[str, Any] = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Broker",
    "metadata": {"name": "default", "namespace": "default"},
    "spec": {"delivery": {"retry": 3}},
}


def micros(fn: Any, number: int = 2000) -> float:
    for _ in range(200):
        fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


async def admit_p50(rounds: int = 300) -> float:
    store = SqliteResourceStore(":memory:")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    kind = SCHEME.for_object(namespace)
    await store.create(ResourceKey(kind.resource, "", "default"), kind.default(namespace))
    app = web.Application()
    ApiServer(store, SCHEME).install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    url = (
        f"http://127.0.0.1:{port}/apis/eventing.knative.dev/v1/namespaces/default/triggers"
        "?dryRun=All"
    )
    times = []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds + 50):
            start = time.perf_counter()
            async with session.post(url, json=TRIGGER_OBJ) as resp:
                await resp.read()
                if resp.status != 201:
                    raise SystemExit(f"admission failed: {resp.status}")
            if i >= 50:
                times.append(time.perf_counter() - start)
    await runner.cleanup()
    await store.close()
    return statistics.median(times) * 1000


def main() -> None:
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"parse Trigger (typed view): {micros(lambda: TRIGGER.parse(TRIGGER_OBJ)):.1f} us")
    print(f"parse Broker  (typed view): {micros(lambda: BROKER.parse(BROKER_OBJ)):.1f} us")
    print(f"parse Pod     (typed view): {micros(lambda: POD.parse(POD_OBJ)):.1f} us")
    print(f"parse Service (typed view): {micros(lambda: KSERVICE.parse(SERVICE_OBJ)):.1f} us")
    print(f"default Trigger:            {micros(lambda: TRIGGER.default(TRIGGER_OBJ)):.1f} us")
    raw_spec = orjson.dumps(TRIGGER.default(TRIGGER_OBJ)["spec"])
    spec_only = micros(lambda: TriggerSpec.model_validate_json(raw_spec))
    print(f"pydantic TriggerSpec alone (types only): {spec_only:.1f} us")
    print(f"admit Trigger over HTTP (dryRun), p50: {asyncio.run(admit_p50()):.3f} ms")


if __name__ == "__main__":
    main()
