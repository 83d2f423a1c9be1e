"""``kawa demo``: the Quickstart. kawa, a Broker, a Trigger and event-display, running.

It starts ``kawa event-display`` as a child process (its output is relayed here), runs kawa
in this process, applies the manifests of ``examples/quickstart`` (Broker ``default`` and a
Trigger to event-display, whose port is chosen free), waits for the Trigger to be Ready and
sends a few sample events through the broker. Then it keeps running until Ctrl-C, so you can
send your own with ``kawa send --broker default --type ... --data ...``. ``--once`` exits
after the sample events have been displayed (used by the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path
from typing import Any

import click

from kawa.cli import send as send_cmd
from kawa.cli.client import ApiClient, CliError, startup_error
from kawa.errors import KawaError
from kawa.runtime import Config, Running, serve

SAMPLES = (
    ("dev.kawa.demo.greeting", '{"message": "Hello from kawa!"}'),
    ("dev.kawa.demo.order.created", '{"order": 42, "items": ["tea", "rice"]}'),
    ("dev.kawa.demo.order.shipped", '{"order": 42, "carrier": "kawa-post"}'),
)
DISPLAY_HEADER = "☁️  cloudevents.Event"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manifests(display_url: str) -> list[dict[str, Any]]:
    """The Quickstart's Broker and Trigger (examples/quickstart, with the display's URL)."""
    return [
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": "default", "namespace": "default"},
        },
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": "event-display", "namespace": "default"},
            "spec": {"broker": "default", "subscriber": {"uri": display_url}},
        },
    ]


async def _relay(stream: asyncio.StreamReader, seen: list[int], enough: asyncio.Event) -> None:
    while line := await stream.readline():
        text = line.decode("utf-8", "replace")
        sys.stdout.write(text)
        sys.stdout.flush()
        if text.startswith(DISPLAY_HEADER):
            seen[0] += 1
            if seen[0] >= len(SAMPLES):
                enough.set()


def _sync_setup(client: ApiClient, display_url: str) -> str:
    for obj in manifests(display_url):
        path = f"/apis/eventing.knative.dev/v1/namespaces/default/{obj['kind'].lower()}s"
        status, payload = client.request("GET", f"{path}/{obj['metadata']['name']}")
        if status == 404:
            client.checked("POST", path, obj)
        elif status < 400:
            obj["metadata"]["resourceVersion"] = payload["metadata"]["resourceVersion"]
            client.checked("PUT", f"{path}/{obj['metadata']['name']}", obj)
    return "ok"


async def _wait_ready(client: ApiClient, timeout: float = 30.0) -> str:
    path = "/apis/eventing.knative.dev/v1/namespaces/default/triggers/event-display"
    broker_path = "/apis/eventing.knative.dev/v1/namespaces/default/brokers/default"
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        trigger = await asyncio.to_thread(client.checked, "GET", path)
        conditions = trigger.get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            broker = await asyncio.to_thread(client.checked, "GET", broker_path)
            return str(broker["status"]["address"]["url"])
        await asyncio.sleep(0.1)
    raise CliError("the demo trigger did not become Ready within 30s")


async def run_demo(config: Config, once: bool) -> None:
    display_port = _free_port()
    display_url = f"http://127.0.0.1:{display_port}/"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kawa",
        "event-display",
        "--port",
        str(display_port),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None  # we asked for a pipe
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    enough = asyncio.Event()
    seen = [0]
    try:
        async with asyncio.TaskGroup() as tg:
            relay = tg.create_task(_relay(child.stdout, seen, enough))
            server = tg.create_task(serve(config, on_ready=ready.set_result))
            running = await ready
            client = ApiClient(running.url, running.token)
            await asyncio.to_thread(_sync_setup, client, display_url)
            broker_url = await _wait_ready(client)
            click.echo(f"\nkawa is up at {running.url}; broker default: {broker_url}", err=True)
            click.echo(f"event-display listens at {display_url}; sending samples ...\n", err=True)
            for type_, data in SAMPLES:
                event = send_cmd.build_event(
                    type_=type_,
                    source="/kawa/demo",
                    id_=None,
                    subject=None,
                    data=data.encode(),
                    content_type="application/json",
                    extensions=(),
                )
                status, _, body = await asyncio.to_thread(
                    send_cmd.post, broker_url, event, "binary"
                )
                if status != 202:
                    raise CliError(f"the broker answered {status}: {body!r}")
            await asyncio.wait_for(enough.wait(), 30)
            if once:
                server.cancel()
                relay.cancel()
                return
            click.echo(
                "Send your own (in another terminal):\n"
                f"  kawa send --data-dir {config.data_dir} --broker default "
                '--type my.event --data \'{"hello": "world"}\'\n'
                "Ctrl-C stops everything.",
                err=True,
            )
    except* KawaError as group:
        raise group.exceptions[0] from None
    except* OSError as group:
        first = group.exceptions[0]
        if isinstance(first, OSError):
            raise startup_error(first, config.host, config.port) from None
        raise CliError(f"cannot start: {first}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        await child.wait()


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".kawa"),
    show_default=True,
)
@click.option("--port", type=click.IntRange(0, 65535), default=7080, show_default=True)
@click.option("--api-port", type=click.IntRange(0, 65535), default=7443, show_default=True)
@click.option("--once", is_flag=True, help="Exit once the sample events are displayed.")
def demo(data_dir: Path, port: int, api_port: int, once: bool) -> None:
    """Run kawa with a broker, a trigger and event-display, and send sample events."""
    from kawa.cli.main import _logging, run_async

    _logging("warning")
    run_async(run_demo(Config(data_dir=data_dir, port=port, api_port=api_port), once))
