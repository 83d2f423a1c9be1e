"""``kawa demo``: the Quickstart, which is the seed tutorial running.

It runs kawa in this process and does what the tutorial (Knative Eventing's ApiServerSource
example) does with kubectl, through kawa's API: applies ``examples/seed``'s four manifests in
the tutorial's order (ServiceAccount + RBAC, the ApiServerSource, the event-display Service,
the Trigger) and labels namespace ``default`` for broker injection; waits until the source,
the Service and the Trigger are Ready; creates and deletes the ``busybox`` Pod (``kubectl run
busybox --image=busybox --restart=Never -- ls``); and relays what the event-display Service
prints (its ``user-container`` log, followed) to stdout: the busybox Pod's Kubernetes Events
as ``dev.knative.apiserver.resource.add`` CloudEvents. Then it keeps running until Ctrl-C, so
the tutorial's kubectl commands work against it. ``--once`` exits after the first busybox
event is displayed (used by the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from pathlib import Path
from typing import Any, Final

import aiohttp
import click

import kawa
from kawa.apiserver import access
from kawa.cli import resources, target
from kawa.cli.client import ApiClient, CliError, Target, startup_error
from kawa.cli.runner import run_async, setup_logging
from kawa.errors import KawaError
from kawa.runtime import Config, Running, serve

SEED: Final = Path(kawa.__file__).resolve().parents[2] / "examples" / "seed"
"""The tutorial's manifests, as the repository keeps them (examples/seed/README.md)."""
FILES: Final = ("serviceaccount.yaml", "k8s-events.yaml", "service.yaml", "trigger.yaml")
DISPLAY_HEADER: Final = "☁️  cloudevents.Event"
SERVICE_LABEL: Final = "serving.knative.dev/service=event-display"
PODS: Final = "/api/v1/namespaces/default/pods"
WAIT_FOR: Final = (
    (
        "ApiServerSource testevents",
        "/apis/sources.knative.dev/v1/namespaces/default/apiserversources/testevents",
    ),
    (
        "Service event-display",
        "/apis/serving.knative.dev/v1/namespaces/default/services/event-display",
    ),
    (
        "Trigger testevents-trigger",
        "/apis/eventing.knative.dev/v1/namespaces/default/triggers/testevents-trigger",
    ),
)
BUSYBOX: Final = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "busybox", "namespace": "default", "labels": {"run": "busybox"}},
    "spec": {
        "containers": [{"name": "busybox", "image": "busybox", "args": ["ls"]}],
        "restartPolicy": "Never",
    },
}


def _say(text: str) -> None:
    click.echo(text, err=True)


def _setup(client: ApiClient, manifests: Path) -> None:
    """The tutorial's four ``kubectl apply --filename`` and ``kubectl label namespace``."""
    for name in FILES:
        if name == "trigger.yaml":
            _say("$ kubectl label namespace default knative-eventing-injection=enabled")
            path = "/api/v1/namespaces/default"
            namespace = client.checked("GET", path)
            namespace["metadata"].setdefault("labels", {})["knative-eventing-injection"] = "enabled"
            client.checked("PUT", path, namespace)
            click.echo("namespace/default labeled")
        _say(f"$ kubectl apply --filename {name}")
        if resources.apply(client, str(manifests / name), "default"):
            raise CliError(f"{manifests / name} could not be applied (see above)")


async def _wait_ready(client: ApiClient, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    for what, path in WAIT_FOR:
        while True:
            obj = await asyncio.to_thread(client.checked, "GET", path)
            conditions = obj.get("status", {}).get("conditions") or []
            ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
            if ready.get("status") == "True":
                _say(f"  {what} is Ready")
                break
            if asyncio.get_running_loop().time() > deadline:
                raise CliError(f"{what} did not become Ready: {ready.get('message', '')}")
            await asyncio.sleep(0.1)


async def _make_k8s_events(client: ApiClient) -> None:
    """``kubectl run busybox --image=busybox --restart=Never -- ls`` then ``kubectl delete pod
    busybox``, once the Pod has run."""
    _say("$ kubectl run busybox --image=busybox --restart=Never -- ls")
    status, _ = await asyncio.to_thread(client.request, "GET", f"{PODS}/busybox")
    if status == 200:
        await asyncio.to_thread(client.checked, "DELETE", f"{PODS}/busybox")
    await asyncio.to_thread(client.checked, "POST", PODS, BUSYBOX)
    for _ in range(300):
        pod = await asyncio.to_thread(client.checked, "GET", f"{PODS}/busybox")
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            break
        await asyncio.sleep(0.05)
    _say("$ kubectl delete pod busybox")
    await asyncio.to_thread(client.checked, "DELETE", f"{PODS}/busybox")


def _pinned(running: Running) -> ssl.SSLContext:
    """TLS to the kawa this process runs: the token goes over its API port, verified."""
    return target.pinned_context(running.data_dir / access.CERT_FILE)


async def _relay_display(running: Running, busybox_seen: asyncio.Event) -> None:
    """Follow the event-display Pods' ``user-container`` logs to stdout (the next Pod when
    one is scaled away), setting ``busybox_seen`` once a busybox Event is displayed."""
    headers = {"Authorization": f"Bearer {running.token}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    connector = aiohttp.TCPConnector(ssl=_pinned(running))
    followed: set[str] = set()
    async with aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector
    ) as session:
        while True:
            async with session.get(
                f"{running.api_url}{PODS}", params={"labelSelector": SERVICE_LABEL}
            ) as resp:
                pods = (await resp.json()).get("items", [])
            running_pods = [
                p["metadata"]["name"]
                for p in pods
                if p.get("status", {}).get("phase") == "Running"
                and p["metadata"]["name"] not in followed
            ]
            if not running_pods:
                await asyncio.sleep(0.2)
                continue
            name = running_pods[0]
            followed.add(name)
            params = {"container": "user-container", "follow": "true"}
            async with session.get(f"{running.api_url}{PODS}/{name}/log", params=params) as resp:
                block: list[str] = []
                async for raw in resp.content:
                    line = raw.decode("utf-8", "replace")
                    sys.stdout.write(line)
                    sys.stdout.flush()
                    if line.startswith(DISPLAY_HEADER):
                        block = []
                    block.append(line)
                    text = "".join(block)
                    if (
                        "dev.knative.apiserver.resource.add" in text
                        and '"name": "busybox"' in text
                        and line.rstrip("\n") == "  }"  # the end of the event's data
                    ):
                        busybox_seen.set()


async def run_demo(config: Config, once: bool, manifests: Path) -> None:
    for name in FILES:
        if not (manifests / name).is_file():
            raise CliError(
                f"{manifests / name}: the seed manifests are not there (run the demo from a "
                "checkout of kawa, or give --manifests DIR)"
            )
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    busybox_seen = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            server = tg.create_task(serve(config, on_ready=ready.set_result))
            running = await ready
            _say(
                f"kawa is up at {running.url}; kubectl works against it in another terminal:\n"
                f"  export KUBECONFIG={running.kubeconfig.resolve()}\n"
                "Running the seed tutorial (examples/seed):\n"
            )
            client = ApiClient(
                Target(running.api_url, _pinned(running), "kawa's certificate"), running.token
            )
            await asyncio.to_thread(_setup, client, manifests)
            await _wait_ready(client)
            relay = tg.create_task(_relay_display(running, busybox_seen))
            await _make_k8s_events(client)
            _say("$ kubectl logs -l serving.knative.dev/service=event-display -c user-container\n")
            await asyncio.wait_for(busybox_seen.wait(), 60)
            if once:
                relay.cancel()
                server.cancel()
                return
            _say(
                "\n(kawa keeps running: try the tutorial's commands, e.g. `kubectl run busybox "
                "--image=busybox --restart=Never -- ls`, and watch the events arrive here. "
                "Ctrl-C stops everything.)\n"
            )
    except* KawaError as group:
        raise group.exceptions[0] from None
    except* TimeoutError:
        raise CliError("the busybox Events did not reach the event-display within 60s") from None
    except* OSError as group:
        first = group.exceptions[0]
        if isinstance(first, OSError):
            raise startup_error(first, config.host, config.port) from None
        raise CliError(f"cannot start: {first}") from None


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".kawa"),
    show_default=True,
)
@click.option("--port", type=click.IntRange(0, 65535), default=7080, show_default=True)
@click.option("--api-port", type=click.IntRange(0, 65535), default=7443, show_default=True)
@click.option(
    "--manifests",
    type=click.Path(file_okay=False, path_type=Path),
    default=SEED,
    show_default=True,
    help="The directory with the seed tutorial's four manifests.",
)
@click.option("--once", is_flag=True, help="Exit once the busybox Events are displayed.")
def demo(data_dir: Path, port: int, api_port: int, manifests: Path, once: bool) -> None:
    """Run the seed tutorial: an ApiServerSource, a Broker, a Trigger and an event-display
    Service, with busybox's Kubernetes Events flowing through them."""
    setup_logging("warning")
    with contextlib.suppress(KeyboardInterrupt):
        config = Config(data_dir=data_dir, port=port, api_port=api_port)
        run_async(run_demo(config, once, manifests))
