"""The messaging controllers on a real SQLite store (periodic resync off, so every reconcile
comes from a watch or the tracker): InMemoryChannel address, dead-letter sink and subscriber
status; Channel backed by an InMemoryChannel; Subscriptions added to and removed from their
channel's spec, and clear conditions when their channel is wrong."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from kawa.apis import core, messaging
from kawa.apis.conditions import system_clock
from kawa.apis.messaging import channel_defaults
from kawa.controllers.messaging import (
    default_channel_template,
    ensure_channel_defaults,
    messaging_controllers,
)
from kawa.errors import NotFoundError
from kawa.store.base import Obj, ResourceKey
from kawa.store.mutating import MutatingStore
from kawa.store.sqlite import SqliteResourceStore

from ...waiting import eventually
from ..serving.support import admit, condition

NS = "default"
BASE = "http://127.0.0.1:8080"
V1 = "messaging.knative.dev/v1"
IMCS = messaging.INMEMORYCHANNEL.resource
CHANNELS = messaging.CHANNEL.resource
SUBS = messaging.SUBSCRIPTION.resource
TIMEOUT = 5.0


def imc(name: str, **spec: Any) -> Obj:
    return admit(
        {"apiVersion": V1, "kind": "InMemoryChannel", "metadata": {"name": name, "namespace": NS}}
        | ({"spec": spec} if spec else {})
    )


def subscription(name: str, channel: str, kind: str = "InMemoryChannel", **spec: Any) -> Obj:
    return admit(
        {
            "apiVersion": V1,
            "kind": "Subscription",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "channel": {"apiVersion": V1, "kind": kind, "name": channel},
                "subscriber": {"uri": "http://127.0.0.1:9/s"},
                **spec,
            },
        }
    )


class Messaging:
    def __init__(self, store: MutatingStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Obj, namespace: str = NS) -> Obj:
        key = ResourceKey(resource, namespace, obj["metadata"]["name"])
        return await self.store.create(key, obj)

    async def get(self, resource: str, name: str, namespace: str = NS) -> Obj | None:
        try:
            return await self.store.get(ResourceKey(resource, namespace, name))
        except NotFoundError:
            return None

    async def until(self, resource: str, name: str, check: Callable[[Obj], bool]) -> Obj:
        async def probe() -> Obj | None:
            obj = await self.get(resource, name)
            return obj if obj is not None and check(obj) else None

        return await eventually(probe, TIMEOUT, f"{resource} {name}: not within {TIMEOUT}s")


def is_(type_: str, status: str) -> Callable[[Obj], bool]:
    return lambda obj: condition(obj, type_)[0] == status


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[Messaging]:
    inner = SqliteResourceStore(":memory:")
    store = MutatingStore(inner, [default_channel_template(inner)])
    controllers = messaging_controllers(store, ingress_base_url=BASE, clock=system_clock)
    for controller in controllers:
        controller._resync = None  # every reconcile here comes from a watch or the tracker
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    try:
        yield Messaging(store)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()


async def test_an_in_memory_channel_is_addressable_and_resolves_its_dead_letter_sink() -> None:
    async with running() as m:
        await m.create(IMCS, imc("c", delivery={"deadLetterSink": {"uri": "http://dls/"}}))
        c = await m.until(IMCS, "c", is_("Ready", "True"))
        assert c["status"]["address"]["url"] == f"{BASE}/channels/{NS}/c"
        assert c["status"]["deadLetterSinkUri"] == "http://dls/"
        assert condition(c, "DeadLetterSinkResolved")[0] == "True"
        assert c["status"]["observedGeneration"] == 1

        # a dead-letter sink naming a missing channel: not Ready, says so
        ref = {"ref": {"apiVersion": V1, "kind": "InMemoryChannel", "name": "later"}}
        await m.create(IMCS, imc("d", delivery={"deadLetterSink": ref}))
        d = await m.until(IMCS, "d", is_("DeadLetterSinkResolved", "False"))
        assert "does not exist" in condition(d, "DeadLetterSinkResolved")[2]
        await m.create(IMCS, imc("later"))
        d = await m.until(IMCS, "d", is_("Ready", "True"))
        assert d["status"]["deadLetterSinkUri"] == f"{BASE}/channels/{NS}/later"


async def test_subscribers_appear_in_spec_and_status_and_leave_on_deletion() -> None:
    async with running() as m:
        await m.create(IMCS, imc("c"))
        dls = {"ref": {"apiVersion": V1, "kind": "InMemoryChannel", "name": "c"}}
        s1 = await m.create(SUBS, subscription("s1", "c"))
        s2 = await m.create(
            SUBS,
            subscription(
                "s2",
                "c",
                reply={"uri": "http://127.0.0.1:9/reply"},
                delivery={"retry": 3, "deadLetterSink": dls},
            ),
        )
        for name in ("s1", "s2"):
            sub = await m.until(SUBS, name, is_("Ready", "True"))
            assert sub["metadata"]["finalizers"] == ["subscriptions.messaging.knative.dev"]
            for type_ in ("ReferencesResolved", "AddedToChannel", "ChannelReady"):
                assert condition(sub, type_)[0] == "True", sub["status"]
        c = await m.get(IMCS, "c")
        assert c is not None
        uid1, uid2 = s1["metadata"]["uid"], s2["metadata"]["uid"]
        assert c["spec"]["subscribers"] == [
            {"uid": uid1, "generation": 1, "subscriberUri": "http://127.0.0.1:9/s"},
            {
                "uid": uid2,
                "generation": 1,
                "subscriberUri": "http://127.0.0.1:9/s",
                "replyUri": "http://127.0.0.1:9/reply",
                "delivery": {"retry": 3, "deadLetterSink": {"uri": f"{BASE}/channels/{NS}/c"}},
            },
        ]
        assert c["status"]["subscribers"] == [
            {"uid": uid1, "observedGeneration": 1, "ready": "True"},
            {"uid": uid2, "observedGeneration": 1, "ready": "True"},
        ]
        since = c["status"]["annotations"]
        assert set(since) == {f"subscribers.kawa.dev/{uid1}", f"subscribers.kawa.dev/{uid2}"}
        first = since[f"subscribers.kawa.dev/{uid1}"]
        assert datetime.fromisoformat(first).microsecond or "." in first
        s2_status = (await m.get(SUBS, "s2") or {})["status"]
        assert s2_status["physicalSubscription"] == {
            "subscriberUri": "http://127.0.0.1:9/s",
            "replyUri": "http://127.0.0.1:9/reply",
            "deadLetterSinkUri": f"{BASE}/channels/{NS}/c",
        }

        # a new generation of s1: the channel's entry and status follow it
        key = ResourceKey(SUBS, NS, "s1")
        current = await m.store.get(key)
        spec = dict(current["spec"], subscriber={"uri": "http://127.0.0.1:9/t"})
        await m.store.update(key, dict(current, spec=spec))
        await m.until(
            IMCS,
            "c",
            lambda o: (
                {"uid": uid1, "observedGeneration": 2, "ready": "True"}
                in o["status"].get("subscribers", [])
            ),
        )
        await m.until(SUBS, "s1", lambda o: o["status"].get("observedGeneration") == 2)
        await m.until(SUBS, "s1", is_("Ready", "True"))
        c = await m.get(IMCS, "c")
        assert c is not None
        # the ready-since moment stays while the subscriber stays
        assert c["status"]["annotations"][f"subscribers.kawa.dev/{uid1}"] == first

        # deleting s1 takes it out of the channel's spec and status, then it is gone
        await m.store.delete(key)
        await m.until(IMCS, "c", lambda o: [s["uid"] for s in o["spec"]["subscribers"]] == [uid2])
        c = await m.until(
            IMCS, "c", lambda o: [s["uid"] for s in o["status"]["subscribers"]] == [uid2]
        )
        assert set(c["status"]["annotations"]) == {f"subscribers.kawa.dev/{uid2}"}

        async def gone() -> bool:
            return await m.get(SUBS, "s1") is None

        await eventually(gone, TIMEOUT, "the deleted Subscription kept its finalizer")


async def test_a_subscription_to_a_missing_kind_or_channel_says_so_and_touches_nothing() -> None:
    async with running() as m:
        await m.create(IMCS, imc("c"))
        await m.create(SUBS, subscription("kafka", "c", kind="KafkaChannel"))
        sub = await m.until(SUBS, "kafka", is_("ChannelReady", "False"))
        status, reason, message = condition(sub, "Ready")
        assert (status, reason) == ("False", "ChannelReferenceFailed"), sub["status"]
        assert "KafkaChannel (messaging.knative.dev/v1) is not a kind kawa serves" in message

        broker = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "b"}
        not_a_channel = subscription("broker", "c")
        not_a_channel["spec"]["channel"] = broker | {"namespace": NS}
        await m.create(SUBS, not_a_channel)
        sub = await m.until(SUBS, "broker", is_("ChannelReady", "False"))
        assert "messaging.knative.dev/subscribable" in condition(sub, "ChannelReady")[2]

        await m.create(SUBS, subscription("missing", "nowhere"))
        sub = await m.until(SUBS, "missing", is_("ChannelReady", "False"))
        assert condition(sub, "ChannelReady")[1:] == (
            "ChannelReferenceFailed",
            "Failed to get Spec.Channel or backing channel: inmemorychannels.messaging.knative.dev"
            ' "nowhere" not found',
        )
        assert condition(sub, "ReferencesResolved")[0] == "Unknown"

        # an unresolvable subscriber: ReferencesResolved False, the channel untouched
        unresolvable = subscription(
            "ghost",
            "c",
            subscriber={"ref": {"apiVersion": "v1", "kind": "Service", "name": "ghost"}},
        )
        await m.create(SUBS, unresolvable)
        sub = await m.until(SUBS, "ghost", is_("ReferencesResolved", "False"))
        assert condition(sub, "ReferencesResolved")[1] == "SubscriberResolveFailed"
        c = await m.get(IMCS, "c")
        assert c is not None
        assert not c.get("spec", {}).get("subscribers"), c

        # the missing channel, created later: the Subscription is added and Ready at once
        await m.create(IMCS, imc("nowhere"))
        await m.until(SUBS, "missing", is_("Ready", "True"))
        # a Subscription whose channel never existed is deleted without trouble
        await m.store.delete(ResourceKey(SUBS, NS, "kafka"))

        async def gone() -> bool:
            return await m.get(SUBS, "kafka") is None

        await eventually(gone, TIMEOUT, "the Subscription to a KafkaChannel stayed")


async def test_a_channel_is_backed_by_an_in_memory_channel_and_copies_its_status() -> None:
    async with running() as m:
        await m.create(CHANNELS, admit(_channel("ch", delivery={"retry": 2})))
        ch = await m.until(CHANNELS, "ch", is_("Ready", "True"))
        assert ch["spec"]["channelTemplate"] == {"apiVersion": V1, "kind": "InMemoryChannel"}
        assert ch["status"]["channel"] == {
            "apiVersion": V1,
            "kind": "InMemoryChannel",
            "name": "ch",
            "namespace": NS,
        }
        assert ch["status"]["address"]["url"] == f"{BASE}/channels/{NS}/ch"
        backing = await m.get(IMCS, "ch")
        assert backing is not None
        assert backing["spec"]["delivery"] == {"retry": 2}
        (owner,) = backing["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Channel",
            ch["metadata"]["uid"],
            True,
        )

        # a Subscription to the Channel lands in the backing channel, its status in both
        s = await m.create(SUBS, subscription("s", "ch", kind="Channel"))
        await m.until(SUBS, "s", is_("Ready", "True"))
        backing = await m.get(IMCS, "ch")
        assert backing is not None
        assert [e["uid"] for e in backing["spec"]["subscribers"]] == [s["metadata"]["uid"]]
        ch = await m.until(CHANNELS, "ch", lambda o: bool(o["status"].get("subscribers")))
        assert ch["status"]["subscribers"] == [
            {"uid": s["metadata"]["uid"], "observedGeneration": 1, "ready": "True"}
        ]
        assert not ch["spec"].get("subscribers")

        # the Channel's delivery changes: the backing channel follows, keeping subscribers
        key = ResourceKey(CHANNELS, NS, "ch")
        current = await m.store.get(key)
        await m.store.update(key, dict(current, spec=dict(current["spec"], delivery={"retry": 5})))
        backing = await m.until(IMCS, "ch", lambda o: o["spec"].get("delivery") == {"retry": 5})
        assert len(backing["spec"]["subscribers"]) == 1

        # a template naming a kind that is no channel
        bad = admit(
            _channel("bad", channelTemplate={"apiVersion": "x.dev/v1", "kind": "KafkaChannel"})
        )
        await m.create(CHANNELS, bad)
        ch = await m.until(CHANNELS, "bad", is_("BackingChannelReady", "False"))
        assert condition(ch, "Ready")[1] == "ChannelFailure"
        assert "KafkaChannel (x.dev/v1)" in condition(ch, "Ready")[2]


def _channel(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": V1,
        "kind": "Channel",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


async def test_the_default_ch_webhook_config_map_picks_new_channels_templates() -> None:
    async with running() as m:
        await ensure_channel_defaults(m.store)
        key = ResourceKey(
            core.CONFIG_MAP.resource, channel_defaults.NAMESPACE, channel_defaults.CONFIG_MAP
        )
        config = await m.store.get(key)
        assert channel_defaults.parse_defaults(config["data"]["default-ch-config"]) == (
            channel_defaults.ChannelDefaults(cluster=messaging.channel.DEFAULT_CHANNEL_TEMPLATE)
        )
        config["data"]["default-ch-config"] = (
            "clusterDefault: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}\n"
            "namespaceDefaults:\n"
            "  special:\n"
            "    apiVersion: messaging.knative.dev/v1\n"
            "    kind: InMemoryChannel\n"
            "    spec: {delivery: {retry: 7}}\n"
        )
        await m.store.update(key, config)
        await ensure_channel_defaults(m.store)  # never overwrites
        assert (await m.store.get(key))["data"] == config["data"]

        special = _channel("x")
        special["metadata"]["namespace"] = "special"
        created = await m.create(CHANNELS, admit(special), namespace="special")
        assert created["spec"]["channelTemplate"] == {
            "apiVersion": V1,
            "kind": "InMemoryChannel",
            "spec": {"delivery": {"retry": 7}},
        }

        async def backing() -> Obj | None:
            return await m.get(IMCS, "x", "special")

        made = await eventually(backing, TIMEOUT, "the Channel's backing channel never came")
        assert made["spec"] == {"delivery": {"retry": 7}}
        plain = await m.create(CHANNELS, admit(_channel("y")))
        assert plain["spec"]["channelTemplate"] == {"apiVersion": V1, "kind": "InMemoryChannel"}
        given = admit(
            _channel("z", channelTemplate={"apiVersion": "x.dev/v1", "kind": "KafkaChannel"})
        )
        assert (await m.create(CHANNELS, given))["spec"]["channelTemplate"]["kind"] == (
            "KafkaChannel"
        )
