"""EventPolicies reconciled on a real SQLite store, with the Broker, Trigger and
InMemoryChannel controllers wired as kawa runs them (every change within a resync period
comes from a watch or the tracker): a policy's conditions and resolved subjects follow
authentication-oidc and the Triggers it names; Brokers and channels list the Ready policies
that apply to them and are not Ready while one is not."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from kawa.apis import messaging
from kawa.apis.eventing import EVENTPOLICY
from kawa.apis.registry import BROKER, TRIGGER
from kawa.controllers.eventing import ensure_broker_configs, eventing_controllers
from kawa.controllers.messaging import messaging_controllers
from kawa.errors import NotFoundError
from kawa.reconciler.features import FEATURES_KEY
from kawa.store.base import Obj, ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from ..waiting import eventually
from .serving.support import admit, condition

NS = "default"
BASE = "http://127.0.0.1:8080"
PROMPT = 2.0
V1ALPHA1 = "eventing.knative.dev/v1alpha1"
TRIGGER_SA = "t-oidc-eventing.knative.dev-trigger"


def policy(name: str, **spec: Any) -> Obj:
    return admit(
        {
            "apiVersion": V1ALPHA1,
            "kind": "EventPolicy",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }
    )


def broker(name: str, labels: dict[str, str] | None = None) -> Obj:
    return admit(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        }
    )


def channel(name: str, labels: dict[str, str] | None = None) -> Obj:
    return admit(
        {
            "apiVersion": "messaging.knative.dev/v1",
            "kind": "InMemoryChannel",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        }
    )


def trigger(name: str) -> Obj:
    return admit(
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Trigger",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"broker": "default", "subscriber": {"uri": "http://127.0.0.1:9/"}},
        }
    )


TRIGGER_REF = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger", "name": "t"}}


class World:
    def __init__(self, store: SqliteResourceStore) -> None:
        self.store = store

    async def create(self, resource: str, obj: Obj) -> Obj:
        return await self.store.create(ResourceKey(resource, NS, obj["metadata"]["name"]), obj)

    async def delete(self, resource: str, name: str) -> None:
        await self.store.delete(ResourceKey(resource, NS, name))

    async def get(self, resource: str, name: str) -> Obj | None:
        try:
            return await self.store.get(ResourceKey(resource, NS, name))
        except NotFoundError:
            return None

    async def until(self, resource: str, name: str, check: Callable[[Obj], bool]) -> Obj:
        async def probe() -> Obj | None:
            obj = await self.get(resource, name)
            return obj if obj is not None and check(obj) else None

        return await eventually(probe, PROMPT, f"{resource} {name}: not within {PROMPT}s")

    async def set_flags(self, **flags: str) -> None:
        current = await self.store.get(FEATURES_KEY)
        await self.store.update(FEATURES_KEY, dict(current, data=dict(current["data"], **flags)))

    async def oidc(self, value: str = "enabled") -> None:
        await self.set_flags(**{"authentication-oidc": value})


def is_(type_: str, status: str, reason: str | None = None) -> Callable[[Obj], bool]:
    def check(obj: Obj) -> bool:
        found = condition(obj, type_)
        return found[0] == status and (reason is None or found[1] == reason)

    return check


def policies(obj: Obj) -> list[str]:
    return [p["name"] for p in obj.get("status", {}).get("policies") or []]


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[World]:
    """The eventing and messaging controllers as kawa runs them (their resync is 10s, longer
    than any wait here: what changes, changes through watches and the tracker)."""
    store = SqliteResourceStore(":memory:")
    await ensure_broker_configs(store)  # config-features with Knative's defaults
    controllers = [
        *eventing_controllers(store, ingress_base_url=BASE),
        *messaging_controllers(store, ingress_base_url=BASE),
    ]
    assert "eventpolicy" in [c.name for c in controllers]
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    try:
        yield World(store)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await store.close()


async def test_with_oidc_off_a_policy_is_not_ready_and_receivers_ignore_it() -> None:
    async with running() as world:
        await world.create(EVENTPOLICY.resource, policy("p", **{"from": [{"sub": "x"}]}))
        p = await world.until(EVENTPOLICY.resource, "p", is_("Ready", "False"))
        assert condition(p, "AuthenticationEnabled")[:2] == ("False", "AuthOIDCFeatureNotEnabled")
        assert "authentication-oidc" in condition(p, "AuthenticationEnabled")[2]
        assert "from" not in p["status"]
        assert p["status"]["observedGeneration"] == 1
        await world.create(BROKER.resource, broker("b"))
        b = await world.until(BROKER.resource, "b", is_("Ready", "True"))
        assert condition(b, "EventPoliciesReady")[:2] == ("True", "OIDCDisabled")
        assert "policies" not in b["status"]


async def test_subjects_resolve_once_the_referenced_trigger_has_an_identity() -> None:
    """A ``from.ref`` to a Trigger that does not exist yet: SubjectsResolved False naming it,
    and the Broker the policy applies to is not Ready; the Trigger created (and given its
    OIDC identity), the policy resolves its subject at once and the Broker turns Ready."""
    async with running() as world:
        await world.oidc()
        await world.create(BROKER.resource, broker("default"))
        await world.until(BROKER.resource, "default", is_("EventPoliciesReady", "True"))
        await world.create(
            EVENTPOLICY.resource,
            policy("p", **{"from": [TRIGGER_REF, {"sub": "system:serviceaccount:other:*"}]}),
        )
        p = await world.until(EVENTPOLICY.resource, "p", is_("SubjectsResolved", "False"))
        assert condition(p, "SubjectsResolved")[1:] == (
            "SubjectsNotResolved",
            "from[0].ref: Trigger default/t does not exist",
        )
        assert condition(p, "AuthenticationEnabled")[0] == "True"
        b = await world.until(BROKER.resource, "default", is_("EventPoliciesReady", "False"))
        assert condition(b, "EventPoliciesReady")[1:] == (
            "EventPoliciesNotReady",
            "event policies p are not ready",
        )
        assert condition(b, "Ready")[0] == "False"
        assert policies(b) == []

        await world.create(TRIGGER.resource, trigger("t"))
        p = await world.until(EVENTPOLICY.resource, "p", is_("Ready", "True"))
        assert p["status"]["from"] == [
            f"system:serviceaccount:default:{TRIGGER_SA}",
            "system:serviceaccount:other:*",
        ]
        b = await world.until(BROKER.resource, "default", is_("Ready", "True"))
        assert condition(b, "EventPoliciesReady")[:2] == ("True", "")
        assert b["status"]["policies"] == [{"apiVersion": V1ALPHA1, "name": "p"}]

        # the Trigger gone: the policy cannot resolve it any more, the Broker says so
        await world.delete(TRIGGER.resource, "t")
        await world.until(EVENTPOLICY.resource, "p", is_("SubjectsResolved", "False"))
        await world.until(BROKER.resource, "default", is_("Ready", "False"))


async def test_a_ref_without_identity_or_of_an_unknown_kind_is_named() -> None:
    async with running() as world:
        await world.create(TRIGGER.resource, trigger("t"))  # OIDC off: no identity
        await world.create(
            EVENTPOLICY.resource,
            policy(
                "p",
                **{
                    "from": [
                        TRIGGER_REF,
                        {"ref": {"apiVersion": "example.com/v1", "kind": "Gadget", "name": "g"}},
                    ]
                },
            ),
        )
        await world.oidc()
        p = await world.until(EVENTPOLICY.resource, "p", is_("SubjectsResolved", "False"))
        message = condition(p, "SubjectsResolved")[2]
        assert "from[1].ref: Gadget default/g: unknown kind 'Gadget'" in message
        # the Trigger gets its identity now that OIDC is on, and the policy follows
        await world.until(TRIGGER.resource, "t", lambda o: "auth" in o.get("status", {}))


async def test_policies_apply_by_ref_and_selector_and_the_default_mode_is_named() -> None:
    async with running() as world:
        await world.set_flags(
            **{"authentication-oidc": "enabled", "default-authorization-mode": "deny-all"}
        )
        await world.create(BROKER.resource, broker("a"))
        await world.create(BROKER.resource, broker("b"))
        await world.create(messaging.INMEMORYCHANNEL.resource, channel("gold", {"tier": "gold"}))
        await world.create(messaging.INMEMORYCHANNEL.resource, channel("plain"))
        await world.create(
            EVENTPOLICY.resource,
            policy(
                "to-a",
                to=[
                    {
                        "ref": {
                            "apiVersion": "eventing.knative.dev/v1",
                            "kind": "Broker",
                            "name": "a",
                        }
                    }
                ],
                **{"from": [{"sub": "s"}]},
            ),
        )
        await world.create(
            EVENTPOLICY.resource,
            policy(
                "gold",
                to=[
                    {
                        "selector": {
                            "apiVersion": "messaging.knative.dev/v1",
                            "kind": "InMemoryChannel",
                            "matchLabels": {"tier": "gold"},
                        }
                    }
                ],
                **{"from": [{"sub": "s"}]},
            ),
        )
        a = await world.until(BROKER.resource, "a", lambda o: policies(o) == ["to-a"])
        assert condition(a, "Ready")[0] == "True"
        gold = await world.until(
            messaging.INMEMORYCHANNEL.resource, "gold", lambda o: policies(o) == ["gold"]
        )
        assert condition(gold, "Ready")[0] == "True"
        for resource, name in (
            (BROKER.resource, "b"),
            (messaging.INMEMORYCHANNEL.resource, "plain"),
        ):
            other = await world.until(
                resource, name, is_("EventPoliciesReady", "True", "DefaultAuthorizationMode")
            )
            assert condition(other, "EventPoliciesReady")[2] == 'Default authz mode is "deny-all"'
            assert policies(other) == []

        # a policy deleted: its receiver falls back to the default mode
        await world.delete(EVENTPOLICY.resource, "to-a")
        a = await world.until(
            BROKER.resource, "a", is_("EventPoliciesReady", "True", "DefaultAuthorizationMode")
        )
        assert policies(a) == []


async def test_a_channel_is_not_ready_while_a_policy_applying_to_it_is_not() -> None:
    async with running() as world:
        await world.oidc()
        await world.create(messaging.INMEMORYCHANNEL.resource, channel("c"))
        await world.until(messaging.INMEMORYCHANNEL.resource, "c", is_("Ready", "True"))
        await world.create(EVENTPOLICY.resource, policy("p", **{"from": [TRIGGER_REF]}))
        c = await world.until(messaging.INMEMORYCHANNEL.resource, "c", is_("Ready", "False"))
        assert condition(c, "Ready")[1:] == (
            "EventPoliciesNotReady",
            "event policies p are not ready",
        )
        # the flag turned off: policies are not enforced, the channel is Ready again
        await world.oidc("disabled")
        c = await world.until(messaging.INMEMORYCHANNEL.resource, "c", is_("Ready", "True"))
        assert condition(c, "EventPoliciesReady")[1] == "OIDCDisabled"
        await world.until(EVENTPOLICY.resource, "p", is_("AuthenticationEnabled", "False"))
