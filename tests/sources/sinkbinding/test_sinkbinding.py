"""SinkBinding end to end in a whole kawa: Services roll out a Revision with ``K_SINK``,
bare Pods are recreated with it (and their real processes send events), ContainerSources get
it in their template; a new sink rolls them again and deleting the binding takes it out."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jwt

from ...broker.broker_support import subscriber
from ...serving.serving_support import alive, revision_server
from ...serving.serving_support import condition_of as condition
from ...waiting import eventually
from ..container.support import (
    Client,
    container_source,
    env_of,
    heartbeat,
    sources_kawa,
)

BOUND = "sinkbindings.sources.kawa.dev/bound-by"


def binding(
    name: str, subject: dict[str, Any], sink: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "SinkBinding",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"subject": subject, "sink": sink, **spec},
    }


def service(name: str, **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"template": {"spec": {"containers": [revision_server()]}}},
    }


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [heartbeat()], "restartPolicy": "Always"},
    }


async def service_env(kawa: Client, name: str) -> dict[str, str]:
    svc = await kawa.get("Service", name)
    assert svc is not None
    return env_of(svc["spec"]["template"]["spec"]["containers"][0])


async def wait_revision(kawa: Client, service_name: str, number: int) -> dict[str, Any]:
    """The Service's ``number``-th Revision once the Service routes to it."""
    name = f"{service_name}-{number:05d}"

    async def probe() -> dict[str, Any] | None:
        svc = await kawa.get("Service", service_name)
        ready = svc is not None and condition(svc).get("status") == "True"
        if svc is not None and ready and svc["status"].get("latestReadyRevisionName") == name:
            return await kawa.get("Revision", name)
        return None

    return await eventually(probe, 30.0, f"Revision {name} never became the Service's latest")


async def test_a_service_rolls_out_with_the_sink(tmp_path: Path) -> None:
    async with (
        sources_kawa(tmp_path) as kawa,
        subscriber() as first,
        subscriber() as second,
    ):
        await kawa.create(service("producer"))
        await wait_revision(kawa, "producer", 1)
        subject = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "producer"}
        await kawa.create(
            binding(
                "bind-producer",
                subject,
                {"uri": first.url},
                ceOverrides={"extensions": {"team": "kawa"}},
            )
        )
        obj = await kawa.wait_condition("SinkBinding", "bind-producer", "Ready", "True")
        assert obj["status"]["sinkUri"] == first.url
        assert condition(obj, "BindingAvailable")["status"] == "True"
        revision = await wait_revision(kawa, "producer", 2)
        env = env_of(revision["spec"]["containers"][0])
        assert env["K_SINK"] == first.url
        assert env["K_CE_OVERRIDES"] == '{"extensions":{"team":"kawa"}}'
        svc = await kawa.get("Service", "producer")
        assert svc is not None
        assert svc["metadata"]["annotations"][BOUND] == "bind-producer"

        # the sink's address changes: the Service rolls again
        await kawa.patch("SinkBinding", "bind-producer", {"spec": {"sink": {"uri": second.url}}})
        revision = await wait_revision(kawa, "producer", 3)
        assert env_of(revision["spec"]["containers"][0])["K_SINK"] == second.url

        # deleted: the environment it injected goes, in a new Revision
        await kawa.delete("SinkBinding", "bind-producer")
        revision = await wait_revision(kawa, "producer", 4)
        env = env_of(revision["spec"]["containers"][0])
        assert "K_SINK" not in env
        assert "K_CE_OVERRIDES" not in env
        svc = await kawa.get("Service", "producer")
        assert svc is not None
        assert BOUND not in (svc["metadata"].get("annotations") or {})


async def test_pods_selected_by_label_are_recreated_with_the_sink(tmp_path: Path) -> None:
    async with (
        sources_kawa(tmp_path) as kawa,
        subscriber() as first,
        subscriber() as second,
    ):
        early = await kawa.create(pod("early", app="beat"))
        await kawa.create(pod("other", app="quiet"))
        subject = {"apiVersion": "v1", "kind": "Pod", "selector": {"matchLabels": {"app": "beat"}}}
        await kawa.create(binding("beats", subject, {"uri": first.url}))
        await kawa.wait_condition("SinkBinding", "beats", "Ready", "True")

        async def sent_by(sub: Any, name: str) -> bool:
            return any(e.source == f"heartbeat/{name}" for e in sub.events)

        await eventually(lambda: sent_by(first, "early"), 20.0, "Pod early never sent events")
        now = await kawa.get("Pod", "early")
        assert now is not None
        assert now["metadata"]["uid"] != early["metadata"]["uid"]
        assert env_of(now["spec"]["containers"][0])["K_SINK"] == first.url

        # a Pod created after the binding gets the sink too
        await kawa.create(pod("late", app="beat"))
        await eventually(lambda: sent_by(first, "late"), 20.0, "Pod late never sent events")
        other = await kawa.get("Pod", "other")
        assert other is not None
        assert "env" not in other["spec"]["containers"][0]

        # a new sink: the Pods are recreated with it
        await kawa.patch("SinkBinding", "beats", {"spec": {"sink": {"uri": second.url}}})
        await eventually(lambda: sent_by(second, "early"), 20.0, "early never moved")
        await eventually(lambda: sent_by(second, "late"), 20.0, "late never moved")

        # deleted: the Pods lose K_SINK (and, being this script, stop sending)
        await kawa.delete("SinkBinding", "beats")

        async def unbound() -> bool:
            for name in ("early", "late"):
                obj = await kawa.get("Pod", name)
                if obj is None or "K_SINK" in env_of(obj["spec"]["containers"][0]):
                    return False
            return True

        await eventually(unbound, 20.0, "the Pods kept K_SINK")
        senders = {e.attributes["pid"] for e in second.events}

        async def stopped() -> bool:
            """The processes that had K_SINK are gone; the new ones ran without it (this
            script then exits with code 2)."""
            if any(alive(int(pid)) for pid in senders):
                return False
            for name in ("early", "late"):
                obj = await kawa.get("Pod", name)
                statuses = (obj or {}).get("status", {}).get("containerStatuses") or [{}]
                ended = [
                    statuses[0].get(k, {}).get("terminated", {}) for k in ("state", "lastState")
                ]
                if not any(t.get("exitCode") == 2 for t in ended):
                    return False
            return True

        await eventually(stopped, 20.0, "a Pod still sends, or its new process never ran")
        assert {e.attributes["pid"] for e in second.events} == senders


async def test_a_containersource_subject_and_unbindable_subjects(tmp_path: Path) -> None:
    async with (
        sources_kawa(tmp_path) as kawa,
        subscriber() as own,
        subscriber() as sub,
    ):
        await kawa.create(container_source("cs", {"uri": own.url}, labels={"app": "cs"}))
        subject = {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "ContainerSource",
            "selector": {"matchLabels": {}},
        }
        await kawa.create(binding("to-cs", subject, {"uri": sub.url}))
        await kawa.wait_condition("SinkBinding", "to-cs", "Ready", "True")

        async def template_bound() -> bool:
            obj = await kawa.get("ContainerSource", "cs")
            env = env_of(obj["spec"]["template"]["spec"]["containers"][0]) if obj else {}
            return env.get("K_SINK") == sub.url

        await eventually(template_bound, 20.0, "the ContainerSource's template never got K_SINK")
        # as in Knative, the source's own sink wins in its Pod
        await own.wait_for(2, timeout=20.0)
        assert sub.events == []

        missing = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "nope"}
        await kawa.create(binding("missing", missing, {"uri": sub.url}))
        obj = await kawa.wait_condition("SinkBinding", "missing", "Ready", "False")
        cond = condition(obj, "BindingAvailable")
        assert cond["reason"] == "SubjectMissing", cond
        assert "nope" in cond["message"]

        daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "web"}
        await kawa.create(binding("unsupported", daemonset, {"uri": sub.url}))
        obj = await kawa.wait_condition("SinkBinding", "unsupported", "Ready", "False")
        assert condition(obj, "BindingAvailable")["reason"] == "SubjectUnsupported"

        no_sink = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "b"}}
        await kawa.create(binding("no-sink", missing, no_sink))
        obj = await kawa.wait_condition("SinkBinding", "no-sink", "Ready", "False")
        cond = condition(obj, "SinkProvided")
        assert cond["status"] == "False", cond
        assert cond["reason"] == "NotFound", cond


async def test_with_authentication_oidc_a_bound_workload_finds_a_token_at_oidc_token(
    tmp_path: Path,
) -> None:
    """authentication-oidc on: the SinkBinding gets its own ServiceAccount and a Secret
    ``<name>-oidc-token`` holding that account's token for the sink's audience
    (``status.oidcTokenSecretName``, ``OIDCTokenSecretCreated``); its Deployment's containers
    mount it at ``/oidc`` (``/oidc/token``, as Knative's). Turned off, the Secret goes."""
    async with sources_kawa(tmp_path) as kawa, subscriber() as sink:
        await kawa.patch(
            "ConfigMap",
            "config-features",
            {"data": {"authentication-oidc": "enabled"}},
            ns="knative-eventing",
        )
        labels = {"app": "producer"}
        await kawa.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "producer", "namespace": "default"},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [heartbeat()]},
                    },
                },
            }
        )
        subject = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "producer"}
        await kawa.create(binding("b", subject, {"uri": sink.url, "audience": "the-sink"}))
        obj = await kawa.wait_condition("SinkBinding", "b", "Ready", "True")
        status = obj["status"]
        assert status["oidcTokenSecretName"] == "b-oidc-token"
        assert status["auth"] == {"serviceAccountName": "b-oidc-sources.knative.dev-sinkbinding"}
        assert condition(obj, "OIDCTokenSecretCreated")["status"] == "True"
        secret = await kawa.get("Secret", "b-oidc-token")
        assert secret is not None
        token = base64.b64decode(secret["data"]["token"]).decode()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == ["the-sink"]
        assert (
            claims["sub"] == "system:serviceaccount:default:b-oidc-sources.knative.dev-sinkbinding"
        )

        async def mounted() -> dict[str, Any] | None:
            deployment = await kawa.get("Deployment", "producer")
            spec = (deployment or {}).get("spec", {}).get("template", {}).get("spec", {})
            return spec if spec.get("volumes") else None

        spec = await eventually(mounted, 15, "the Deployment never got the token volume")
        assert spec["volumes"] == [{"name": "oidc-token", "secret": {"secretName": "b-oidc-token"}}]
        assert spec["containers"][0]["volumeMounts"] == [
            {"name": "oidc-token", "mountPath": "/oidc", "readOnly": True}
        ]

        await kawa.patch(
            "ConfigMap",
            "config-features",
            {"data": {"authentication-oidc": "disabled"}},
            ns="knative-eventing",
        )

        async def secret_gone() -> bool:
            return await kawa.get("Secret", "b-oidc-token") is None

        await eventually(secret_gone, 15, "the token Secret stayed after OIDC was turned off")
