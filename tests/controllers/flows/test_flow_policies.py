"""A flow's EventPolicies with authentication-oidc on (Knative's Sequence and Parallel
reconcilers): each inner channel gets a policy allowing only the Subscription that posts to
it; each EventPolicy applying to the flow is carried, senders and filters, to the channel
behind the flow's address; the flow lists its own Ready policies (``EventPoliciesReady``);
deleting a policy or turning the flag off deletes what was derived from it. The
EventPolicy reconciler is not running here: tests write a policy's Ready themselves."""

from __future__ import annotations

from typing import Any

from kawa.apis.eventing import EVENTPOLICY
from kawa.store.base import Obj, ResourceKey

from ...oidc_support import set_oidc
from ..serving.support import condition
from .support import IMCS, NS, PARALLELS, SEQUENCES, Flows, is_, running_flows, svc
from .test_parallel import parallel
from .test_sequence import sequence

POLICIES = EVENTPOLICY.resource
IMC = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}
SENDER = "system:serviceaccount:default:sender"


def user_policy(name: str, kind: str, target: str) -> Obj:
    return {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "EventPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "to": [{"ref": {"apiVersion": "flows.knative.dev/v1", "kind": kind, "name": target}}],
            "from": [{"sub": SENDER}],
            "filters": [{"prefix": {"type": "order."}}],
        },
    }


def from_subscription(name: str) -> list[dict[str, Any]]:
    ref = {"apiVersion": "messaging.knative.dev/v1", "kind": "Subscription", "name": name}
    return [{"ref": {**ref, "namespace": NS}}]


def to_channel(name: str) -> list[dict[str, Any]]:
    return [{"ref": {**IMC, "name": name}}]


def policy_names(obj: Obj) -> list[str]:
    return [p["name"] for p in obj.get("status", {}).get("policies", [])]


async def derived(flows: Flows, names: list[str]) -> dict[str, Obj]:
    await flows.until_names(POLICIES, names)
    found = {n: await flows.get(POLICIES, n) for n in names}
    return {n: o for n, o in found.items() if o is not None}


async def test_a_sequence_carries_its_policies_to_its_channels() -> None:
    async with running_flows() as flows:
        await set_oidc(flows.store)
        seq = await flows.create(SEQUENCES, sequence())
        made = await derived(flows, ["s-ep-s-kn-sequence-1", "s-ep-s-kn-sequence-2"])
        for i in (1, 2):
            spec = made[f"s-ep-s-kn-sequence-{i}"]["spec"]
            assert spec["to"] == to_channel(f"s-kn-sequence-{i}")
            assert spec["from"] == from_subscription(f"s-kn-sequence-{i - 1}")
            owner = made[f"s-ep-s-kn-sequence-{i}"]["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["uid"], owner["controller"]) == (
                "Sequence",
                seq["metadata"]["uid"],
                True,
            )
        s = await flows.until(SEQUENCES, "s", is_("EventPoliciesReady", "True"))
        assert condition(s, "EventPoliciesReady")[1] == "DefaultAuthorizationMode"
        # the flow's address carries its first channel's audience, which senders need
        audience = f"messaging.knative.dev/inmemorychannel/{NS}/s-kn-sequence-0"
        await flows.set_status(
            IMCS,
            "s-kn-sequence-0",
            {
                "address": {
                    "url": "http://127.0.0.1:8080/channels/default/s-kn-sequence-0",
                    "audience": audience,
                }
            },
        )
        s = await flows.until(SEQUENCES, "s", lambda o: "address" in o.get("status", {}))
        assert s["status"]["address"]["audience"] == audience

        # a policy on the Sequence: copied, senders and filters, to its first channel
        await flows.create(POLICIES, user_policy("senders", "Sequence", "s"))
        made = await derived(
            flows, ["s-ep-s-kn-sequence-1", "s-ep-s-kn-sequence-2", "s-ep-senders", "senders"]
        )
        copy = made["s-ep-senders"]
        assert copy["spec"]["to"] == to_channel("s-kn-sequence-0")
        assert copy["spec"]["from"] == [{"sub": SENDER}]
        assert copy["spec"]["filters"] == [{"prefix": {"type": "order."}}]
        owners = [(o["kind"], o["name"]) for o in copy["metadata"]["ownerReferences"]]
        assert owners == [("Sequence", "s")]
        assert copy["metadata"]["labels"]["flows.knative.dev/sequence-name"] == "s"
        # not Ready yet: the Sequence is not Ready either, and says which
        s = await flows.until(SEQUENCES, "s", is_("EventPoliciesReady", "False"))
        assert "senders" in condition(s, "EventPoliciesReady")[2]
        await flows.set_status(POLICIES, "senders", {"conditions": [_ready()]})
        s = await flows.until(SEQUENCES, "s", is_("EventPoliciesReady", "True"))
        assert policy_names(s) == ["senders"]

        # the policy changes: so does its copy; it goes: so does its copy
        key = ResourceKey(POLICIES, NS, "senders")
        current = await flows.store.get(key)
        spec = dict(current["spec"], filters=[{"exact": {"type": "order.created"}}])
        await flows.store.update(key, dict(current, spec=spec))
        await flows.until(
            POLICIES,
            "s-ep-senders",
            lambda o: o["spec"].get("filters") == [{"exact": {"type": "order.created"}}],
        )
        await flows.delete(POLICIES, "senders")
        await flows.until_names(POLICIES, ["s-ep-s-kn-sequence-1", "s-ep-s-kn-sequence-2"])

        # authentication-oidc off: nothing is derived, and nothing is enforced
        await set_oidc(flows.store, "disabled")
        await flows.until_names(POLICIES, [])
        s = await flows.until(
            SEQUENCES, "s", lambda o: condition(o, "EventPoliciesReady")[1] == "OIDCDisabled"
        )
        assert condition(s, "EventPoliciesReady")[0] == "True"


async def test_a_parallel_allows_each_filter_into_its_branch() -> None:
    async with running_flows() as flows:
        await set_oidc(flows.store)
        await flows.create(POLICIES, user_policy("senders", "Parallel", "p"))
        await flows.create(PARALLELS, parallel())
        made = await derived(
            flows, ["p-ep-p-kn-parallel-0", "p-ep-p-kn-parallel-1", "p-ep-senders", "senders"]
        )
        for i in (0, 1):
            spec = made[f"p-ep-p-kn-parallel-{i}"]["spec"]
            assert spec["to"] == to_channel(f"p-kn-parallel-{i}")
            assert spec["from"] == from_subscription(f"p-kn-parallel-filter-{i}")
        assert made["p-ep-senders"]["spec"]["to"] == to_channel("p-kn-parallel")
        assert made["p-ep-senders"]["metadata"]["labels"] == {
            "flows.knative.dev/parallel-name": "p"
        }
        # a policy for another flow is not carried here
        await flows.create(POLICIES, user_policy("others", "Parallel", "q"))
        await flows.create(PARALLELS, parallel("q", branches=[{"subscriber": svc("x")}]))
        await flows.until_names(
            POLICIES,
            [
                "p-ep-p-kn-parallel-0",
                "p-ep-p-kn-parallel-1",
                "p-ep-senders",
                "senders",
                "q-ep-q-kn-parallel-0",
                "q-ep-others",
                "others",
            ],
        )
        # deleting the Parallel leaves its policies to the garbage collector
        await flows.delete(PARALLELS, "p")
        await flows.until_names(
            POLICIES, ["q-ep-q-kn-parallel-0", "q-ep-others", "others", "senders"]
        )


def _ready() -> dict[str, Any]:
    return {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
