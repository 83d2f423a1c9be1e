"""What the API refuses, ignores or keeps: dry runs, status, unknown fields, bad patches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..broker.broker_support import Kawa, broker, running_kawa
from ..waiting import eventually

CM = "/api/v1/namespaces/default/configmaps"
BROKERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers"
MERGE = {"Content-Type": "application/merge-patch+json"}


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"a": "b"},
        **extra,
    }


async def call(
    kawa: Kawa, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if isinstance(body, bytes | str):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    async with kawa.session.request(method, kawa.url + path, **kwargs) as resp:
        payload = await resp.json(content_type=None)
        return resp.status, payload, resp.headers


async def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        assert (await call(kawa, "POST", CM, configmap("keep")))[0] == 201
        status, _, _ = await call(kawa, "DELETE", f"{CM}/keep?dryRun=All")
        assert status == 200
        status, _, _ = await call(kawa, "DELETE", f"{CM}/keep", {"dryRun": ["All"]})
        assert status == 200
        status, listed, _ = await call(kawa, "DELETE", CM, {"dryRun": ["All"]})
        assert status == 200
        assert [i["metadata"]["name"] for i in listed["items"]] == ["keep"]
        assert (await call(kawa, "GET", f"{CM}/keep"))[0] == 200


async def test_bad_patches_get_4xx_never_500(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await call(kawa, "POST", CM, configmap("p"))
        cases: list[tuple[str, Any]] = [
            ("application/apply-patch+yaml", "metadata:\n  labels: {1: 2}\n"),
            ("application/apply-patch+yaml", "data: !!set {a}\n"),
            ("application/apply-patch+yaml", "data: !!binary aGk=\n"),
            ("application/apply-patch+yaml", "a: &x [1, 2]\nb: *x\n"),
            (
                "application/json-patch+json",
                '[{"op": "replace", "path": "/metadata", "value": "x"}]',
            ),
            ("application/json-patch+json", '[{"op": "frob", "path": "/data"}]'),
            ("application/json-patch+json", '{"op": "add"}'),
            ("application/merge-patch+json", '{"metadata": 5}'),
            ("application/merge-patch+json", "[1, 2]"),
            (
                "application/strategic-merge-patch+json",
                '{"data": {"a": 1}, "$setElementOrder/x": [{"name": "y"}], "x": ["oops"]}',
            ),
            ("application/strategic-merge-patch+json", '{"metadata": {"labels": [1]}}'),
        ]
        for content_type, body in cases:
            status, payload, _ = await call(
                kawa, "PATCH", f"{CM}/p", body, {"Content-Type": content_type}
            )
            assert 400 <= status < 500, (content_type, body, status, payload)
            assert payload["kind"] == "Status"
        status, obj, _ = await call(kawa, "GET", f"{CM}/p")
        assert obj["data"] == {"a": "b"}


async def test_status_is_written_only_through_its_subresource(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        forged = broker("forged")
        forged["status"] = [1]
        status, created, _ = await call(kawa, "POST", BROKERS, forged)
        assert status == 201
        assert "status" not in created
        ready = await kawa.wait_ready("Broker", "forged")
        assert ready["status"]["address"]["url"].endswith("/brokers/default/forged")
        bad = {"status": {"address": 5, "observedGeneration": "x"}}
        status, payload, _ = await call(kawa, "PATCH", f"{BROKERS}/forged/status", bad, MERGE)
        assert status == 422
        fields = {c["field"] for c in payload["details"]["causes"]}
        assert fields == {"status.address", "status.observedGeneration"}
        pods = "/api/v1/namespaces/default/pods"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        assert (await call(kawa, "POST", pods, pod))[0] == 201
        bad_pod = {"status": {"phase": 5, "startTime": "yesterday"}}
        status, payload, _ = await call(kawa, "PATCH", f"{pods}/p/status", bad_pod, MERGE)
        assert status == 422
        assert {c["field"] for c in payload["details"]["causes"]} == {
            "status.phase",
            "status.startTime",
        }


async def test_unknown_fields(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        typo = configmap("typo", datta={"x": "y"})
        typo["metadata"]["bogus"] = 1
        status, payload, _ = await call(kawa, "POST", f"{CM}?fieldValidation=Strict", typo)
        assert status == 422
        assert {c["field"] for c in payload["details"]["causes"]} == {"datta", "metadata.bogus"}
        assert (await call(kawa, "GET", f"{CM}/typo"))[0] == 404
        status, created, headers = await call(kawa, "POST", f"{CM}?fieldValidation=Warn", typo)
        assert status == 201
        assert "datta" not in created
        assert "bogus" not in created["metadata"]
        assert any("datta" in w for w in headers.getall("Warning", []))
        spec_typo = broker("b")
        spec_typo["spec"] = {"delivery": {"retry": 1, "retyr": 2}}
        status, payload, _ = await call(
            kawa, "POST", f"{BROKERS}?fieldValidation=Strict", spec_typo
        )
        assert status == 422
        assert "spec.delivery.retyr" in {c["field"] for c in payload["details"]["causes"]}


async def test_patch_with_a_stale_resource_version_conflicts(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await call(kawa, "POST", CM, configmap("v"))
        stale = {"metadata": {"resourceVersion": "1", "labels": {"a": "b"}}}
        status, payload, _ = await call(kawa, "PATCH", f"{CM}/v", stale, MERGE)
        assert status == 409
        assert payload["reason"] == "Conflict"


async def test_deleting_all_namespaces_keeps_the_system_ones(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        status, _, _ = await call(kawa, "DELETE", "/api/v1/namespaces")
        assert status == 200
        _, listed, _ = await call(kawa, "GET", "/api/v1/namespaces")
        names = {i["metadata"]["name"] for i in listed["items"]}
        assert {"default", "kube-system", "kube-public"} <= names


async def test_table_rows_carry_whole_objects_on_request(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        await call(kawa, "POST", CM, configmap("t"))
        accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        _, table, _ = await call(kawa, "GET", f"{CM}?includeObject=Object", headers=accept)
        assert table["rows"][0]["object"]["data"] == {"a": "b"}
        _, table, _ = await call(kawa, "GET", CM, headers=accept)
        assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_dead_letter_sink_resolves_when_its_target_appears(tmp_path: Path) -> None:
    async with running_kawa(tmp_path) as kawa:
        dls = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "late"}}
        await kawa.apply(broker("main", delivery={"deadLetterSink": dls}))
        await kawa.wait_condition("Broker", "main", "DeadLetterSinkResolved", "False")
        await kawa.apply(broker("late"))
        ready = await kawa.wait_ready("Broker", "main")
        assert ready["status"]["deadLetterSinkUri"].endswith("/brokers/default/late")


async def test_forged_status_of_a_source_is_replaced(tmp_path: Path) -> None:
    """A client may write a status, but the controller owns it: a forged sink is replaced by
    the one the source really resolves."""
    async with running_kawa(tmp_path) as kawa:
        path = "/apis/sources.knative.dev/v1/namespaces/default/pingsources"
        ping = {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "PingSource",
            "metadata": {"name": "p"},
            "spec": {"schedule": "0 0 1 1 *", "sink": {"uri": "http://127.0.0.1:9/"}},
        }
        assert (await call(kawa, "POST", path, ping))[0] == 201

        async def sink_uri() -> Any:
            _, obj, _ = await call(kawa, "GET", f"{path}/p")
            return obj.get("status", {}).get("sinkUri")

        await eventually(sink_uri, message="the PingSource never resolved its sink")
        forged = {"status": {"sinkUri": "http://forged/"}}
        status, _, _ = await call(kawa, "PATCH", f"{path}/p/status", forged, MERGE)
        assert status == 200

        async def restored() -> bool:
            return bool(await sink_uri() == "http://127.0.0.1:9/")

        await eventually(restored, 20.0, "the controller never wrote the status back")
