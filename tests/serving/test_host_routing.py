"""Host-based routing (``ServingDataPlane.middleware``): a Service reached by its host name.

The data plane runs on a real store with the in-test kubelet of :mod:`.dataplane_support`; the
middleware is tested on an application of its own (the middleware, the ``/serving/`` routes and
two stand-ins for kawa's other handlers) on a real loopback port, and once in a whole kawa
with a real Revision process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kawa.serving import router
from kawa.store.base import ResourceKey

from ..waiting import eventually
from .dataplane_support import NS, REVISIONS, ROUTES, Plane, revision, route, running_plane
from .serving_support import SERVICES, revision_server, serving_kawa


async def other(request: web.Request) -> web.Response:
    """Stands in for kawa's other routes (broker ingress, API): says it was reached."""
    return web.json_response({"other": request.path}, status=401 if "api" in request.path else 200)


@contextlib.asynccontextmanager
async def host_app(p: Plane) -> AsyncIterator[str]:
    """An application like kawa's: the middleware first, then the routes; its URL."""
    app = web.Application(middlewares=[p.plane.middleware()])
    app.add_routes(p.plane.routes())
    app.router.add_route("*", "/{tail:.*}", other)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def fetch(
    p: Plane, url: str, host: str | None = None, method: str = "GET", body: bytes = b""
) -> tuple[int, Any]:
    headers = {"Host": host} if host is not None else {}
    async with p.session.request(method, url, headers=headers, data=body) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def hello(p: Plane, tagged: bool = False) -> None:
    """Route ``hello``: all traffic to hello-00001; with ``tagged``, hello-00002 as candidate."""
    traffic: list[dict[str, Any]] = [{"revisionName": "hello-00001", "percent": 100}]
    await p.add(REVISIONS, revision("hello-00001"))
    if tagged:
        await p.add(REVISIONS, revision("hello-00002"))
        traffic.append({"revisionName": "hello-00002", "percent": 0, "tag": "candidate"})
    await p.add(ROUTES, route("hello", traffic))

    async def routed() -> bool:
        return p.plane.table.lookup(NS, "hello") is not None

    await eventually(routed)


def test_host_route_reads_knative_host_names() -> None:
    assert router.host_route("hello.default.example.com") == ("default", "hello")
    assert router.host_route("Hello.Default.SVC.cluster.local:80") == ("default", "hello")
    assert router.host_route("hello.default.svc") == ("default", "hello")
    assert router.host_route("hello.default") == ("default", "hello")
    assert router.host_route("candidate-hello.default.example.com.") == (
        "default",
        "candidate-hello",
    )
    for host in (
        "127.0.0.1:7080",
        "127.0.0.1",
        "localhost",
        "localhost:7080",
        "[::1]:7080",
        "hello.default.example.org",
        "hello.default.svc.cluster",
        ".default.example.com",
        "hello..example.com",
        "",
    ):
        assert router.host_route(host) is None, host


async def test_service_host_names_reach_the_route_with_path_and_query_unchanged() -> None:
    async with running_plane() as p, host_app(p) as url:
        await hello(p)
        for host in (
            "hello.ns.example.com",
            "hello.ns.svc.cluster.local:80",
            "hello.ns.svc",
            "hello.ns",
            "HELLO.ns.Example.com:8080",
        ):
            status, answer = await fetch(p, url + "/a/b?x=1&y=z", host)
            assert status == 200, (host, answer)
            assert answer["revision"] == "hello-00001"
            assert (answer["path"], answer["query"]) == ("/a/b", "x=1&y=z")
            headers = dict(answer["headers"])
            assert headers["Host"] == host  # as Knative's queue-proxy passes it on
            assert headers["X-Forwarded-Host"] == host
        status, answer = await fetch(p, url + "/post", "hello.ns.example.com", "POST", b"data")
        assert (status, answer["method"], answer["body"]) == (200, "POST", "ZGF0YQ==")
        # no prefix is cut: a /serving/ path goes to the Service as it is
        status, answer = await fetch(p, url + "/serving/ns/hello/x", "hello.ns.example.com")
        assert (status, answer["path"]) == (200, "/serving/ns/hello/x")


async def test_tag_host_reaches_the_tagged_revision() -> None:
    async with running_plane() as p, host_app(p) as url:
        await hello(p, tagged=True)
        for _ in range(5):
            status, answer = await fetch(p, url + "/t?q=1", "candidate-hello.ns.example.com")
            assert status == 200
            assert answer["revision"] == "hello-00002"
            assert (answer["path"], answer["query"]) == ("/t", "q=1")
            status, answer = await fetch(p, url + "/t", "hello.ns.example.com")
            assert answer["revision"] == "hello-00001"


async def test_other_hosts_fall_through_to_the_normal_routes() -> None:
    async with running_plane() as p, host_app(p) as url:
        await hello(p, tagged=True)
        port = url.rsplit(":", 1)[1]
        for host in (
            "nope.ns.example.com",  # no such Route
            "other-hello.ns.example.com",  # no such tag
            "hello.elsewhere.example.com",  # not in that namespace
            "hello.ns.example.org",  # not a Service host name
            "localhost",
            f"127.0.0.1:{port}",
        ):
            status, answer = await fetch(p, url + "/elsewhere?x=1", host)
            assert (status, answer) == (200, {"other": "/elsewhere"}), host
            status, answer = await fetch(p, url + "/serving/ns/nope/x", host)
            assert status == 404, host
            assert "no Route 'nope'" in answer
            # the path form is served as before, whatever the Host
            status, answer = await fetch(p, url + "/serving/ns/hello/x?y=2", host)
            assert status == 200, host
            assert (answer["revision"], answer["path"], answer["query"]) == (
                "hello-00001",
                "/x",
                "y=2",
            )
        status, answer = await fetch(p, url + "/serving/ns/candidate-hello/c")  # default Host
        assert (status, answer["revision"], answer["path"]) == (200, "hello-00002", "/c")


async def test_host_wins_over_the_api_and_stops_with_the_route() -> None:
    async with running_plane() as p, host_app(p) as url:
        await hello(p)
        status, answer = await fetch(p, url + "/api/v1/namespaces", "hello.ns.example.com")
        assert (status, answer["revision"], answer["path"]) == (
            200,
            "hello-00001",
            "/api/v1/namespaces",
        )
        await p.store.delete(ResourceKey(ROUTES, NS, "hello"))

        async def unrouted() -> bool:
            return p.plane.table.lookup(NS, "hello") is None

        await eventually(unrouted)
        status, answer = await fetch(p, url + "/api/v1/namespaces", "hello.ns.example.com")
        assert (status, answer) == (401, {"other": "/api/v1/namespaces"})


@pytest.mark.slow
async def test_host_header_reaches_a_service_on_kawas_port_without_a_token(
    tmp_path: Path,
) -> None:
    # a long stable window: the instance stays up to the end, for its log
    async with serving_kawa(tmp_path, **{"stable-window": "60s"}) as serving:
        await serving.create_service("hello", revision_server())
        await serving.wait_ready("hello")
        async with aiohttp.ClientSession() as anonymous:  # no token

            async def get(path: str, host: str | None = None) -> tuple[int, str]:
                headers = {"Host": host} if host else {}
                async with anonymous.get(serving.url + path, headers=headers) as resp:
                    return resp.status, await resp.text()

            assert await get("/hi?x=1", "hello.default.example.com") == (200, "hello-00001")
            assert await get("/", "hello.default.svc.cluster.local:80") == (200, "hello-00001")
            # an API path with the Service's Host goes to the Service, as through Knative's
            # ingress; the API itself still wants the token
            status, text = await get(SERVICES, "hello.default.example.com")
            assert (status, text) == (200, "hello-00001")
            assert (await get(SERVICES))[0] == 401
            assert (await get(SERVICES, "nope.default.example.com"))[0] == 401
            assert await get("/serving/default/hello/p") == (200, "hello-00001")
        (pod,) = await serving.pods("hello")
        log = await serving.log(pod["metadata"]["name"])
        assert "served GET /hi?x=1" in log
        assert f"served GET {SERVICES}" in log
        assert "served GET /p" in log
