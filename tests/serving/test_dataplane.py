"""Router, activator and autoscaler (kawa.serving.dataplane) on a real store and real HTTP.

The Pods the autoscaler creates are served by the in-test kubelet of
:mod:`.dataplane_support` (real aiohttp servers on the Pods' ports); the autoscaler runs with
windows shortened through ConfigMap config-autoscaler (tick 0.1s, stable window 1s, grace
0.5s).
"""

from __future__ import annotations

import asyncio
import base64
import collections
from typing import Any

import pytest
import yarl

from kawa.serving import router
from kawa.store.base import ResourceKey

from ..waiting import eventually
from .dataplane_support import REVISIONS, ROUTES, Plane, revision, route, running_plane


async def get_json(plane: Plane, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with plane.session.get(plane.url + path, **kwargs) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def serve_one(plane: Plane, rev: dict[str, Any], route_name: str = "svc") -> None:
    await plane.add(REVISIONS, rev)
    await plane.add(
        ROUTES,
        route(route_name, [{"revisionName": rev["metadata"]["name"], "percent": 100}]),
    )


async def test_first_request_at_zero_waits_and_succeeds() -> None:
    async with running_plane() as p:
        p.kubelet.ready_delay = 0.3
        await serve_one(p, revision("svc-00001"))
        await asyncio.sleep(0.3)  # the behaviour under test: three autoscaler ticks start none
        assert await p.pods() == []  # at zero: no initial scale for a revision ready before
        status, answer = await get_json(p, "/serving/ns/svc/hello?x=1")
        assert status == 200
        assert answer["revision"] == "svc-00001"
        assert (answer["path"], answer["query"]) == ("/hello", "x=1")
        (pod,) = await p.pods()
        labels = pod["metadata"]["labels"]
        assert labels["serving.knative.dev/revision"] == "svc-00001"
        assert labels["serving.knative.dev/service"] == "svc"
        assert pod["metadata"]["name"].startswith("svc-00001-deployment-")


async def test_returns_to_zero_after_idle() -> None:
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001"))
        status, _ = await get_json(p, "/serving/ns/svc")
        assert status == 200
        assert len(await p.pods()) == 1

        async def gone() -> bool:
            return not await p.pods() and not p.kubelet.backends

        # stable window 1s + grace 0.5s, then the kubelet stops the server (the Pod's deletion
        # and the server's stop are two steps: both must happen)
        await eventually(gone, timeout=8)
        status, answer = await get_json(p, "/serving/ns/svc/again")  # and back from zero
        assert status == 200
        assert answer["path"] == "/again"


async def test_concurrent_load_scales_out_within_max_scale() -> None:
    annotations = {
        "autoscaling.knative.dev/target": "1",
        "autoscaling.knative.dev/target-utilization-percentage": "100",
        "autoscaling.knative.dev/max-scale": "3",
    }
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001", annotations=annotations))
        most = 0
        stop = asyncio.Event()

        async def watch_pods() -> None:
            nonlocal most
            while not stop.is_set():
                most = max(most, len(await p.pods()))
                await asyncio.sleep(0.02)  # a sample of the Pod count every 20 ms

        async def client() -> None:
            for _ in range(8):
                status, _ = await get_json(p, "/serving/ns/svc?sleep=0.2")
                assert status == 200

        watcher = asyncio.create_task(watch_pods())
        await asyncio.gather(*(client() for _ in range(10)))
        stop.set()
        await watcher
        assert most == 3
        assert len(p.kubelet.backends) == 3
        assert all(b.requests > 0 for b in p.kubelet.backends.values())


async def test_container_concurrency_is_a_hard_limit() -> None:
    annotations = {"autoscaling.knative.dev/max-scale": "2"}
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001", cc=1, annotations=annotations))
        results = await asyncio.gather(
            *(get_json(p, "/serving/ns/svc?sleep=0.1") for _ in range(12))
        )
        assert [status for status, _ in results] == [200] * 12
        assert p.kubelet.max_in_flight() == 1
        assert 1 <= len(p.kubelet.backends) <= 2


async def test_initial_scale_for_a_new_revision() -> None:
    annotations = {"autoscaling.knative.dev/initial-scale": "2"}
    async with running_plane() as p:
        await p.add(REVISIONS, revision("svc-00001", annotations=annotations, at_zero=False))

        async def two_ready() -> bool:
            return await p.ready_pods("svc-00001") == 2

        await eventually(two_ready, timeout=5)
        assert len(await p.pods()) == 2

        async def gone() -> bool:
            return not await p.pods()

        await eventually(gone, timeout=8)  # no traffic: back to zero after the windows


async def test_min_scale_keeps_pods() -> None:
    annotations = {"autoscaling.knative.dev/min-scale": "1"}
    async with running_plane() as p:
        await p.add(REVISIONS, revision("svc-00001", annotations=annotations))

        async def one_ready() -> bool:
            return await p.ready_pods("svc-00001") == 1

        await eventually(one_ready, timeout=5)
        await asyncio.sleep(2.5)  # the behaviour under test: stable window + grace pass
        assert len(await p.pods()) == 1


async def test_traffic_split_80_20() -> None:
    annotations = {"autoscaling.knative.dev/min-scale": "1"}
    async with running_plane() as p:
        for name in ("svc-00001", "svc-00002"):
            await p.add(REVISIONS, revision(name, annotations=annotations))
        await p.add(
            ROUTES,
            route(
                "svc",
                [
                    {"revisionName": "svc-00001", "percent": 80},
                    {"revisionName": "svc-00002", "percent": 20},
                ],
            ),
        )
        counts: collections.Counter[str] = collections.Counter()

        async def client() -> None:
            for _ in range(50):
                status, answer = await get_json(p, "/serving/ns/svc")
                assert status == 200
                counts[answer["revision"]] += 1

        await asyncio.gather(*(client() for _ in range(20)))
        assert sum(counts.values()) == 1000
        assert 740 <= counts["svc-00001"] <= 860, counts


async def test_tag_routing() -> None:
    async with running_plane() as p:
        for name in ("svc-00001", "svc-00002"):
            await p.add(REVISIONS, revision(name))
        await p.add(
            ROUTES,
            route(
                "svc",
                [
                    {"revisionName": "svc-00001", "percent": 100, "tag": "current"},
                    {"revisionName": "svc-00002", "percent": 0, "tag": "candidate"},
                ],
            ),
        )
        for path, expected in (
            ("/serving/ns/svc", "svc-00001"),
            ("/serving/ns/current-svc/x", "svc-00001"),
            ("/serving/ns/candidate-svc/x", "svc-00002"),
        ):
            status, answer = await get_json(p, path)
            assert (status, answer["revision"]) == (200, expected), path


async def test_requests_and_responses_pass_through() -> None:
    async with running_plane() as p:
        await serve_one(
            p, revision("svc-00001", annotations={"autoscaling.knative.dev/min-scale": "1"})
        )
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            body = f"body of {method}".encode() if method != "GET" else b""
            async with p.session.request(
                method,
                p.url + "/serving/ns/svc/a/b%20c?q=1&q=2&status=201",
                data=body,
                headers={"X-Custom": "yes", "Connection": "keep-alive, X-Drop", "X-Drop": "1"},
            ) as resp:
                assert resp.status == 201, await resp.text()
                answer = await resp.json()
                assert resp.headers.getall("Set-Cookie") == ["a=1", "b=2"]
                assert resp.headers["X-Backend"] == answer["pod"]
            assert answer["method"] == method
            assert answer["path"] == "/a/b c"
            assert answer["query"] == "q=1&q=2&status=201"
            assert base64.b64decode(answer["body"]) == body
            headers = {k.lower(): v for k, v in answer["headers"]}
            assert headers["x-custom"] == "yes"
            assert "x-drop" not in headers
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-forwarded-host"] == p.url.removeprefix("http://")
            assert headers["host"] == p.url.removeprefix("http://")  # the client's Host
        async with p.session.head(p.url + "/serving/ns/svc/") as resp:
            assert resp.status == 200
            assert await resp.read() == b""


async def test_unknown_route_and_no_traffic() -> None:
    async with running_plane() as p:
        status, text = await get_json(p, "/serving/ns/nope")
        assert status == 404
        assert "no Route 'nope'" in text
        await p.add(ROUTES, route("empty", []))
        async with p.session.get(p.url + "/serving/ns/empty") as resp:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "1"
            assert "no ready traffic target" in await resp.text()


async def test_activator_capacity_overflow() -> None:
    async with running_plane({"activator-capacity": "2"}) as p:
        p.kubelet.gate.clear()  # Pods stay unready: requests wait in the activator
        await serve_one(p, revision("svc-00001"))
        waiting = [asyncio.create_task(get_json(p, "/serving/ns/svc")) for _ in range(2)]

        async def two_waiting() -> bool:
            scaler = p.plane.scaler("ns", "svc-00001")
            return scaler is not None and scaler.throttler.waiting == 2

        await eventually(two_waiting, timeout=5)
        async with p.session.get(p.url + "/serving/ns/svc") as resp:
            assert resp.status == 503
            assert resp.headers["Retry-After"] == "1"
            assert "2 requests waiting" in await resp.text()
        p.kubelet.gate.set()
        results = await asyncio.gather(*waiting)
        assert [status for status, _ in results] == [200, 200]


async def test_timeout_while_waiting() -> None:
    async with running_plane() as p:
        p.kubelet.gate.clear()
        await serve_one(p, revision("svc-00001", timeout=1))
        status, text = await get_json(p, "/serving/ns/svc")
        assert status == 503
        assert "no instance ready within 1s" in text
        p.kubelet.gate.set()


async def test_image_not_runnable_fails_fast_without_pods() -> None:
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001", image="example.com/team/app"))
        status, text = await get_json(p, "/serving/ns/svc")
        assert status == 503
        assert "has no program for image" in text
        assert await p.pods() == []


@pytest.mark.parametrize("config", [{"stable-window": "soon", "tick-interval": "100ms"}])
async def test_bad_config_value_keeps_default(
    config: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with running_plane(config) as p:
        assert p.plane.config.stable_window == 60.0
        assert p.plane.config.tick_interval == 0.1
    assert "data['stable-window']" in caplog.text


async def test_config_changes_apply_live() -> None:
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001"))
        key = ResourceKey("configmaps", "knative-serving", "config-autoscaler")
        config = await p.store.get(key)
        config["data"]["activator-capacity"] = "7"
        await p.store.update(key, config)

        async def applied() -> bool:
            scaler = p.plane.scaler("ns", "svc-00001")
            return scaler is not None and scaler.throttler.capacity == 7

        await eventually(applied, timeout=5)
        assert p.plane.config.activator_capacity == 7


async def test_deleted_revision_fails_waiting_requests() -> None:
    async with running_plane() as p:
        p.kubelet.gate.clear()
        await serve_one(p, revision("svc-00001"))
        waiting = asyncio.create_task(get_json(p, "/serving/ns/svc"))

        async def one_waiting() -> bool:
            scaler = p.plane.scaler("ns", "svc-00001")
            return scaler is not None and scaler.throttler.waiting == 1

        await eventually(one_waiting, timeout=5)
        await p.store.delete(ResourceKey(REVISIONS, "ns", "svc-00001"))
        status, text = await waiting
        assert status == 503
        assert text == "Revision ns/svc-00001 was deleted\n"
        p.kubelet.gate.set()
        status, text = await get_json(p, "/serving/ns/svc")  # the Route still names it
        assert status == 503
        assert "is not available" in text


async def test_host_header_is_the_clients() -> None:
    async with running_plane() as p:
        await serve_one(
            p, revision("svc-00001", annotations={"autoscaling.knative.dev/min-scale": "1"})
        )
        for method in ("GET", "POST"):
            async with p.session.request(
                method, p.url + "/serving/ns/svc/x", headers={"Host": "svc.ns.example.com"}
            ) as resp:
                assert resp.status == 200
                answer = await resp.json()
            headers = {k.lower(): v for k, v in answer["headers"]}
            assert headers["host"] == "svc.ns.example.com"
            assert headers["x-forwarded-host"] == "svc.ns.example.com"
            assert headers["x-forwarded-proto"] == "http"


@pytest.mark.parametrize(
    ("raw", "tail"),
    [
        ("/serving/default/ech%6F/a/b?x=1", "/a/b?x=1"),
        ("/serving/d%65fault/echo", "/"),
        ("/serving/ns/svc/", "/"),
        ("/serving/ns/svc?x=1", "/?x=1"),
        ("/serving/ns/svc//a%2Fb/?q=/x", "//a%2Fb/?q=/x"),
    ],
)
def test_tail_cuts_the_route_by_segments(raw: str, tail: str) -> None:
    assert router.tail_of(raw) == tail


async def test_percent_encoded_route_name() -> None:
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001"))
        url = yarl.URL(p.url + "/serving/n%73/sv%63/a/b%20c?x=1", encoded=True)
        async with p.session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            answer = await resp.json()
        assert (answer["path"], answer["query"]) == ("/a/b c", "x=1")


async def watch_most_pods(p: Plane, stop: asyncio.Event) -> int:
    most = 0
    while not stop.is_set():
        most = max(most, len(await p.pods()))
        await asyncio.sleep(0.02)  # a sample of the Pod count every 20 ms
    return most


async def burst(p: Plane, count: int, path: str) -> tuple[list[int], int]:
    """``count`` requests at once; their statuses and the most Pods seen meanwhile."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_most_pods(p, stop))
    results = await asyncio.gather(*(get_json(p, path) for _ in range(count)))
    stop.set()
    return [status for status, _ in results], await watcher


async def test_burst_without_max_scale_is_capped() -> None:
    async with running_plane({"kawa-max-scale-default": "3"}) as p:
        await serve_one(p, revision("svc-00001", cc=1))
        settings = p.plane.scaler("ns", "svc-00001")
        assert settings is not None
        assert settings.settings.max_scale == 3
        statuses, most = await burst(p, 12, "/serving/ns/svc?sleep=0.3")
        assert statuses == [200] * 12
        assert 1 <= most <= 3
        assert p.kubelet.max_in_flight() == 1


async def test_no_more_pods_than_requests() -> None:
    # target 0.7 per Pod (containerConcurrency 1 at 70%): the KPA alone wants 8 for 5
    annotations = {"autoscaling.knative.dev/max-scale": "20"}
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001", cc=1, annotations=annotations))
        statuses, most = await burst(p, 5, "/serving/ns/svc?sleep=1")
        assert statuses == [200] * 5
        assert most <= 5


async def test_changed_stable_window_applies_to_the_first_scale_down() -> None:
    async with running_plane({"stable-window": "60s"}) as p:
        await p.add(REVISIONS, revision("svc-00001", at_zero=False))  # initial-scale 1

        async def one_ready() -> bool:
            return await p.ready_pods("svc-00001") == 1

        await eventually(one_ready, timeout=5)
        key = ResourceKey("configmaps", "knative-serving", "config-autoscaler")
        config = await p.store.get(key)
        config["data"]["stable-window"] = "1s"
        await p.store.update(key, config)

        async def gone() -> bool:
            return not await p.pods()

        await eventually(gone, timeout=8)  # 1s window + 0.5s grace, not 60s


async def test_zero_activator_capacity_is_refused() -> None:
    async with running_plane({"activator-capacity": "0"}) as p:
        assert p.plane.config.activator_capacity == 1000
        await serve_one(p, revision("svc-00001"))
        status, _ = await get_json(p, "/serving/ns/svc")
        assert status == 200


async def test_request_in_flight_finishes_when_its_revision_is_deleted() -> None:
    async with running_plane() as p:
        await serve_one(p, revision("svc-00001"))
        in_flight = asyncio.create_task(get_json(p, "/serving/ns/svc?sleep=1"))

        async def started() -> bool:
            return p.kubelet.max_in_flight() == 1

        await eventually(started, timeout=5)
        await p.store.delete(ResourceKey(REVISIONS, "ns", "svc-00001"))
        status, answer = await in_flight
        assert status == 200
        assert answer["revision"] == "svc-00001"


async def test_a_revision_being_deleted_gets_no_more_pods() -> None:
    """A Revision kept by a finalizer while its Pods go (``--cascade=foreground``) is not
    scaled any more: the garbage collector's deletions of its Pods are not undone."""
    annotations = {"autoscaling.knative.dev/min-scale": "1"}
    async with running_plane() as p:
        stored = await p.add(REVISIONS, revision("svc-00001", annotations=annotations))

        async def one_ready() -> bool:
            return await p.ready_pods("svc-00001") == 1

        await eventually(one_ready, timeout=5)
        key = ResourceKey(REVISIONS, "ns", "svc-00001")
        stored = await p.store.get(key)
        stored["metadata"]["finalizers"] = ["foregroundDeletion"]
        await p.store.update(key, stored)
        await p.store.delete(key)  # marked, kept by its finalizer

        async def no_scaler() -> bool:
            return p.plane.scaler("ns", "svc-00001") is None

        await eventually(no_scaler, timeout=5)
        for pod in await p.pods("svc-00001"):
            await p.store.delete(ResourceKey("pods", "ns", pod["metadata"]["name"]))
        assert p.plane.scaler("ns", "svc-00001") is None
        assert await p.pods("svc-00001") == []
