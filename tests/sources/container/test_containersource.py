"""ContainerSource end to end: a whole kawa runs the source's container as a real process
(the heartbeat script), which POSTs CloudEvents to ``$K_SINK``."""

from __future__ import annotations

import base64
import os
import signal
from pathlib import Path
from typing import Any

import jwt

from ...broker.broker_support import Subscriber, broker, subscriber, trigger
from ...serving.serving_support import alive, pid_of
from ...serving.serving_support import condition_of as condition
from ...waiting import eventually
from .support import (
    Client,
    container_source,
    env_of,
    heartbeat,
    sources_kawa,
)

SELECTOR = "sources.knative.dev/containerSource="


async def one_pod(kawa: Client, source: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        pods = await kawa.list("Pod", SELECTOR + source)
        return pods[0] if len(pods) == 1 and pid_of(pods[0]) else None

    return await eventually(probe, 20.0, f"ContainerSource {source} never had one running Pod")


async def events_from(sub: Subscriber, pid: int, count: int = 2) -> None:
    async def probe() -> bool:
        return sum(1 for e in sub.events if e.attributes.get("pid") == str(pid)) >= count

    await eventually(probe, 20.0, f"no events from pid {pid}")


async def test_runs_the_container_with_the_sink_and_restarts_it(tmp_path: Path) -> None:
    async with sources_kawa(tmp_path) as kawa, subscriber() as sub:
        source = container_source(
            "beats",
            {"uri": sub.url},
            ceOverrides={"extensions": {"team": "kawa"}},
            labels={"app": "beats"},
        )
        await kawa.create(source)
        obj = await kawa.wait_condition("ContainerSource", "beats", "Ready", "True")
        assert obj["status"]["sinkUri"] == sub.url
        assert condition(obj, "SinkBindingReady")["status"] == "True"
        assert condition(obj, "ReceiveAdapterReady")["status"] == "True"
        assert obj["status"]["observedGeneration"] == 1

        pod = await one_pod(kawa, "beats")
        labels = pod["metadata"]["labels"]
        assert labels["sources.knative.dev/source"] == "container-source-controller"
        assert labels["app"] == "beats"
        assert pod["metadata"]["name"].startswith("beats-deployment-")
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ContainerSource"
        assert pod["spec"]["restartPolicy"] == "Always"
        env = env_of(pod["spec"]["containers"][0])
        assert env["K_SINK"] == sub.url
        assert env["K_CE_OVERRIDES"] == '{"extensions":{"team":"kawa"}}'

        await sub.wait_for(3)
        first = sub.events[0]
        assert first.type == "dev.kawa.test.heartbeat"
        assert first.attributes["team"] == "kawa"
        pid = pid_of(pod)
        assert pid is not None

        # killed: the kubelet starts it again (restartPolicy Always), same Pod
        os.kill(pid, signal.SIGKILL)

        async def restarted() -> int | None:
            pods = await kawa.list("Pod", SELECTOR + "beats")
            new = pid_of(pods[0]) if pods else None
            return new if new is not None and new != pid else None

        new_pid = await eventually(restarted, 20.0, "the killed container never restarted")
        await events_from(sub, new_pid)
        (again,) = await kawa.list("Pod", SELECTOR + "beats")
        assert again["metadata"]["uid"] == pod["metadata"]["uid"]

        # deleted: its Pod and process go, and its events stop
        await kawa.delete("ContainerSource", "beats")

        async def gone() -> bool:
            return not await kawa.list("Pod", SELECTOR + "beats") and not alive(new_pid)

        await eventually(gone, 20.0, "the source's Pod or process outlived it")
        # its events stop: all came from the two processes it ran, both dead now
        assert {e.attributes.get("pid") for e in sub.events} == {str(pid), str(new_pid)}


async def test_a_crashing_container_is_restarted_and_reported(tmp_path: Path) -> None:
    async with sources_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.create(container_source("crashy", {"uri": sub.url}, heartbeat(EXIT_AFTER="2")))
        obj = await kawa.wait_condition("ContainerSource", "crashy", "ReceiveAdapterReady", "False")
        cond = condition(obj, "ReceiveAdapterReady")
        assert cond["reason"] in ("CrashLoopBackOff", "Error"), cond
        assert condition(obj, "Ready")["status"] == "False"

        async def several_runs() -> bool:
            return len({e.attributes.get("pid") for e in sub.events}) >= 2

        await eventually(several_runs, 20.0, "the crashed container never ran again")
        (pod,) = await kawa.list("Pod", SELECTOR + "crashy")
        assert pod["status"]["containerStatuses"][0]["restartCount"] >= 1


async def test_a_missing_sink_is_reported_until_the_broker_exists(tmp_path: Path) -> None:
    async with sources_kawa(tmp_path) as kawa, subscriber() as sub:
        ref = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "ev"}}
        await kawa.create(
            container_source("via-broker", ref, ceOverrides={"extensions": {"hop": "broker"}})
        )
        obj = await kawa.wait_condition("ContainerSource", "via-broker", "Ready", "False")
        cond = condition(obj, "SinkBindingReady")
        assert cond["status"] == "False", cond
        assert cond["reason"] == "NotFound", cond
        assert "ev" in cond["message"]
        assert "sinkUri" not in obj["status"]
        assert await kawa.list("Pod", SELECTOR + "via-broker") == []

        await kawa.create(broker("ev"))
        await kawa.create(trigger("to-sub", sub.url, broker_name="ev"))
        obj = await kawa.wait_condition("ContainerSource", "via-broker", "Ready", "True")
        assert obj["status"]["sinkUri"].endswith("/default/ev")
        events = await sub.wait_for(2, timeout=20.0)
        assert events[0].attributes["hop"] == "broker"
        assert events[0].type == "dev.kawa.test.heartbeat"


async def test_a_new_sink_rolls_the_pod(tmp_path: Path) -> None:
    async with (
        sources_kawa(tmp_path) as kawa,
        subscriber() as first,
        subscriber() as second,
    ):
        await kawa.create(container_source("mover", {"uri": first.url}))
        await kawa.wait_condition("ContainerSource", "mover", "Ready", "True")
        old = await one_pod(kawa, "mover")
        await first.wait_for(1)

        await kawa.patch("ContainerSource", "mover", {"spec": {"sink": {"uri": second.url}}})
        await second.wait_for(2, timeout=20.0)

        async def rolled() -> dict[str, Any] | None:
            pods = await kawa.list("Pod", SELECTOR + "mover")
            if len(pods) == 1 and pods[0]["metadata"]["name"] != old["metadata"]["name"]:
                return pods[0]
            return None

        new = await eventually(rolled, 20.0, "the old Pod was never replaced")
        assert env_of(new["spec"]["containers"][0])["K_SINK"] == second.url
        obj = await kawa.wait_condition("ContainerSource", "mover", "Ready", "True")
        assert obj["status"]["sinkUri"] == second.url
        old_pid = pid_of(old)
        assert old_pid is not None
        await eventually(lambda: _dead(old_pid), 20.0, "the old container kept running")
        new_pid = pid_of(new)
        await events_from(second, new_pid or 0)
        # the old sink got events from the old container only (now dead), none from the new
        assert {e.attributes.get("pid") for e in first.events} == {str(old_pid)}


async def _dead(pid: int) -> bool:
    return not alive(pid)


async def test_with_authentication_oidc_its_container_finds_a_token_at_oidc_token(
    tmp_path: Path,
) -> None:
    """As the SinkBinding Knative makes for a ContainerSource: its own ServiceAccount
    (``status.auth``), a Secret ``<name>-oidc-token`` with that account's token for the sink's
    audience, mounted at ``/oidc`` in its Pod (a new Pod: the spec changed)."""
    async with sources_kawa(tmp_path) as kawa, subscriber() as sub:
        await kawa.patch(
            "ConfigMap",
            "config-features",
            {"data": {"authentication-oidc": "enabled"}},
            ns="knative-eventing",
        )
        await kawa.create(container_source("beats", {"uri": sub.url, "audience": "the-sink"}))
        obj = await kawa.wait_condition("ContainerSource", "beats", "Ready", "True")
        account = "beats-oidc-sources.knative.dev-containersource"
        assert obj["status"]["auth"] == {"serviceAccountName": account}
        secret = await kawa.get("Secret", "beats-oidc-token")
        assert secret is not None
        token = base64.b64decode(secret["data"]["token"]).decode()
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == ["the-sink"]
        assert claims["sub"] == f"system:serviceaccount:default:{account}"
        pod = await one_pod(kawa, "beats")
        assert pod["spec"]["volumes"] == [
            {"name": "oidc-token", "secret": {"secretName": "beats-oidc-token"}}
        ]
        assert pod["spec"]["containers"][0]["volumeMounts"] == [
            {"name": "oidc-token", "mountPath": "/oidc", "readOnly": True}
        ]
