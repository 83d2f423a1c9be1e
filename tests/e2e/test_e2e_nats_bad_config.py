"""Bad NATS configuration never hurts: ``kawa up --nats`` as a real child process.

Against a private nats-server that holds a stream kawa did not make under one of its names or
subjects, that has another replica count, or whose user may not use a subject kawa needs,
``kawa up`` must exit 1 at once with one line that names the stream (or the URL, the user and
the denied subject), says what differs and what to do, without a Python traceback, and must
leave every stream on the server exactly as it was: configuration and messages (an admin
connection compares them before and after). And none of it stops a kawa that restarts on its
own streams and buckets, next to streams of others.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StreamConfig

from kawa.jetstream import NatsOptions, connect

from ..nats_support import PASSWORD, as_user, nats_server, users_config
from .e2e_support import Result, broker, kawa_up, recorder, run_cli, trigger

pytestmark = pytest.mark.slow

Setup = Callable[[JetStreamContext], Awaitable[None]]


async def foreign_bucket(js: JetStreamContext) -> None:
    kv = await js.create_key_value(KeyValueConfig(bucket="kawa_resources", history=5))
    await kv.put("theirs", b"keep me")


async def plain_stream_named_like_the_log_bucket(js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="KV_kawa_eventlog", subjects=["audit.>"]))
    await js.publish("audit.login", b"keep me")


async def broker_stream_with_other_subjects(js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="kawa_broker_3A0f1e", subjects=["orders.>"]))
    await js.publish("orders.new", b"keep me")


async def stream_holding_kawas_subjects(js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="everything", subjects=["kawa.>"]))
    await js.publish("kawa.log.x", b"keep me")


async def log_bucket_with_one_replica(js: JetStreamContext) -> None:
    kv = await js.create_key_value(KeyValueConfig(bucket="kawa_eventlog", history=1))
    await kv.put("c.x", b"{}")


CONFLICTS = [
    pytest.param(
        foreign_bucket,
        (),
        "error: JetStream stream KV_kawa_resources (the resource store's KV bucket "
        "kawa_resources) exists with other settings than kawa's: history "
        "(max_msgs_per_subject) is 5, kawa's is 64. kawa changes nothing in it: if it is not "
        "kawa's, remove it (nats stream rm KV_kawa_resources) or give kawa a NATS account of "
        "its own",
        id="a KV bucket of the store's name with another history",
    ),
    pytest.param(
        plain_stream_named_like_the_log_bucket,
        (),
        "error: JetStream stream KV_kawa_eventlog (the event log's KV bucket kawa_eventlog) "
        "exists with other settings than kawa's: subjects is [audit.>], kawa's is "
        "[$KV.kawa_eventlog.>]. kawa changes nothing in it",
        id="a plain stream of the event log bucket's name",
    ),
    pytest.param(
        broker_stream_with_other_subjects,
        (),
        "error: JetStream stream kawa_broker_3A0f1e has the name of an event log stream of "
        "kawa's (streams named kawa_... are kawa's) but holds ['orders.>'], not kawa's "
        "[kawa.log.broker_3A0f1e]: kawa changes nothing in it",
        id="a broker stream's name with other subjects",
    ),
    pytest.param(
        stream_holding_kawas_subjects,
        (),
        "error: JetStream stream everything holds subjects of the event log (kawa.log.>), so "
        "kawa cannot make its stream kawa_... there: kawa changes nothing in everything; "
        "narrow its subjects, remove it (nats stream rm everything), or give kawa a NATS "
        "account of its own",
        id="another stream holding kawa's subjects",
    ),
    pytest.param(
        log_bucket_with_one_replica,
        ("--nats-replicas", "3"),
        "error: JetStream stream KV_kawa_eventlog (the event log's KV bucket kawa_eventlog) "
        "has 1 replica(s), and kawa was started with --nats-replicas 3: start kawa with "
        "--nats-replicas 1, or change the stream's replicas first (nats stream edit "
        "KV_kawa_eventlog --replicas 3); kawa changes nothing in it",
        id="a bucket with other replicas than --nats-replicas",
    ),
]


@pytest.mark.parametrize(("setup", "extra", "said"), CONFLICTS)
async def test_a_stream_kawa_cannot_use_is_named_and_left_alone(
    tmp_path: Path, setup: Setup, extra: tuple[str, ...], said: str
) -> None:
    with nats_server(tmp_path / "nats") as url:
        await with_admin(url, setup)
        before = await streams(url)
        result = await kawa_fails(tmp_path, "--nats", url, *extra)
        assert_refused(result, said)
        assert await streams(url) == before


async def test_a_user_who_may_not_make_streams_is_told_and_nothing_is_made(
    tmp_path: Path,
) -> None:
    conf = users_config(tmp_path / "nats.conf", 'publish: {deny: ["$JS.API.STREAM.CREATE.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        result = await kawa_fails(tmp_path, "--nats", as_user(url, "kawa"))
        host = url.removeprefix("nats://")
        assert_refused(
            result,
            f"error: NATS at nats://kawa:***@{host} refused user 'kawa' while opening the "
            "resource store kawa_resources: permissions violation for publish to "
            '"$JS.API.STREAM.CREATE.KV_kawa_resources"; kawa\'s user needs to publish to '
            "$JS.API.> and kawa's subjects and to subscribe to _INBOX.> and kawa's subjects "
            "(docs/distributed.md, Permissions, lists them)",
        )
        assert await streams(as_user(url, "admin")) == []


async def test_a_user_who_may_not_hear_the_logs_ticks_is_told_before_anything_is_made(
    tmp_path: Path,
) -> None:
    conf = users_config(tmp_path / "nats.conf", 'subscribe: {deny: ["kawa.tick.>"]}')
    with nats_server(tmp_path / "nats", "-c", str(conf)) as url:
        result = await kawa_fails(
            tmp_path, "--nats", url, "--nats-user", "kawa", "--nats-password", PASSWORD
        )
        assert_refused(
            result,
            f"error: NATS at {url} refused user 'kawa' while checking kawa's JetStream streams "
            'and buckets: permissions violation for subscription to "kawa.tick.kawa.log.>"',
        )
        assert await streams(as_user(url, "admin")) == []


async def test_kawa_restarts_on_its_own_streams_next_to_others(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as url:
        await with_admin(url, stream_of_others)
        with kawa_up(tmp_path, "--nats", url) as kawa:
            kawa.create(broker())
            kawa.wait_ready("brokers", "default")
            assert await asyncio.to_thread(post_event, kawa.broker_url(), "1") == 202
            kawa.stop()
            made = await streams(url)
            kawa.start()  # its bucket, its event log's bucket and its broker's stream pass
            assert await asyncio.to_thread(post_event, kawa.broker_url(), "2") == 202
        names = [str(config.name) for config, _, _ in made]
        assert names[:2] == ["KV_kawa_eventlog", "KV_kawa_resources"]
        assert names[2].startswith("kawa_broker_3A")
        assert names[3].startswith("kawa_lineage_3Abroker_3A")  # its lineage (ADR 0055)
        assert names[4:] == ["others"]
        assert (await streams(url))[4][1:] == (1, 1)  # the others' message, untouched


KAWAS_PERMISSIONS = (
    'publish: {allow: ["$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.kawa_resources.>", '
    '"$KV.kawa_eventlog.>", "kawa.log.>", "kawa.serving.>", "kawa.requestreply.>"]}, '
    'subscribe: {allow: ["_INBOX.>", "kawa.tick.>", "kawa.serving.>", "kawa.requestreply.>"]}'
)
"""What docs/distributed.md says a NATS user of kawa's needs, and no more."""


async def test_a_user_with_the_documented_permissions_runs_kawa(tmp_path: Path) -> None:
    conf = users_config(tmp_path / "nats.conf", KAWAS_PERMISSIONS)
    async with recorder() as rec:
        with (
            nats_server(tmp_path / "nats", "-c", str(conf)) as url,
            kawa_up(tmp_path, "--nats", as_user(url, "kawa")) as kawa,
        ):
            kawa.create(broker())
            kawa.create(trigger("all", rec.url))
            kawa.wait_ready("brokers", "default")
            for n in range(60):  # until the trigger is Ready and its consumer delivers (an
                # event sent before it was Ready is not the trigger's: Knative's semantics)
                assert await asyncio.to_thread(post_event, kawa.broker_url(), f"e{n}") == 202
                if not await rec.wait_for({f"e{n}"}, 0.5):
                    break
            sent = {f"after{n}" for n in range(20)}  # from then on, every one arrives
            for event_id in sorted(sent):
                assert await asyncio.to_thread(post_event, kawa.broker_url(), event_id) == 202
            assert not await rec.wait_for(sent, 30), kawa.stderr
            assert "refused" not in kawa.stderr


async def stream_of_others(js: JetStreamContext) -> None:
    await js.add_stream(StreamConfig(name="others", subjects=["orders.>"]))
    await js.publish("orders.new", b"keep me")


def post_event(url: str, event_id: str) -> int:
    headers = {"ce-specversion": "1.0", "ce-id": event_id, "ce-source": "/e2e", "ce-type": "t"}
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def assert_refused(result: Result, said: str) -> None:
    assert result.code == 1, result.explain()
    assert "Traceback" not in result.stderr, result.explain()
    assert said in result.stderr, result.explain()
    assert PASSWORD not in result.stderr + result.stdout


async def kawa_fails(workdir: Path, *args: str) -> Result:
    """``kawa up`` to its end (it must not start: a kawa that runs is killed after 60 s)."""
    command = ("up", "--data-dir", str(workdir / "data"), "--port", "0", "--api-port", "0")
    return await asyncio.to_thread(run_cli, *command, *args, cwd=workdir, timeout=60)


async def with_admin(url: str, setup: Setup) -> None:
    client, js = await connect(NatsOptions.parse(url))
    try:
        await setup(js)
    finally:
        await client.close()


async def streams(url: str) -> list[tuple[StreamConfig, int, int]]:
    """Every stream of the account: its configuration, message count and last sequence."""
    client, js = await connect(NatsOptions.parse(url))
    try:
        found = await js.streams_info()
    finally:
        await client.close()
    return sorted(
        ((s.config, s.state.messages, s.state.last_seq) for s in found),
        key=lambda item: str(item[0].name),
    )
