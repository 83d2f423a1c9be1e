"""Brokers and Triggers track what they resolve (Knative's tracker): a Trigger created before
its subscriber (a Knative Service), its dead-letter sink or its Broker becomes Ready within
a second of them, and a Broker whose dead-letter sink is another Broker created later
resolves it as promptly. The controllers run on a real SQLite store with the periodic resync
off, so every reconcile here comes from a watch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from kawa.apis import serving
from kawa.apis.conditions import system_clock
from kawa.apis.registry import BROKER, TRIGGER
from kawa.controllers.eventing import BrokerReconciler, TriggerReconciler
from kawa.errors import NotFoundError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, own
from kawa.reconciler.status import StatusReconciler
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..oidc_support import set_oidc
from ..waiting import eventually
from .serving.support import admit, condition

NS = "default"
BASE = "http://127.0.0.1:8080"
PROMPT = 1.0
"""Seconds within which a dependency's change is reflected (the resync would take 10)."""
DISPLAY_URL = "http://127.0.0.1:8080/serving/default/display"


def ksvc(name: str) -> Obj:
    return admit(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"spec": {"containers": [{"image": "busybox"}]}}},
        }
    )


def broker(name: str, **spec: Any) -> Obj:
    return admit(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }
    )


def ref(kind: str, name: str) -> dict[str, Any]:
    api = "serving.knative.dev/v1" if kind == "Service" else "eventing.knative.dev/v1"
    return {"ref": {"apiVersion": api, "kind": kind, "name": name}}


def trigger(name: str, **spec: Any) -> Obj:
    return admit(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"broker": "default", **spec},
        }
    )


class Eventing:
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Obj) -> Obj:
        return await self.store.create(ResourceKey(resource, NS, obj["metadata"]["name"]), obj)

    async def get(self, resource: str, name: str) -> Obj | None:
        try:
            return await self.store.get(ResourceKey(resource, NS, name))
        except NotFoundError:
            return None

    async def until(
        self, resource: str, name: str, check: Callable[[Obj], bool], timeout: float = PROMPT
    ) -> None:
        """Wait until ``check`` holds for the object (fails after ``timeout``)."""

        async def probe() -> Obj | None:
            obj = await self.get(resource, name)
            return obj if obj is not None and check(obj) else None

        await eventually(probe, timeout, f"{resource} {name}: not within {timeout}s")


def is_(type_: str, status: str) -> Callable[[Obj], bool]:
    return lambda obj: condition(obj, type_)[0] == status


@contextlib.asynccontextmanager
async def running_eventing() -> AsyncIterator[tuple[Eventing, list[StatusReconciler[Any]]]]:
    store = SqliteResourceStore(":memory:")
    recorder = EventRecorder(store, "eventing-controller")
    brokers = BrokerReconciler(store, BASE, system_clock, recorder)
    triggers = TriggerReconciler(store, system_clock, recorder)
    controllers = [
        Controller(name, store, r.reconcile, [own(kind.resource)], tracker=r.tracker, resync=None)
        for name, r, kind in (("broker", brokers, BROKER), ("trigger", triggers, TRIGGER))
    ]
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    try:
        yield Eventing(store), [brokers, triggers]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()


async def test_a_trigger_is_ready_as_soon_as_what_it_resolves_is() -> None:
    async with running_eventing() as (eventing, (_, triggers)):
        await eventing.create(
            TRIGGER.resource,
            trigger(
                "t",
                subscriber=ref("Service", "display"),
                delivery={"deadLetterSink": ref("Broker", "dead-letters")},
            ),
        )
        await eventing.until(TRIGGER.resource, "t", is_("SubscriberResolved", "False"))
        t = await eventing.get(TRIGGER.resource, "t")
        assert t is not None
        assert condition(t, "SubscriberResolved")[2].startswith("NotFound"), t["status"]
        assert condition(t, "BrokerReady")[0] == "False", t["status"]

        # the Broker, created later
        await eventing.create(BROKER.resource, broker("default"))
        await eventing.until(TRIGGER.resource, "t", is_("BrokerReady", "True"))

        # the Service exists but has no address yet, then gets one
        svc = await eventing.create(serving.SERVICE.resource, ksvc("display"))
        await eventing.until(
            TRIGGER.resource,
            "t",
            lambda o: "NotAddressable" in condition(o, "SubscriberResolved")[2],
        )
        await eventing.store.update(
            ResourceKey(serving.SERVICE.resource, NS, "display"),
            dict(svc, status={"address": {"url": DISPLAY_URL}}),
            status_only=True,
        )
        await eventing.until(TRIGGER.resource, "t", is_("SubscriberResolved", "True"))
        t = await eventing.get(TRIGGER.resource, "t")
        assert t is not None
        assert t["status"]["subscriberUri"] == DISPLAY_URL
        assert condition(t, "Ready")[0] == "False"  # the dead-letter sink is still missing

        # the dead-letter sink, another Broker, created last
        await eventing.create(BROKER.resource, broker("dead-letters"))
        await eventing.until(TRIGGER.resource, "t", is_("Ready", "True"))
        t = await eventing.get(TRIGGER.resource, "t")
        assert t is not None
        assert t["status"]["deadLetterSinkUri"] == f"{BASE}/brokers/{NS}/dead-letters"

        # its Broker deleted: not Ready at once
        await eventing.store.delete(ResourceKey(BROKER.resource, NS, "default"))
        await eventing.until(TRIGGER.resource, "t", is_("BrokerReady", "False"))

        # a subscriber that is a plain URI tracks no Service any more
        key = ResourceKey(TRIGGER.resource, NS, "t")
        current = await eventing.store.get(key)
        spec = dict(current["spec"], subscriber={"uri": "http://127.0.0.1:9/"})
        await eventing.store.update(key, dict(current, spec=spec))
        await eventing.until(
            TRIGGER.resource,
            "t",
            lambda o: o["status"].get("subscriberUri") == spec["subscriber"]["uri"],
        )
        assert ResourceKey(serving.SERVICE.resource, NS, "display") not in (
            triggers.tracker.references(key)
        )


async def test_a_broker_resolves_a_dead_letter_broker_created_later() -> None:
    async with running_eventing() as (eventing, _):
        await eventing.create(
            BROKER.resource, broker("b", delivery={"deadLetterSink": ref("Broker", "later")})
        )
        await eventing.until(BROKER.resource, "b", is_("DeadLetterSinkResolved", "False"))
        await eventing.create(BROKER.resource, broker("later"))
        await eventing.until(BROKER.resource, "b", is_("Ready", "True"))


async def test_a_broker_whose_config_names_a_missing_configmap_says_so() -> None:
    """Knative's channel-based broker reads its channel template from the ConfigMap
    ``spec.config`` names: missing, the Broker is not Ready and says which one; created
    later, the Broker becomes Ready at once. The ConfigMaps Knative installs exist."""
    from kawa.apis import core
    from kawa.controllers.eventing import EVENTING_NAMESPACE, ensure_broker_configs

    config = {"apiVersion": "v1", "kind": "ConfigMap", "name": "my-broker-config"}
    async with running_eventing() as (eventing, _):
        await eventing.create(BROKER.resource, broker("b", config=config))
        await eventing.until(BROKER.resource, "b", is_("Ready", "False"))
        b = await eventing.get(BROKER.resource, "b")
        assert b is not None
        status, reason, message = condition(b, "TriggerChannelReady")
        assert (status, reason) == ("False", "ChannelTemplateFailed"), b["status"]
        assert 'configmap "my-broker-config" not found in namespace "default"' in message
        assert condition(b, "Ready")[2] == message

        await eventing.create(
            core.CONFIG_MAP.resource,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "my-broker-config", "namespace": NS},
            },
        )
        await eventing.until(BROKER.resource, "b", is_("Ready", "True"))

        # Knative's documented config (config-br-default-channel in knative-eventing) exists
        await ensure_broker_configs(eventing.store)
        documented = dict(config, name="config-br-default-channel", namespace=EVENTING_NAMESPACE)
        await eventing.create(BROKER.resource, broker("documented", config=documented))
        await eventing.until(BROKER.resource, "documented", is_("Ready", "True"))
        kafka = dict(config, name="kafka-broker-config", namespace=EVENTING_NAMESPACE)
        await eventing.create(BROKER.resource, broker("kafka", config=kafka))
        await eventing.until(BROKER.resource, "kafka", is_("Ready", "True"))
        # other kinds of config are not kawa's to check
        rabbit = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "name": "r"}
        await eventing.create(BROKER.resource, broker("rabbit", config=rabbit))
        await eventing.until(BROKER.resource, "rabbit", is_("Ready", "True"))


async def test_a_brokers_audience_follows_the_authentication_oidc_flag_live() -> None:
    """With ``authentication-oidc: enabled`` in ``knative-eventing/config-features`` a Broker
    publishes ``status.address.audience`` (Knative's ``<group>/<kind>/<ns>/<name>``); turned
    off again, the audience goes; the URL stays all along."""
    from kawa.apis import core
    from kawa.controllers.eventing import ensure_broker_configs
    from kawa.reconciler.features import FEATURES_KEY

    def address(obj: Obj) -> dict[str, Any]:
        return dict(obj.get("status", {}).get("address") or {})

    async with running_eventing() as (eventing, _):
        await ensure_broker_configs(eventing.store)  # created with Knative's defaults
        flags = await eventing.store.get(FEATURES_KEY)
        assert flags["data"]["authentication-oidc"] == "disabled"
        await eventing.create(BROKER.resource, broker("b"))
        await eventing.until(BROKER.resource, "b", is_("Ready", "True"))
        b = await eventing.get(BROKER.resource, "b")
        assert b is not None
        assert "audience" not in address(b), b["status"]
        url = address(b)["url"]

        await set_oidc(eventing.store)
        expected = f"eventing.knative.dev/broker/{NS}/b"
        await eventing.until(BROKER.resource, "b", lambda o: address(o).get("audience") == expected)
        b = await eventing.get(BROKER.resource, "b")
        assert b is not None
        assert address(b)["url"] == url
        await set_oidc(eventing.store, "disabled")
        await eventing.until(BROKER.resource, "b", lambda o: "audience" not in address(o))
        assert core.CONFIG_MAP.resource == FEATURES_KEY.resource


async def test_a_triggers_subscriber_and_dead_letter_audiences_come_from_what_they_name() -> None:
    """A Trigger resolves the audience with the URL: ``status.subscriberAudience`` and
    ``status.deadLetterSinkAudience`` are the audiences their refs publish (a Broker's, with
    authentication-oidc enabled), or a Destination's own ``audience``; none without."""
    from kawa.controllers.eventing import ensure_broker_configs

    async with running_eventing() as (eventing, _):
        await ensure_broker_configs(eventing.store)
        await set_oidc(eventing.store)
        await eventing.create(BROKER.resource, broker("default"))
        await eventing.create(BROKER.resource, broker("target"))
        await eventing.create(
            TRIGGER.resource,
            trigger(
                "t",
                subscriber=ref("Broker", "target"),
                delivery={"deadLetterSink": {"uri": "http://dls.example/", "audience": "dls-aud"}},
            ),
        )
        await eventing.until(TRIGGER.resource, "t", is_("Ready", "True"))
        t = await eventing.get(TRIGGER.resource, "t")
        assert t is not None
        assert t["status"]["subscriberAudience"] == f"eventing.knative.dev/broker/{NS}/target"
        assert t["status"]["deadLetterSinkAudience"] == "dls-aud"
        assert t["status"]["deadLetterSinkUri"] == "http://dls.example/"
        # its deliveries' identity: a ServiceAccount of its own, owned by it (Knative's name)
        account = "t-oidc-eventing.knative.dev-trigger"
        assert t["status"]["auth"] == {"serviceAccountName": account}
        assert condition(t, "OIDCIdentityCreated")[0] == "True"
        sa = await eventing.store.get(ResourceKey("serviceaccounts", NS, account))
        [owner] = sa["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Trigger",
            "t",
            t["metadata"]["uid"],
        )

        # a plain URL names no audience
        await eventing.create(TRIGGER.resource, trigger("plain", subscriber={"uri": "http://x/"}))
        await eventing.until(TRIGGER.resource, "plain", is_("Ready", "True"))
        plain = await eventing.get(TRIGGER.resource, "plain")
        assert plain is not None
        assert "subscriberAudience" not in plain["status"]

        # authentication-oidc off again: no identity, the condition says why
        await set_oidc(eventing.store, "disabled")
        await eventing.until(TRIGGER.resource, "plain", lambda o: "auth" not in o["status"])
        plain = await eventing.get(TRIGGER.resource, "plain")
        assert plain is not None
        assert condition(plain, "OIDCIdentityCreated")[:2] == (
            "True",
            "authentication-oidc feature disabled",
        )


async def test_a_service_account_of_the_name_that_is_not_the_triggers_is_not_adopted() -> None:
    """As Knative: a ServiceAccount named as the Trigger's identity but not controlled by it
    (a user's) is left alone, and OIDCIdentityCreated says so."""
    from kawa.controllers.eventing import ensure_broker_configs

    async with running_eventing() as (eventing, _):
        await ensure_broker_configs(eventing.store)
        await set_oidc(eventing.store)
        account = "t-oidc-eventing.knative.dev-trigger"
        await eventing.store.create(
            ResourceKey("serviceaccounts", NS, account),
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
        )
        await eventing.create(BROKER.resource, broker("default"))
        await eventing.create(TRIGGER.resource, trigger("t", subscriber={"uri": "http://x/"}))
        await eventing.until(TRIGGER.resource, "t", is_("OIDCIdentityCreated", "False"))
        t = await eventing.get(TRIGGER.resource, "t")
        assert t is not None
        assert (
            f"service account {account} not owned by Trigger t"
            in condition(t, "OIDCIdentityCreated")[2]
        )
        assert "auth" not in t["status"]
        assert condition(t, "Ready")[0] == "False"
