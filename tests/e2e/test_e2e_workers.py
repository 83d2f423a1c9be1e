"""``kawa up --nats URL --workers 2``: one supervisor, two kawa workers sharing the ports and
a private nats-server.

Both workers answer on the same ports (their ``Kawa-Worker`` response headers, one fresh
connection per request so that ``SO_REUSEPORT`` spreads them), kubectl works through the
kubeconfig the supervisor wrote, and a Broker's Trigger delivers every event either worker
acknowledged. One worker is SIGKILLed in the middle of a load: the supervisor starts it again
(a new pid in ``server.json``), every acknowledged event still arrives (the killed worker's
unacknowledged deliveries come back after the consumer's AckWait), and the new worker serves
requests. SIGTERM to the supervisor stops every worker and removes ``server.json``; a
SIGKILLed supervisor's workers stop too. A worker failing at start (NATS unreachable), or a
port in use, ends ``kawa up --workers`` with exit code 1 and one message.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from kawa.workers import HEADER

from ..nats_support import nats_server
from ..waiting import wait_until
from .e2e_support import ACK_WAIT, KawaProcess, broker, free_port, recorder, run_cli, trigger

SENDERS = 8
DELIVERY_WAIT = ACK_WAIT + 30.0


@dataclass
class Load:
    """What the senders did: the ids that got 202, and which workers answered."""

    acked: set[str] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)
    retries: int = 0


async def send(url: str, ids: list[str], load: Load, stop_after: float = 30.0) -> None:
    """Post each id (binary mode, a new connection each), again on a connection error or a
    5xx until it got 202 (a worker may die under it)."""
    queue = list(reversed(ids))
    deadline = time.monotonic() + stop_after

    async def sender(session: aiohttp.ClientSession) -> None:
        while queue:
            event_id = queue.pop()
            headers = {
                "ce-specversion": "1.0",
                "ce-id": event_id,
                "ce-source": "/e2e/workers",
                "ce-type": "e2e.workers",
                "content-type": "text/plain",
            }
            while time.monotonic() < deadline:
                try:
                    async with session.post(url, data=event_id, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 202:
                            load.acked.add(event_id)
                            load.workers.add(resp.headers.get(HEADER, "?"))
                            break
                        assert resp.status >= 500, (resp.status, await resp.text())
                except aiohttp.ClientError:
                    pass
                load.retries += 1
                await asyncio.sleep(0.05)

    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(sender(session) for _ in range(SENDERS)))


def server_info(kawa: KawaProcess) -> dict[str, Any]:
    info: dict[str, Any] = orjson.loads((kawa.data_dir / "server.json").read_bytes())
    return info


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def kubectl(kawa: KawaProcess, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kawa.data_dir / "kubeconfig"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
async def test_two_workers_share_the_ports_and_the_work_and_survive_a_sigkill(
    tmp_path: Path,
) -> None:
    timings: dict[str, float] = {}
    ids = (f"e-{n}" for n in itertools.count())
    with nats_server(tmp_path / "nats") as nats:
        kawa = KawaProcess(
            tmp_path,
            tmp_path / "data",
            free_port(),
            free_port(),
            ("--workers", "2", "--leader-lease-duration", "3"),
            nats,
        )
        try:
            async with recorder() as rec:
                started = time.monotonic()
                await asyncio.to_thread(kawa.start, 40.0)
                timings["start"] = time.monotonic() - started
                assert kawa.proc is not None
                supervisor = kawa.proc.pid
                first = server_info(kawa)["workers"]
                assert len(set(first)) == 2, first
                for pid in first:
                    assert alive(pid)
                    assert parent_of(pid) == supervisor

                # kubectl through the supervisor's kubeconfig, on either worker
                names = await asyncio.to_thread(kubectl, kawa, "get", "namespaces", "-o", "name")
                assert "namespace/default" in names
                await asyncio.to_thread(
                    kubectl, kawa, "apply", "-f", "-", stdin=orjson.dumps(broker()).decode()
                )
                await asyncio.to_thread(kawa.create, trigger("recorder", rec.url))
                await asyncio.to_thread(kawa.wait_ready, "triggers", "recorder", "default", 30)

                # both workers take events; every acknowledged one is delivered once
                load = Load()
                before = [next(ids) for _ in range(200)]
                await send(kawa.broker_url(), before, load)
                assert load.acked == set(before)
                assert load.workers == {"0", "1"}, load.workers
                missing = await rec.wait_for(load.acked, DELIVERY_WAIT)
                assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
                assert rec.deliveries == len(before)  # nothing failed: no redelivery

                # SIGKILL a worker in the middle of a load
                victim = first[1]
                during = [next(ids) for _ in range(400)]
                sending = asyncio.create_task(send(kawa.broker_url(), during, load))
                await asyncio.sleep(0.3)
                os.kill(victim, 9)
                killed = time.monotonic()
                await sending
                assert load.acked >= set(during)

                def restarted() -> list[int] | None:
                    pids = list(server_info(kawa)["workers"])
                    return pids if victim not in pids and all(map(alive, pids)) else None

                now = await asyncio.to_thread(wait_until, restarted, 30, "no new worker")
                timings["restart"] = time.monotonic() - killed
                assert now[0] == first[0]
                assert parent_of(now[1]) == supervisor
                missing = await rec.wait_for(load.acked, DELIVERY_WAIT)
                assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
                timings["all delivered after the kill"] = time.monotonic() - killed

                # the new worker serves requests too
                after = Load()
                await send(kawa.broker_url(), [next(ids) for _ in range(100)], after)
                assert after.workers == {"0", "1"}, after.workers
                missing = await rec.wait_for(after.acked, DELIVERY_WAIT)
                assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
                assert rec.ids == load.acked | after.acked  # nothing invented

                # SIGTERM to the supervisor stops everything
                started = time.monotonic()
                assert await asyncio.to_thread(kawa.stop) == 0, kawa.stderr
                timings["stop"] = time.monotonic() - started
                for pid in now:
                    assert not alive(pid)
                assert not (kawa.data_dir / "server.json").exists()
                assert "Traceback" not in kawa.stderr, kawa.stderr

                # a SIGKILLed supervisor takes its workers along (their death signal)
                await asyncio.to_thread(kawa.start, 40.0)
                again = server_info(kawa)["workers"]
                kawa.kill()
                await asyncio.to_thread(
                    wait_until,
                    lambda: not any(map(alive, again)),
                    15,
                    "workers outlived their supervisor",
                )
        finally:
            kawa.stop()
    print(
        f"\n{rec.deliveries} deliveries of {len(rec.ids)} ids, {load.retries} retries; "
        + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    )


@pytest.mark.slow
def test_workers_that_cannot_start_end_kawa_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    nowhere = "nats://127.0.0.1:1"
    run = run_cli(
        *("up", "--data-dir", str(data), "--port", "0", "--api-port", "0"),
        *("--workers", "2", "--nats", nowhere),
        cwd=tmp_path,
    )
    assert run.code == 1, run.explain()
    assert "cannot connect to NATS" in run.stderr, run.explain()
    assert "error: worker 0 exited with code 1 before kawa was up" in run.stderr, run.explain()
    assert "Traceback" not in run.stderr, run.explain()
    assert not (data / "server.json").exists()

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        run = run_cli(
            *("up", "--data-dir", str(data), "--port", port, "--workers", "2"),
            *("--nats", nowhere),
            cwd=tmp_path,
        )
    assert run.code == 1, run.explain()
    assert run.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), run.explain()
    assert "worker" not in run.stderr, run.explain()  # none was started


async def send_in_order(
    url: str, keys: list[str], per_key: int, first: int
) -> dict[str, list[str]]:
    """For each key (in parallel), ``per_key`` events one after the other (each sent once its
    previous one got 202, again on a 5xx or a lost connection): the ids in their log order."""
    sent: dict[str, list[str]] = {key: [] for key in keys}

    async def one_key(session: aiohttp.ClientSession, key: str) -> None:
        for n in range(first, first + per_key):
            event_id = f"{key}-{n}"
            headers = {
                "ce-specversion": "1.0",
                "ce-id": event_id,
                "ce-source": "/e2e/ordered",
                "ce-type": "e2e.ordered",
                "ce-partitionkey": key,
                "content-type": "text/plain",
            }
            for _ in range(200):
                try:
                    async with session.post(url, data=event_id, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 202:
                            sent[key].append(event_id)
                            break
                        assert resp.status >= 500, (resp.status, await resp.text())
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one_key(session, key) for key in keys))
    return sent


def in_order(order: list[str], sent: dict[str, list[str]]) -> dict[str, list[str]]:
    """The keys whose first deliveries did not come in the order they were sent: key -> what
    came (a redelivery of an event already delivered is allowed, at least once)."""
    wrong = {}
    for key, ids in sent.items():
        wanted = set(ids)
        firsts = list(dict.fromkeys(i for i in order if i in wanted))
        if firsts != ids:
            wrong[key] = firsts
    return wrong


def ordered_leases(kawa: KawaProcess) -> list[dict[str, Any]]:
    found = orjson.loads(kubectl(kawa, "get", "leases", "-n", "kube-system", "-o", "json"))
    return [
        lease for lease in found["items"] if lease["metadata"]["name"].startswith("kawa-ordered-")
    ]


@pytest.mark.slow
async def test_an_ordered_trigger_has_one_puller_among_workers(tmp_path: Path) -> None:
    """Two workers share the durable consumer of every trigger; an ordered one is pulled by
    the holder of its lease only, so each partition key's events arrive in order, before
    and after the holder is SIGKILLed (the lease passes on, or the restarted worker, which
    keeps its identity, holds it again)."""
    keys = [f"k{n}" for n in range(6)]
    with nats_server(tmp_path / "nats") as nats:
        kawa = KawaProcess(
            tmp_path,
            tmp_path / "data",
            free_port(),
            free_port(),
            ("--workers", "2", "--leader-lease-duration", "3"),
            nats,
        )
        try:
            async with recorder() as rec:
                await asyncio.to_thread(kawa.start, 40.0)
                await asyncio.to_thread(
                    kubectl, kawa, "apply", "-f", "-", stdin=orjson.dumps(broker()).decode()
                )
                ordered = trigger("ordered", rec.url)
                ordered["metadata"]["annotations"] = {
                    "kafka.eventing.knative.dev/delivery.order": "ordered"
                }
                await asyncio.to_thread(kawa.create, ordered)
                await asyncio.to_thread(kawa.wait_ready, "triggers", "ordered", "default", 30)

                sent = await send_in_order(kawa.broker_url(), keys, 40, 0)
                wanted = {i for ids in sent.values() for i in ids}
                assert len(wanted) == 240
                missing = await rec.wait_for(wanted, DELIVERY_WAIT)
                assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
                assert not in_order(rec.order, sent)

                (lease,) = await asyncio.to_thread(ordered_leases, kawa)
                holder = lease["spec"]["holderIdentity"]
                workers = server_info(kawa)["workers"]
                assert holder in {"kawa/0", "kawa/1"}, holder
                victim = workers[int(holder.rsplit("/", 1)[1])]

                # the holder dies in the middle of a load: the other worker (or the restarted
                # one) takes the lease over once it expired, and order still holds per key
                sending = asyncio.create_task(send_in_order(kawa.broker_url(), keys, 40, 40))
                await asyncio.sleep(0.3)
                os.kill(victim, 9)
                more = await sending
                wanted = {i for ids in more.values() for i in ids}
                missing = await rec.wait_for(wanted, DELIVERY_WAIT)
                assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:5]}"
                assert not in_order(rec.order, more)
                # held again (the restarted worker keeps its identity, kawa/<index>: it may
                # renew its own lease at once), and by one holder
                (lease,) = await asyncio.to_thread(ordered_leases, kawa)
                assert lease["spec"]["holderIdentity"] in {"kawa/0", "kawa/1"}, lease

                # the trigger is deleted: its right goes with it (no Lease left behind)
                await asyncio.to_thread(kubectl, kawa, "delete", "trigger", "ordered")
                await asyncio.to_thread(
                    wait_until, lambda: not ordered_leases(kawa), 15, "the Lease to go", 0.5
                )
        finally:
            kawa.stop()
