"""Acknowledged means durable: SIGKILL ``kawa up`` under load, restart, lose nothing.

A real ``kawa up`` child (durability ``full``) has a Broker and a Trigger whose subscriber is an
aiohttp server in this test process (so it outlives kawa); or an InMemoryChannel with two
Subscriptions, each to a subscriber of its own, both of which must get every event. Many
concurrent senders post events with unique ids; once enough got 202, kawa is killed with SIGKILL
in the middle of the load. After a restart on the same data dir, every id that got a 202 must
reach the subscriber (at least once).

In phase one the subscriber stalls every delivery until kawa has been killed and restarted (and
ignores what the dead process sent), so every acknowledged event must come back from the log on
disk. In phase two the subscriber answers at once but holds every tenth delivery, so kawa dies
with its trigger's progress saved up to a hole and many deliveries done past it: restart after a
restart, resuming from a durable cursor.

Both on the embedded SQLite default and on NATS JetStream (``kawa up --nats``, a private
``nats-server`` that outlives every kawa child): the guarantee is the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import nats as nats_client
import pytest
from nats.js import errors as js_errors

from kawa.dispatch import envelope
from kawa.errors import KawaError

from ..nats_support import nats_server
from .e2e_support import KawaProcess, Recorder, broker, free_port, recorder, trigger

SENDERS = 48
ACKS_BEFORE_KILL = 2000
DELIVERY_WAIT = 60.0
"""Seconds each subscriber has, once kawa is back, to get every acknowledged event. On JetStream
what the killed kawa held comes again one AckWait (``--nats-ack-wait``, 3 s in the e2e tests)
after its last progress note, so this is twenty AckWaits: a miss is not a slow
redelivery."""


@dataclass
class Load:
    """What the load generator did: ids attempted and ids that got 202."""

    attempted: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    other_status: dict[int, int] = field(default_factory=dict)


async def send_until_killed(kawa: KawaProcess, url: str, phase: str, load: Load) -> None:
    """Many concurrent senders; SIGKILL kawa once ACKS_BEFORE_KILL events got 202."""
    stop = asyncio.Event()
    acked_now = 0

    async def sender(session: aiohttp.ClientSession, worker: int) -> None:
        nonlocal acked_now
        n = 0
        while not stop.is_set():
            n += 1
            event_id = f"{phase}-{worker}-{n}"
            headers = {
                "ce-specversion": "1.0",
                "ce-id": event_id,
                "ce-source": "/e2e/load",
                "ce-type": "e2e.load",
                "content-type": "application/json",
            }
            load.attempted.add(event_id)
            try:
                async with session.post(url, data=b'{"n": 1}', headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                continue  # kawa is dying or dead: no 202, no promise
            if status == 202:
                load.acked.add(event_id)
                acked_now += 1
            else:
                load.other_status[status] = load.other_status.get(status, 0) + 1

    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=SENDERS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        workers = [asyncio.create_task(sender(session, w)) for w in range(SENDERS)]
        try:
            deadline = time.monotonic() + 20
            while acked_now < ACKS_BEFORE_KILL:
                if time.monotonic() > deadline:
                    raise AssertionError(f"only {acked_now} events got 202 in 20s")
                if any(w.done() for w in workers):
                    for w in workers:
                        if w.done():
                            w.result()
                await asyncio.sleep(0.002)  # polled: killed as soon as enough are acknowledged
            kawa.kill()  # mid-load: requests are in flight right now
        finally:
            stop.set()
            await asyncio.gather(*workers)


def channel_with_subscriptions(kawa: KawaProcess, recorders: list[Recorder]) -> str:
    """An InMemoryChannel with one Subscription per recorder; its address once all are
    Ready."""
    kawa.create(
        {
            "apiVersion": "messaging.knative.dev/v1",
            "kind": "InMemoryChannel",
            "metadata": {"name": "durable", "namespace": "default"},
        }
    )
    for i, rec in enumerate(recorders):
        kawa.create(
            {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "Subscription",
                "metadata": {"name": f"sub-{i}", "namespace": "default"},
                "spec": {
                    "channel": {
                        "apiVersion": "messaging.knative.dev/v1",
                        "kind": "InMemoryChannel",
                        "name": "durable",
                    },
                    "subscriber": {"uri": rec.url},
                    # a channel's default is one attempt; the recorder answers 503 to what
                    # the restarted kawa sent before it reopened: retried, as a broker does
                    "delivery": {
                        "retry": 10,
                        "backoffPolicy": "exponential",
                        "backoffDelay": "PT0.2S",
                    },
                },
            }
        )
    for i in range(len(recorders)):
        kawa.wait_ready("subscriptions", f"sub-{i}")
    return str(kawa.wait_ready("inmemorychannels", "durable")["status"]["address"]["url"])


async def jetstream_state(url: str | None, missing: set[str]) -> str:
    """On JetStream, what the server says of each consumer and where the ``missing`` events
    are in their streams: tells a record the server still holds as unacknowledged (never given
    out again) from one acknowledged (below the ack floor) or never read."""
    if url is None:
        return ""
    lines = ["JetStream state:"]
    nc = await nats_client.connect(url)
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            name = stream.config.name or ""
            if not name or name.startswith("KV_"):
                continue
            for c in await js.consumers_info(name):
                d, a = c.delivered, c.ack_floor
                lines.append(
                    f"  consumer {c.name}: delivered up to stream seq "
                    f"{d.stream_seq if d else None}, ack floor {a.stream_seq if a else None}, "
                    f"ack pending {c.num_ack_pending}, redelivered {c.num_redelivered}, "
                    f"waiting pulls {c.num_waiting}, pending {c.num_pending}"
                )
            seqs: list[int] = []
            for seq in range(stream.state.first_seq, stream.state.last_seq + 1):
                try:
                    msg = await js.get_msg(name, seq)
                    event, _ = envelope.unwrap(msg.data or b"")
                except (js_errors.Error, KawaError, ValueError):
                    continue
                if event.id in missing:
                    seqs.append(seq)
            lines.append(f"  stream {name}: seqs of the missing events {seqs[:40]}")
    finally:
        await nc.close()
    return "\n".join(lines)


@pytest.fixture(params=["sqlite", "jetstream"])
def nats(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None for kawa's SQLite default; for JetStream, the URL of a private ``nats-server`` that
    outlives every kawa child of the test."""
    if request.param == "sqlite":
        yield None
        return
    with nats_server(tmp_path / "nats") as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("target", ["broker", "channel"])
async def test_sigkill_under_load_loses_no_acknowledged_event(
    tmp_path: Path, target: str, nats: str | None
) -> None:
    kawa = KawaProcess(
        tmp_path,
        tmp_path / "data",
        free_port(),
        free_port(),
        ("--durability", "full", "--log-level", "warning"),
        nats,
    )
    load = Load()
    timings: dict[str, float] = {}
    try:
        async with recorder() as rec, recorder() as rec2:
            await asyncio.to_thread(kawa.start)
            if target == "broker":
                recorders = [rec]
                await asyncio.to_thread(kawa.create, broker())
                await asyncio.to_thread(kawa.create, trigger("recorder", rec.url))
                await asyncio.to_thread(kawa.wait_ready, "triggers", "recorder")
                url = kawa.broker_url()
            else:
                recorders = [rec, rec2]
                url = await asyncio.to_thread(channel_with_subscriptions, kawa, recorders)

            holds: dict[str, Callable[[str], bool]] = {
                "one": lambda _: True,  # nothing gets through before the kill
                "two": lambda event_id: event_id.endswith("7"),  # holes
            }
            for phase, hold in holds.items():
                for each in recorders:
                    each.close(hold)
                acked_before = set(load.acked)
                started = time.monotonic()
                await send_until_killed(kawa, url, phase, load)
                timings[f"load {phase}"] = time.monotonic() - started
                assert not load.other_status, load.other_status
                acked_now = load.acked - acked_before
                delivered = len(rec.ids & acked_now)
                if phase == "one":
                    assert delivered == 0  # nothing got through before the kill
                else:  # some got through, not all: the log and the cursor must do the rest
                    assert 0 < delivered < len(acked_now)
                timings[f"delivered before kill {phase}"] = delivered

                started = time.monotonic()
                await asyncio.to_thread(kawa.start)  # same data dir, same port
                timings[f"restart {phase}"] = time.monotonic() - started
                for each in recorders:
                    each.reopen()

                started = time.monotonic()
                for n, each in enumerate(recorders):
                    missing = await each.wait_for(set(load.acked), DELIVERY_WAIT)
                    assert not missing, (
                        f"phase {phase}: {len(missing)} of {len(load.acked)} acknowledged events "
                        f"never reached subscriber {n}, e.g. {sorted(missing)[:10]}\n"
                        f"{kawa.stderr}{await jetstream_state(nats, missing)}"
                    )
                timings[f"redelivery {phase}"] = time.monotonic() - started

            # nothing was invented along the way
            for each in recorders:
                assert each.ids <= load.attempted
            assert kawa.stop() == 0, kawa.stderr
            assert "Traceback" not in kawa.stderr, kawa.stderr
            assert not (kawa.data_dir / "server.json").exists()
    finally:
        kawa.stop()
    print(
        f"\nacked {len(load.acked)} of {len(load.attempted)} attempted; "
        f"{rec.deliveries} deliveries of {len(rec.ids)} ids; "
        + ", ".join(f"{k} {v:.2f}" for k, v in timings.items())
    )
