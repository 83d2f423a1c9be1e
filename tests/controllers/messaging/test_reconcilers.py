"""The messaging controllers on a real SQLite store (periodic resync off, so every reconcile
comes from a watch or the tracker): InMemoryChannel address, dead-letter sink and subscriber
status; Channel backed by an InMemoryChannel; Subscriptions added to and removed from their
channel's spec, and clear conditions when their channel is wrong."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from kawa.apis import core, limits, messaging, serving
from kawa.apis.conditions import system_clock
from kawa.apis.eventing import EVENTPOLICY
from kawa.apis.messaging import channel_defaults
from kawa.controllers.messaging import (
    default_channel_template,
    ensure_channel_defaults,
    messaging_controllers,
)
from kawa.errors import ConflictError, NotFoundError
from kawa.store.base import Obj, ResourceKey
from kawa.store.mutating import MutatingStore
from kawa.store.sqlite import SqliteResourceStore

from ...oidc_support import set_oidc
from ...tls_support import certificate_authority
from ...waiting import eventually
from ..serving.support import admit, condition

NS = "default"
BASE = "http://127.0.0.1:8080"
V1 = "messaging.knative.dev/v1"
IMCS = messaging.INMEMORYCHANNEL.resource
CHANNELS = messaging.CHANNEL.resource
SUBS = messaging.SUBSCRIPTION.resource
SERVING_SERVICES = serving.SERVICE.resource
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

    async def edit(self, key: ResourceKey, change: Callable[[Obj], None]) -> None:
        """Read, change, write: again when a controller wrote the object meanwhile."""
        for _ in range(20):
            current = await self.store.get(key)
            change(current)
            try:
                await self.store.update(key, current)
                return
            except ConflictError:
                continue
        raise AssertionError(f"{key}: every update conflicted")

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


async def test_a_channels_kawa_annotations_follow_it_to_its_backing_channel() -> None:
    retention, lineage, store = (
        "kawa.dev/retention",
        "kawa.dev/lineage",
        "kawa.dev/dead-letter-store",
    )
    carried = "messaging.kawa.dev/carried-annotations"
    async with running() as m:
        ch = _channel("kept")
        ch["metadata"]["annotations"] = {retention: "PT1H", lineage: "off", "team": "a"}
        await m.create(CHANNELS, admit(ch))
        backing = await m.until(IMCS, "kept", lambda o: bool(o["metadata"].get("annotations")))
        assert _kawas(backing) == {
            retention: "PT1H",
            lineage: "off",
            carried: "kawa.dev/lineage,kawa.dev/retention",
        }
        assert "team" not in backing["metadata"]["annotations"]

        # what others write on the backing channel stays (a Subscription's limits, a user's
        # annotation the Channel does not have); what the Channel carried follows it: changed,
        # removed
        theirs = "limits.kawa.dev/0b7f"

        def add_limit(obj: Obj) -> None:
            obj["metadata"]["annotations"][theirs] = "{}"
            obj["metadata"]["annotations"][store] = "false"

        def change(obj: Obj) -> None:
            obj["metadata"]["annotations"] = {retention: "P7D"}

        await m.edit(ResourceKey(IMCS, NS, "kept"), add_limit)
        await m.edit(ResourceKey(CHANNELS, NS, "kept"), change)
        backing = await m.until(
            IMCS, "kept", lambda o: o["metadata"]["annotations"].get(retention) == "P7D"
        )
        assert _kawas(backing) == {
            retention: "P7D",
            theirs: "{}",
            store: "false",
            carried: "kawa.dev/retention",
        }


def _kawas(obj: Obj) -> dict[str, str]:
    """An object's annotations of kawa's (``*kawa.dev/*``)."""
    return {k: v for k, v in obj["metadata"]["annotations"].items() if "kawa.dev/" in k}


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


async def test_a_channels_audience_follows_the_authentication_oidc_flag() -> None:
    """``authentication-oidc: enabled``: an InMemoryChannel, and the Channel it backs, publish
    ``status.address.audience`` (``messaging.knative.dev/inmemorychannel/<ns>/<name>``)."""

    def audience(obj: Obj) -> object:
        return (obj.get("status", {}).get("address") or {}).get("audience")

    async with running() as m:
        await m.create(IMCS, imc("c"))
        c = await m.until(IMCS, "c", is_("Ready", "True"))
        assert audience(c) is None
        await set_oidc(m.store)
        expected = f"messaging.knative.dev/inmemorychannel/{NS}/c"
        await m.until(IMCS, "c", lambda obj: audience(obj) == expected)


async def test_a_subscriptions_identity_and_audiences_reach_its_channels_entry() -> None:
    """``authentication-oidc: enabled``: a Subscription gets its own ServiceAccount (status.auth,
    OIDCIdentityCreated), resolves its subscriber's and dead-letter sink's audiences into
    ``status.physicalSubscription``, and its channel's ``spec.subscribers`` entry carries them:
    what the channel's deliveries present."""
    async with running() as m:
        await set_oidc(m.store)
        await m.create(IMCS, imc("c"))
        await m.create(IMCS, imc("next"))
        target = {"ref": {"apiVersion": V1, "kind": "InMemoryChannel", "name": "next"}}
        dls = {"uri": "http://127.0.0.1:9/dls", "audience": "dls-aud"}
        await m.create(
            SUBS, subscription("s", "c", subscriber=target, delivery={"deadLetterSink": dls})
        )
        s = await m.until(SUBS, "s", is_("Ready", "True"))
        account = "s-oidc-messaging.knative.dev-subscription"
        assert s["status"]["auth"] == {"serviceAccountName": account}
        assert condition(s, "OIDCIdentityCreated")[0] == "True"
        physical = s["status"]["physicalSubscription"]
        next_audience = f"messaging.knative.dev/inmemorychannel/{NS}/next"
        assert physical["subscriberAudience"] == next_audience
        assert physical["deadLetterSinkAudience"] == "dls-aud"
        c = await m.get(IMCS, "c")
        assert c is not None
        [entry] = c["spec"]["subscribers"]
        assert entry["subscriberAudience"] == next_audience
        assert entry["auth"] == {"serviceAccountName": account}
        assert entry["delivery"]["deadLetterSink"] == {
            "uri": "http://127.0.0.1:9/dls",
            "audience": "dls-aud",
        }
        assert await m.get("serviceaccounts", account) is not None


async def test_a_channels_event_policies_are_carried_to_its_backing_channel() -> None:
    """``authentication-oidc: enabled``: an EventPolicy that applies to a Channel gets a copy
    (senders and filters) for the backing InMemoryChannel, where the Channel's events arrive;
    the Channel lists it once Ready (``EventPoliciesReady``) and publishes the backing
    channel's audience; the policy's deletion, or the flag off, deletes the copy."""
    policies = EVENTPOLICY.resource
    policy = {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventPolicy",
        "metadata": {"name": "senders", "namespace": NS},
        "spec": {
            "to": [{"ref": {"apiVersion": V1, "kind": "Channel", "name": "ch"}}],
            "from": [{"sub": "system:serviceaccount:default:sender"}],
            "filters": [{"cesql": "type LIKE 'order.%'"}],
        },
    }

    async def names() -> list[str]:
        return sorted(o["metadata"]["name"] for o in (await m.store.list(policies, NS)).items)

    async with running() as m:
        await set_oidc(m.store)
        await m.create(CHANNELS, admit(_channel("ch")))
        ch = await m.until(CHANNELS, "ch", is_("Ready", "True"))
        assert condition(ch, "EventPoliciesReady")[1] == "DefaultAuthorizationMode"
        expected = f"messaging.knative.dev/inmemorychannel/{NS}/ch"
        assert ch["status"]["address"]["audience"] == expected
        await m.create(policies, policy)
        copy = await m.until(policies, "senders-ch", lambda o: True)
        assert copy["spec"] == {
            "to": [{"ref": {"apiVersion": V1, "kind": "InMemoryChannel", "name": "ch"}}],
            "from": [{"sub": "system:serviceaccount:default:sender"}],
            "filters": [{"cesql": "type LIKE 'order.%'"}],
        }
        assert copy["metadata"]["labels"]["messaging.knative.dev/channel-name"] == "ch"
        ch = await m.until(CHANNELS, "ch", is_("EventPoliciesReady", "False"))
        assert "senders" in condition(ch, "EventPoliciesReady")[2]
        # Ready (as the EventPolicy reconciler, not running here, would make them): the
        # backing channel's copy too, or the backing channel is not Ready
        ready = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        for name in ("senders", "senders-ch"):
            at = ResourceKey(policies, NS, name)
            current = await m.store.get(at)
            await m.store.update(
                at, dict(current, status={"conditions": [ready]}), status_only=True
            )
        key = ResourceKey(policies, NS, "senders")
        ch = await m.until(CHANNELS, "ch", is_("Ready", "True"))
        assert ch["status"]["policies"] == [
            {"apiVersion": "eventing.knative.dev/v1alpha1", "name": "senders"}
        ]
        await m.store.delete(key)
        await eventually(lambda: _equal(names(), []), TIMEOUT, "the copy outlived its policy")

        await m.create(policies, policy)
        await m.until(policies, "senders-ch", lambda o: True)
        await set_oidc(m.store, "disabled")
        await eventually(
            lambda: _equal(names(), ["senders"]), TIMEOUT, "the copy outlived the flag"
        )


async def _equal(got: Awaitable[list[str]], expected: list[str]) -> bool:
    return await got == expected


async def test_a_subscriptions_ca_certs_reach_its_channels_entry() -> None:
    """``CACerts`` of the subscriber, the reply and the dead-letter sink are resolved into
    ``status.physicalSubscription`` and the channel's entry: what its deliveries verify
    https receivers against."""
    pem = {name: certificate_authority(name).pem for name in ("sub", "reply", "dls")}
    async with running() as m:
        await m.create(IMCS, imc("c"))
        await m.create(
            SUBS,
            subscription(
                "s",
                "c",
                subscriber={"uri": "https://127.0.0.1:9/s", "CACerts": pem["sub"]},
                reply={"uri": "https://127.0.0.1:9/r", "CACerts": pem["reply"]},
                delivery={
                    "deadLetterSink": {"uri": "https://127.0.0.1:9/d", "CACerts": pem["dls"]}
                },
            ),
        )
        s = await m.until(SUBS, "s", is_("Ready", "True"))
        physical = s["status"]["physicalSubscription"]
        assert physical["subscriberCACerts"] == pem["sub"]
        assert physical["replyCACerts"] == pem["reply"]
        assert physical["deadLetterSinkCACerts"] == pem["dls"]
        c = await m.get(IMCS, "c")
        assert c is not None
        [entry] = c["spec"]["subscribers"]
        assert entry["subscriberCACerts"] == pem["sub"]
        assert entry["replyCACerts"] == pem["reply"]
        assert entry["delivery"]["deadLetterSink"] == {
            "uri": "https://127.0.0.1:9/d",
            "CACerts": pem["dls"],
        }


async def test_a_subscriptions_limits_and_its_service_subscribers_capacity_reach_its_channel() -> (
    None
):
    """kawa.dev/max-rate and max-in-flight, and what a Knative Service subscriber holds at once
    (containerConcurrency x max-scale, followed as the Service changes), ride on the channel in
    one annotation; deleting the Subscription takes it away."""
    async with running() as m:
        await m.create(IMCS, imc("c"))
        service = admit(
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": "worker", "namespace": NS},
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"autoscaling.knative.dev/max-scale": "2"}},
                        "spec": {"containerConcurrency": 1, "containers": [{"image": "x"}]},
                    }
                },
            }
        )
        service["status"] = {"address": {"url": "http://worker.default.svc.cluster.local"}}
        await m.create(SERVING_SERVICES, service)
        sub = subscription(
            "s",
            "c",
            subscriber={
                "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "worker"}
            },
        )
        sub["metadata"]["annotations"] = {limits.MAX_RATE: "20"}
        uid = (await m.create(SUBS, sub))["metadata"]["uid"]
        annotation = limits.channel_annotation(uid)

        def carries(expected: limits.Limits) -> Callable[[Obj], bool]:
            def check(channel: Obj) -> bool:
                found = (channel["metadata"].get("annotations") or {}).get(annotation)
                return found is not None and limits.decode(found) == expected

            return check

        await m.until(IMCS, "c", carries(limits.Limits(20.0, None, 2)))
        s = await m.until(SUBS, "s", is_("Ready", "True"))
        assert s["status"]["annotations"] == {limits.SUBSCRIBER_MAX_IN_FLIGHT: "2"}

        # the Service scales further: the bound follows (the Service is tracked)
        def scale_to_five(obj: Obj) -> None:
            template = obj["spec"]["template"]
            template["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] = "5"

        await m.edit(ResourceKey(SERVING_SERVICES, NS, "worker"), scale_to_five)
        await m.until(IMCS, "c", carries(limits.Limits(20.0, None, 5)))

        # the Subscription's own limits change (metadata only): the channel follows
        key = ResourceKey(SUBS, NS, "s")
        await m.edit(key, lambda o: o["metadata"].update(annotations={limits.MAX_IN_FLIGHT: "3"}))
        await m.until(IMCS, "c", carries(limits.Limits(None, 3, 5)))

        await m.store.delete(key)
        await m.until(
            IMCS, "c", lambda o: annotation not in (o["metadata"].get("annotations") or {})
        )
