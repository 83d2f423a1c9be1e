"""What Kubernetes refuses and kawa used to let through, each over real HTTP: options outside
what the API defines (``dryRun``, ``fieldValidation``, ``propagationPolicy``: 422 naming the
options kind; ``Foreground`` and ``Orphan`` are recorded as finalizers), a field selector on
a field the kind does not support (400), an unknown ``$patch`` directive (422), annotations
over 256 KiB (422); a watch from a resourceVersion the store has not reached (waited for,
then an ``ERROR`` 504 ``Timeout``); and the bearer scheme in any case (RFC 6750). Nothing
refused changes what is stored."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import aiohttp
import orjson

from kawa.apiserver import watch
from kawa.store.base import ResourceKey

from .api_support import Api, serving

CM: Final = "/api/v1/namespaces/default/configmaps"
PODS: Final = "/api/v1/namespaces/default/pods"
EVENTS: Final = "/api/v1/namespaces/default/events"
STRATEGIC: Final = {"Content-Type": "application/strategic-merge-patch+json"}


def configmap(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata}}


async def refused(
    api: Api, want: tuple[int, str], method: str, path: str, body: Any = None, **kw: Any
) -> dict[str, Any]:
    status, answer = await api.call(method, path, body, **kw)
    assert (status, answer["reason"], answer["code"]) == (*want, status), answer
    return dict(answer)


async def test_options_the_api_does_not_define_are_invalid() -> None:
    async with serving() as api:
        assert (await api.call("POST", CM, configmap("c")))[0] == 201
        body = await refused(api, (422, "Invalid"), "POST", f"{CM}?dryRun=Some", configmap("d"))
        assert body["message"] == (
            'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Some"]: '
            'supported values: "All"'
        )
        assert body["details"]["kind"] == "CreateOptions"
        assert body["details"]["group"] == "meta.k8s.io"
        assert [c["field"] for c in body["details"]["causes"]] == ["dryRun"]
        body = await refused(
            api, (422, "Invalid"), "POST", f"{CM}?fieldValidation=Nope", configmap("d")
        )
        assert body["details"]["causes"][0]["field"] == "fieldValidation"
        assert '"Ignore", "Strict", "Warn"' in body["message"]
        put = f"{CM}/c?fieldValidation=Nope&dryRun=All&dryRun=Some"
        body = await refused(api, (422, "Invalid"), "PUT", put, configmap("c"))
        assert body["details"]["kind"] == "UpdateOptions"
        assert {c["field"] for c in body["details"]["causes"]} == {"dryRun", "fieldValidation"}
        patch = {"metadata": {"labels": {"a": "b"}}}
        body = await refused(
            api, (422, "Invalid"), "PATCH", f"{CM}/c?dryRun=Some", patch, headers=STRATEGIC
        )
        assert body["details"]["kind"] == "PatchOptions"
        for query in ("?propagationPolicy=Nope", "?dryRun=Some"):
            body = await refused(api, (422, "Invalid"), "DELETE", f"{CM}/c{query}")
            assert body["details"]["kind"] == "DeleteOptions"
        body = await refused(
            api, (422, "Invalid"), "DELETE", f"{CM}/c", {"propagationPolicy": "Nope"}
        )
        assert 'supported values: "Background", "Foreground", "Orphan"' in body["message"]
        both = {"propagationPolicy": "Background", "orphanDependents": True}
        body = await refused(api, (422, "Invalid"), "DELETE", f"{CM}/c", both)
        assert "cannot be both set" in body["message"]
        await refused(api, (422, "Invalid"), "DELETE", f"{CM}/c", {"orphanDependents": "x"})
        await refused(api, (422, "Invalid"), "DELETE", f"{CM}?dryRun=Some")
        # Foreground and Orphan are recorded as finalizers, for the garbage collector
        for name, options, finalizer in (
            ("fg", {"propagationPolicy": "Foreground"}, "foregroundDeletion"),
            ("or", {"propagationPolicy": "Orphan"}, "orphan"),
            ("od", {"orphanDependents": True}, "orphan"),
        ):
            assert (await api.call("POST", CM, configmap(name)))[0] == 201
            status, answer = await api.call("DELETE", f"{CM}/{name}", options)
            assert status == 200, answer
            assert answer["metadata"]["finalizers"] == [finalizer]
            assert answer["metadata"]["deletionTimestamp"]
        status, answer = await api.call("DELETE", f"{CM}/fg?propagationPolicy=Orphan")
        assert (status, answer["metadata"]["finalizers"]) == (200, ["orphan"])
        status, _ = await api.call("DELETE", f"{CM}/fg", {"propagationPolicy": "Background"})
        assert status == 200  # no finalizer left: removed
        assert (await api.call("GET", f"{CM}/fg"))[0] == 404
        # nothing of that was carried out; the valid forms still work
        assert await api.store.get(ResourceKey("configmaps", "default", "c"))
        assert (await api.call("POST", f"{CM}?dryRun=All&fieldValidation=Ignore", configmap("d")))[
            0
        ] == 201
        status, _ = await api.call("DELETE", f"{CM}/c", {"propagationPolicy": "Background"})
        assert status == 200
        assert (await api.call("GET", f"{CM}/d"))[0] == 404  # the dry run stored nothing


async def test_field_selectors_on_fields_a_kind_does_not_support() -> None:
    async with serving() as api:
        assert (await api.call("POST", CM, configmap("c", labels={"a": "b"})))[0] == 201
        body = await refused(api, (400, "BadRequest"), "GET", f"{CM}?fieldSelector=data.a%3D1")
        assert body["message"].endswith("field label not supported: data.a")
        await refused(
            api, (400, "BadRequest"), "GET", f"{CM}?watch=1&fieldSelector=spec.nodeName%3Dx"
        )
        await refused(api, (400, "BadRequest"), "DELETE", f"{CM}?fieldSelector=data.a%3D1")
        assert await api.store.get(ResourceKey("configmaps", "default", "c"))
        # the common ones, and each kind's own
        for path in (
            f"{CM}?fieldSelector=metadata.name%3Dc,metadata.namespace%3Ddefault",
            f"{PODS}?fieldSelector=spec.nodeName%3Dkawa,status.phase!%3DFailed",
            f"{EVENTS}?fieldSelector=involvedObject.name%3Dc,involvedObject.uid%3Dx,source%3Dk",
            "/api/v1/namespaces?fieldSelector=status.phase%3DActive",
            "/api/v1/secrets?fieldSelector=type%3DOpaque",
            "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dc",
        ):
            status, listed = await api.call("GET", path)
            assert status == 200, (path, listed)
        _, listed = await api.call("GET", f"{CM}?fieldSelector=metadata.name%3Dc")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["c"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "c.1", "namespace": "default"},
            "involvedObject": {"kind": "ConfigMap", "name": "c", "namespace": "default"},
            "reason": "Seen",
            "source": {"component": "tester"},
        }
        await api.store.create(ResourceKey("events", "default", "c.1"), event)
        for path in (
            f"{EVENTS}?fieldSelector=source%3Dtester,involvedObject.kind%3DConfigMap",
            "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dc",
        ):
            _, listed = await api.call("GET", path)
            assert [i["metadata"]["name"] for i in listed["items"]] == ["c.1"], path


async def test_an_unknown_patch_directive_is_invalid() -> None:
    async with serving() as api:
        assert (await api.call("POST", CM, configmap("c", labels={"a": "b"})))[0] == 201
        for patch, field in (
            ({"$patch": "explode"}, "$patch"),
            ({"metadata": {"labels": {"$patch": 7}}}, "metadata.labels.$patch"),
        ):
            body = await refused(
                api, (422, "Invalid"), "PATCH", f"{CM}/c", patch, headers=STRATEGIC
            )
            assert body["details"]["causes"][0]["field"] == field
        pods = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        assert (await api.call("POST", PODS, pods))[0] == 201
        in_list = {"spec": {"containers": [{"name": "c", "$patch": "explode"}]}}
        body = await refused(
            api, (422, "Invalid"), "PATCH", f"{PODS}/p", in_list, headers=STRATEGIC
        )
        assert body["details"]["causes"][0]["field"] == "spec.containers[].$patch"
        stored = await api.store.get(ResourceKey("configmaps", "default", "c"))
        assert stored["metadata"]["labels"] == {"a": "b"}
        # the directives kubectl sends still work
        replace = {"metadata": {"labels": {"$patch": "replace", "x": "y"}}}
        status, body = await api.call("PATCH", f"{CM}/c", replace, headers=STRATEGIC)
        assert (status, body["metadata"]["labels"]) == (200, {"x": "y"})


async def test_annotations_over_256_kib_in_total_are_invalid() -> None:
    async with serving(client_max_size=4 * 1024**2) as api:
        half = "x" * (128 * 1024)
        too_big = configmap("c", annotations={"a": half, "b": half})  # 2 keys + 256 KiB
        body = await refused(api, (422, "Invalid"), "POST", CM, too_big)
        [cause] = body["details"]["causes"]
        assert cause["field"] == "metadata.annotations"
        assert "at most 262144 bytes" in cause["message"]
        fits = configmap("c", annotations={"a": half, "b": half[:-2]})  # exactly 256 KiB
        assert (await api.call("POST", CM, fits))[0] == 201
        status, body = await api.call(
            "PATCH", f"{CM}/c", {"metadata": {"annotations": {"c": "y"}}}, headers=STRATEGIC
        )
        assert (status, body["reason"]) == (422, "Invalid")
        multibyte = configmap("d", annotations={"a": "é" * (128 * 1024 + 1)})  # bytes count
        assert (await api.call("POST", CM, multibyte))[0] == 422


async def watch_lines(api: Api, query: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of a watch (fewer if the stream ends first)."""
    url = f"{api.url}{CM}?watch=1&{query}"
    lines: list[dict[str, Any]] = []
    async with api.client.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
        assert resp.status == 200
        async for raw in resp.content:
            if raw.strip():
                lines.append(orjson.loads(raw))
            if len(lines) == count:
                break
    return lines


async def test_a_watch_from_a_version_not_reached_yet() -> None:
    async with serving() as api:
        created = await api.store.create(ResourceKey("configmaps", "default", "c"), configmap("c"))
        now = int(created["metadata"]["resourceVersion"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        [line] = await watch_lines(api, f"resourceVersion={now + 1000}", 2)  # then it ends
        waited = loop.time() - started
        assert line["type"] == "ERROR"
        status = line["object"]
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 504, "Timeout")
        assert (
            status["message"]
            == f"Timeout: Too large resource version: {now + 1000}, current: {now}"
        )
        assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
        assert status["details"]["retryAfterSeconds"] == 1
        assert waited >= watch.TOO_LARGE_WAIT - 0.5
        # reached while it waits: the watch goes on from there
        key = ResourceKey("configmaps", "default", "c")

        async def write_twice() -> None:
            await asyncio.sleep(0.3)
            await api.store.update(key, configmap("c", labels={"n": "1"}))
            await api.store.update(key, configmap("c", labels={"n": "2"}))

        writer = asyncio.create_task(write_twice())
        lines = await watch_lines(api, f"resourceVersion={now + 1}", 1)
        await writer
        assert [(e["type"], e["object"]["metadata"]["labels"]) for e in lines] == [
            ("MODIFIED", {"n": "2"})
        ]


async def test_the_bearer_scheme_in_any_case() -> None:
    async with serving(token="secret") as api:
        for header in ("Bearer secret", "bearer secret", "BEARER secret", "  Bearer   secret "):
            status, _ = await api.call("GET", CM, headers={"Authorization": header})
            assert status == 200, header
        for header in ("Bearer", "Bearer other", "Basic secret", "Bearer secret extra", "secret"):
            await refused(api, (401, "Unauthorized"), "GET", CM, headers={"Authorization": header})


async def test_owner_references_name_their_owner_fully() -> None:
    async with serving() as api:
        incomplete = configmap("c", ownerReferences=[{"apiVersion": "apps/", "kind": "X"}])
        body = await refused(api, (422, "Invalid"), "POST", CM, incomplete)
        assert [c["field"] for c in body["details"]["causes"]] == [
            "metadata.ownerReferences[0].apiVersion",
            "metadata.ownerReferences[0].name",
            "metadata.ownerReferences[0].uid",
        ]
        assert "uid must not be empty" in body["message"]
        owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u"}
        two = configmap(
            "c",
            ownerReferences=[{**owner, "controller": True}, {**owner, "controller": True}],
        )
        body = await refused(api, (422, "Invalid"), "POST", CM, two)
        assert "Only one reference can have Controller set to true" in body["message"]
        event = configmap("c", ownerReferences=[{**owner, "kind": "Event"}])
        body = await refused(api, (422, "Invalid"), "POST", CM, event)
        assert "disallowed from being an owner" in body["message"]
        assert (await api.call("POST", CM, configmap("c", ownerReferences=[owner])))[0] == 201
