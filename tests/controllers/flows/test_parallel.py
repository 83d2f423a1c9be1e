"""The Parallel reconciler on a real store: an ingress channel, a channel per branch, a filter
Subscription and a subscriber Subscription per branch, named, owned and wired as Knative's
controller makes them (with and without filters); spec changes; the status per branch;
deleting the Parallel takes every child."""

from __future__ import annotations

from typing import Any

from kawa.store.base import Obj

from ..serving.support import condition
from .support import IMCS, NS, PARALLELS, SUBS, Flows, is_, ready, running_flows, svc

IMC = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}


def parallel(name: str = "p", **spec: Any) -> Obj:
    spec.setdefault(
        "branches",
        [
            {
                "filter": svc("even-filter"),
                "subscriber": svc("even-transformer"),
                "reply": svc("even-display"),
                "delivery": {"retry": 2},
            },
            {"subscriber": svc("odd-transformer")},
        ],
    )
    return {
        "apiVersion": "flows.knative.dev/v1",
        "kind": "Parallel",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def channel(name: str, namespace: bool = False) -> dict[str, str]:
    return {**IMC, "name": name, **({"namespace": NS} if namespace else {})}


async def children(flows: Flows, branches: int) -> dict[str, Obj]:
    """The Parallel ``p``'s channels and subscriptions once all are there, by name (the
    subscriptions prefixed ``sub/``)."""
    channels = ["p-kn-parallel", *(f"p-kn-parallel-{i}" for i in range(branches))]
    subs = [
        *(f"p-kn-parallel-filter-{i}" for i in range(branches)),
        *(f"p-kn-parallel-{i}" for i in range(branches)),
    ]
    await flows.until_names(IMCS, channels)
    await flows.until_names(SUBS, subs)
    out: dict[str, Obj] = {}
    for name in channels:
        found = await flows.get(IMCS, name)
        assert found is not None
        out[name] = found
    for name in subs:
        found = await flows.get(SUBS, name)
        assert found is not None
        out[f"sub/{name}"] = found
    return out


async def test_two_branches_with_and_without_a_filter() -> None:
    async with running_flows() as flows:
        par = await flows.create(PARALLELS, parallel(reply=svc("default-reply")))
        made = await children(flows, 2)
        for obj in made.values():
            (owner,) = obj["metadata"]["ownerReferences"]
            assert owner["uid"] == par["metadata"]["uid"]
            assert (owner["kind"], owner["name"], owner["controller"]) == ("Parallel", "p", True)

        # filters read the ingress channel and reply to their branch channel
        f0 = made["sub/p-kn-parallel-filter-0"]["spec"]
        assert f0["channel"] == channel("p-kn-parallel", True)
        assert f0["subscriber"] == svc("even-filter")
        assert f0["reply"] == {"ref": channel("p-kn-parallel-0", True)}
        assert "delivery" not in f0
        # no filter: the filter subscription has no subscriber (every event passes)
        f1 = made["sub/p-kn-parallel-filter-1"]["spec"]
        assert f1["channel"] == channel("p-kn-parallel", True)
        assert "subscriber" not in f1
        assert f1["reply"] == {"ref": channel("p-kn-parallel-1", True)}

        # subscribers read their branch channel; reply: the branch's, else spec.reply
        s0 = made["sub/p-kn-parallel-0"]["spec"]
        assert s0["channel"] == channel("p-kn-parallel-0", True)
        assert s0["subscriber"] == svc("even-transformer")
        assert s0["reply"] == svc("even-display")
        assert s0["delivery"] == {"retry": 2}
        s1 = made["sub/p-kn-parallel-1"]["spec"]
        assert s1["channel"] == channel("p-kn-parallel-1", True)
        assert s1["subscriber"] == svc("odd-transformer")
        assert s1["reply"] == svc("default-reply")
        assert "delivery" not in s1


async def test_without_any_reply_a_branch_replies_nowhere() -> None:
    async with running_flows() as flows:
        await flows.create(PARALLELS, parallel(branches=[{"subscriber": svc("only")}]))
        made = await children(flows, 1)
        assert "reply" not in made["sub/p-kn-parallel-0"]["spec"]


async def test_the_status_follows_the_children() -> None:
    async with running_flows() as flows:
        await flows.create(PARALLELS, parallel())
        await children(flows, 2)
        p = await flows.until(PARALLELS, "p", is_("ChannelsReady", "False"))
        status, reason, message = condition(p, "ChannelsReady")
        assert reason == "ChannelsNotReady"
        assert 'InMemoryChannel "p-kn-parallel": NotAddressable' in message
        assert condition(p, "Addressable")[:2] == ("False", "emptyAddress")
        assert p["status"]["ingressChannelStatus"]["channel"] == channel("p-kn-parallel", True)

        for name in ("p-kn-parallel", "p-kn-parallel-0", "p-kn-parallel-1"):
            url = f"http://127.0.0.1:8080/channels/{NS}/{name}"
            await flows.set_status(IMCS, name, {"address": {"url": url}, "conditions": [ready()]})
        p = await flows.until(PARALLELS, "p", is_("ChannelsReady", "True"))
        assert p["status"]["address"] == {
            "url": f"http://127.0.0.1:8080/channels/{NS}/p-kn-parallel"
        }
        assert condition(p, "Addressable")[0] == "True"
        branch = p["status"]["branchStatuses"][1]
        assert branch["filterChannelStatus"]["channel"] == channel("p-kn-parallel-1", True)
        assert branch["filterChannelStatus"]["ready"]["status"] == "True"

        for name in ("p-kn-parallel-0", "p-kn-parallel-1", "p-kn-parallel-filter-1"):
            await flows.set_status(SUBS, name, {"conditions": [ready()]})
        # a filter that is not addressable: its subscription says so, and so does the Parallel
        unresolved = ready(
            "False",
            "SubscriberResolveFailed",
            'Failed to resolve spec.subscriber: Service "even-filter" does not exist',
        )
        await flows.set_status(SUBS, "p-kn-parallel-filter-0", {"conditions": [unresolved]})
        p = await flows.until(
            PARALLELS,
            "p",
            lambda o: "SubscriberResolveFailed" in condition(o, "SubscriptionsReady")[2],
        )
        status, reason, message = condition(p, "Ready")
        assert (status, reason) == ("False", "SubscriptionsNotReady")
        assert 'Subscription "p-kn-parallel-filter-0": SubscriberResolveFailed' in message
        assert "even-filter" in message
        branch = p["status"]["branchStatuses"][0]
        assert branch["filterSubscriptionStatus"]["ready"] == unresolved
        assert branch["subscriberSubscriptionStatus"]["subscription"]["name"] == "p-kn-parallel-0"

        await flows.set_status(SUBS, "p-kn-parallel-filter-0", {"conditions": [ready()]})
        p = await flows.until(PARALLELS, "p", is_("Ready", "True"))
        assert len(p["status"]["branchStatuses"]) == 2


async def test_spec_changes_update_and_delete_the_children() -> None:
    async with running_flows() as flows:
        await flows.create(PARALLELS, parallel())
        await children(flows, 2)

        # branch 1 gets a filter, branch 0 loses its reply: updated in place
        branches: list[dict[str, Any]] = [
            {"filter": svc("even-filter"), "subscriber": svc("even-transformer")},
            {"filter": {"uri": "http://example.com/odd"}, "subscriber": svc("odd-transformer")},
        ]
        await flows.change_spec(PARALLELS, "p", branches=branches)
        await flows.until(
            SUBS,
            "p-kn-parallel-filter-1",
            lambda o: o["spec"].get("subscriber") == {"uri": "http://example.com/odd"},
        )
        await flows.until(SUBS, "p-kn-parallel-0", lambda o: "reply" not in o["spec"])

        # branch 1 removed: its channel and both subscriptions go
        await flows.change_spec(PARALLELS, "p", branches=branches[:1])
        made = await children(flows, 1)
        assert made["sub/p-kn-parallel-filter-0"]["spec"]["subscriber"] == svc("even-filter")
        p = await flows.until(
            PARALLELS, "p", lambda o: len(o["status"].get("branchStatuses") or []) == 1
        )
        assert p["status"]["observedGeneration"] == p["metadata"]["generation"]


async def test_deleting_the_parallel_removes_every_child() -> None:
    async with running_flows() as flows:
        await flows.create(PARALLELS, parallel())
        await children(flows, 2)
        await flows.delete(PARALLELS, "p")
        await flows.until_names(IMCS, [])
        await flows.until_names(SUBS, [])
