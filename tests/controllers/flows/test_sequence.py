"""The Sequence reconciler on a real store: one channel and one Subscription per step, named,
owned and wired as Knative's controller makes them; spec changes update and delete them;
the status follows the children's Ready conditions; deleting the Sequence takes them all."""

from __future__ import annotations

from typing import Any

from kawa.apis import limits
from kawa.errors import ConflictError
from kawa.store.base import Obj, ResourceKey

from ..serving.support import condition
from .support import (
    ATTEMPTS,
    CHANNELS,
    IMCS,
    NS,
    SEQUENCES,
    SUBS,
    Flows,
    is_,
    ready,
    running_flows,
    svc,
)

IMC_REF = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}


def sequence(name: str = "s", **spec: Any) -> Obj:
    spec.setdefault(
        "steps",
        [svc("first"), {**svc("second"), "delivery": {"retry": 3}}, svc("third")],
    )
    return {
        "apiVersion": "flows.knative.dev/v1",
        "kind": "Sequence",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def channel_ref(name: str, namespace: bool = False) -> dict[str, str]:
    return {**IMC_REF, "name": name, **({"namespace": NS} if namespace else {})}


async def made(flows: Flows, seq: Obj, steps: int) -> tuple[list[Obj], list[Obj]]:
    names = [f"{seq['metadata']['name']}-kn-sequence-{i}" for i in range(steps)]
    await flows.until_names(IMCS, names)
    await flows.until_names(SUBS, names)
    channels = [await flows.get(IMCS, n) for n in names]
    subs = [await flows.get(SUBS, n) for n in names]
    assert all(c is not None for c in channels)
    assert all(s is not None for s in subs)
    return [c for c in channels if c], [s for s in subs if s]


async def test_three_steps_make_three_channels_and_three_subscriptions() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence(reply=svc("display")))
        channels, subs = await made(flows, seq, 3)

        owner = {
            "apiVersion": "flows.knative.dev/v1",
            "kind": "Sequence",
            "name": "s",
            "uid": seq["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        for obj in (*channels, *subs):
            assert obj["metadata"]["ownerReferences"] == [owner], obj["metadata"]
        assert [c["kind"] for c in channels] == ["InMemoryChannel"] * 3

        steps = ["first", "second", "third"]
        for i, sub in enumerate(subs):
            spec = sub["spec"]
            assert spec["channel"] == channel_ref(f"s-kn-sequence-{i}", namespace=True)
            assert spec["subscriber"] == svc(steps[i])
        # each step's reply goes to the next channel, the last one's to spec.reply
        assert subs[0]["spec"]["reply"] == {"ref": channel_ref("s-kn-sequence-1", namespace=True)}
        assert subs[1]["spec"]["reply"] == {"ref": channel_ref("s-kn-sequence-2", namespace=True)}
        assert subs[2]["spec"]["reply"] == svc("display")
        # the per-step delivery goes to that step's subscription only
        assert subs[1]["spec"]["delivery"] == {"retry": 3}
        assert "delivery" not in subs[0]["spec"]
        assert "delivery" not in subs[2]["spec"]

        s = await flows.until(SEQUENCES, "s", lambda o: bool(o["status"].get("channelStatuses")))
        assert [c["channel"]["name"] for c in s["status"]["channelStatuses"]] == [
            f"s-kn-sequence-{i}" for i in range(3)
        ]
        assert s["status"]["observedGeneration"] == 1


async def test_without_reply_the_last_step_replies_nowhere() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence(steps=[{"uri": "http://example.com/"}]))
        _, subs = await made(flows, seq, 1)
        assert subs[0]["spec"]["subscriber"] == {"uri": "http://example.com/"}
        assert "reply" not in subs[0]["spec"]


async def test_the_status_follows_the_children() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence())
        await made(flows, seq, 3)
        s = await flows.until(SEQUENCES, "s", is_("ChannelsReady", "Unknown"))
        # the children report no Ready yet: said so, and by whom
        assert condition(s, "ChannelsReady")[1] == "ChannelsNotReady"
        assert 'InMemoryChannel "s-kn-sequence-0"' in condition(s, "ChannelsReady")[2]
        assert "(and 2 more)" in condition(s, "ChannelsReady")[2]
        assert s["status"]["channelStatuses"][0]["ready"]["reason"] == "NoReady"
        assert condition(s, "Addressable")[:2] == ("Unknown", "emptyAddress")
        assert condition(s, "Ready")[0] == "Unknown"
        assert "address" not in s["status"]

        for i in range(3):
            url = f"http://127.0.0.1:8080/channels/{NS}/s-kn-sequence-{i}"
            await flows.set_status(
                IMCS, f"s-kn-sequence-{i}", {"address": {"url": url}, "conditions": [ready()]}
            )
        s = await flows.until(SEQUENCES, "s", is_("ChannelsReady", "True"))
        assert s["status"]["address"] == {
            "url": f"http://127.0.0.1:8080/channels/{NS}/s-kn-sequence-0"
        }
        assert condition(s, "Addressable")[0] == "True"
        assert s["status"]["channelStatuses"][2]["ready"] == ready()
        assert condition(s, "SubscriptionsReady")[0] == "Unknown"

        for i in range(3):
            await flows.set_status(SUBS, f"s-kn-sequence-{i}", {"conditions": [ready()]})
        s = await flows.until(SEQUENCES, "s", is_("Ready", "True"))
        assert [x["subscription"]["name"] for x in s["status"]["subscriptionStatuses"]] == [
            f"s-kn-sequence-{i}" for i in range(3)
        ]

        # one subscription fails: the Sequence says which and why
        failed = ready("False", "SubscriberResolveFailed", 'Service "second" does not exist')
        await flows.set_status(SUBS, "s-kn-sequence-1", {"conditions": [failed]})
        s = await flows.until(SEQUENCES, "s", is_("SubscriptionsReady", "Unknown"))
        status, reason, message = condition(s, "Ready")
        assert (status, reason) == ("Unknown", "SubscriptionsNotReady")
        assert 'Subscription "s-kn-sequence-1": SubscriberResolveFailed' in message
        assert s["status"]["subscriptionStatuses"][1]["ready"] == failed


async def test_spec_changes_update_and_delete_the_children() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence(reply=svc("display")))
        await made(flows, seq, 3)

        # a step changed: its subscription is updated in place
        before = await flows.get(SUBS, "s-kn-sequence-0")
        assert before is not None
        steps = [{"uri": "http://example.com/one"}, svc("second"), svc("third")]
        await flows.change_spec(SEQUENCES, "s", steps=steps)
        after = await flows.until(
            SUBS, "s-kn-sequence-0", lambda o: o["spec"]["subscriber"] == steps[0]
        )
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        # step 1 lost its delivery
        await flows.until(SUBS, "s-kn-sequence-1", lambda o: "delivery" not in o["spec"])

        # a step removed: its channel and subscription go, the new last step replies to
        # spec.reply
        await flows.change_spec(SEQUENCES, "s", steps=steps[:2])
        await flows.until_names(IMCS, ["s-kn-sequence-0", "s-kn-sequence-1"])
        await flows.until_names(SUBS, ["s-kn-sequence-0", "s-kn-sequence-1"])
        await flows.until(
            SUBS, "s-kn-sequence-1", lambda o: o["spec"].get("reply") == svc("display")
        )

        # the reply changed, then removed
        await flows.change_spec(SEQUENCES, "s", reply={"uri": "http://example.com/sink"})
        await flows.until(
            SUBS,
            "s-kn-sequence-1",
            lambda o: o["spec"].get("reply") == {"uri": "http://example.com/sink"},
        )

        # a step added back
        await flows.change_spec(SEQUENCES, "s", steps=[*steps[:2], svc("fourth")])
        await made(flows, seq, 3)
        await flows.until(
            SUBS,
            "s-kn-sequence-1",
            lambda o: (
                o["spec"].get("reply") == {"ref": channel_ref("s-kn-sequence-2", namespace=True)}
            ),
        )
        s = await flows.until(
            SEQUENCES, "s", lambda o: len(o["status"].get("subscriptionStatuses") or []) == 3
        )
        assert s["status"]["observedGeneration"] == s["metadata"]["generation"]


async def test_another_channel_kind_replaces_the_channels() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence(steps=[svc("a"), svc("b")]))
        await made(flows, seq, 2)
        old = await flows.get(SUBS, "s-kn-sequence-0")
        assert old is not None

        template = {"apiVersion": "messaging.knative.dev/v1", "kind": "Channel"}
        await flows.change_spec(SEQUENCES, "s", channelTemplate=template)
        await flows.until_names(CHANNELS, ["s-kn-sequence-0", "s-kn-sequence-1"])
        await flows.until_names(IMCS, [])
        # spec.channel is immutable: the subscriptions were made again, on the new channels
        new = await flows.until(
            SUBS, "s-kn-sequence-0", lambda o: o["spec"]["channel"]["kind"] == "Channel"
        )
        assert new["metadata"]["uid"] != old["metadata"]["uid"]
        reply = (await flows.until(SUBS, "s-kn-sequence-0", lambda o: True))["spec"]["reply"]
        assert reply["ref"]["kind"] == "Channel"

        # each Channel has its backing InMemoryChannel of the same name (the Channel
        # reconciler's, made by hand here); back to InMemoryChannel: the Channels go first,
        # their backing channels with them, then the Sequence's own take the names
        for i in range(2):
            ch = await flows.get(CHANNELS, f"s-kn-sequence-{i}")
            assert ch is not None
            owner = {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "Channel",
                "name": f"s-kn-sequence-{i}",
                "uid": ch["metadata"]["uid"],
                "controller": True,
            }
            backing = {
                **IMC_REF,
                "metadata": {
                    "name": f"s-kn-sequence-{i}",
                    "namespace": NS,
                    "ownerReferences": [owner],
                },
            }
            await flows.create(IMCS, backing)
        await flows.change_spec(SEQUENCES, "s", channelTemplate=IMC_REF)
        await flows.until_names(CHANNELS, [])
        for i in range(2):
            await flows.until(
                IMCS,
                f"s-kn-sequence-{i}",
                lambda o: o["metadata"]["ownerReferences"][0]["kind"] == "Sequence",
            )
        s = await flows.until(
            SEQUENCES,
            "s",
            lambda o: (
                [c["channel"]["kind"] for c in o["status"].get("channelStatuses") or []]
                == ["InMemoryChannel"] * 2
            ),
        )
        assert condition(s, "ChannelsReady")[1] != "NotOwned"


async def test_a_template_kawa_cannot_make_is_reported() -> None:
    async with running_flows() as flows:
        template = {"apiVersion": "messaging.knative.dev/v1", "kind": "KafkaChannel"}
        await flows.create(SEQUENCES, sequence(channelTemplate=template))
        s = await flows.until(SEQUENCES, "s", is_("ChannelsReady", "False"))
        status, reason, message = condition(s, "Ready")
        assert (status, reason) == ("False", "ChannelTemplateFailed")
        assert "KafkaChannel (messaging.knative.dev/v1) is not a channel kind" in message
        assert await flows.names(SUBS) == []


async def test_a_name_taken_by_a_foreign_channel_is_reported_and_left_alone() -> None:
    async with running_flows() as flows:
        foreign = {**IMC_REF, "metadata": {"name": "s-kn-sequence-0", "namespace": NS}}
        await flows.create(IMCS, foreign)
        await flows.create(SEQUENCES, sequence())
        s = await flows.until(SEQUENCES, "s", is_("ChannelsReady", "False"))
        status, reason, message = condition(s, "Ready")
        assert (status, reason) == ("False", "NotOwned")
        assert 'InMemoryChannel "s-kn-sequence-0" already exists' in message
        kept = await flows.get(IMCS, "s-kn-sequence-0")
        assert kept is not None
        assert "ownerReferences" not in kept["metadata"]
        assert await flows.names(SUBS) == []


async def test_a_deleted_child_is_made_again() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence())
        _, subs = await made(flows, seq, 3)
        await flows.delete(SUBS, "s-kn-sequence-2")
        again = await flows.until(SUBS, "s-kn-sequence-2", lambda o: True)
        assert again["metadata"]["uid"] != subs[2]["metadata"]["uid"]


async def test_deleting_the_sequence_removes_every_child() -> None:
    async with running_flows() as flows:
        seq = await flows.create(SEQUENCES, sequence())
        await made(flows, seq, 3)
        await flows.delete(SEQUENCES, "s")
        await flows.until_names(IMCS, [])
        await flows.until_names(SUBS, [])


async def test_the_sequences_delivery_limits_go_to_every_step_and_follow_changes() -> None:
    """A step has no metadata of its own: the Sequence's kawa.dev/max-rate and max-in-flight
    are copied to each step's Subscription (other annotations there are left alone)."""
    async with running_flows() as flows:
        seq = sequence()
        seq["metadata"]["annotations"] = {limits.MAX_RATE: "20", "note": "not copied"}
        await flows.create(SEQUENCES, seq)
        _, subs = await made(flows, seq, 3)
        for sub in subs:
            assert sub["metadata"]["annotations"] == {limits.MAX_RATE: "20"}
        first = subs[0]["metadata"]["name"]
        await _annotate(
            flows, ResourceKey(SUBS, NS, first), {limits.MAX_RATE: "20", "someone": "else"}
        )
        await _annotate(flows, ResourceKey(SEQUENCES, NS, "s"), {limits.MAX_IN_FLIGHT: "2"})
        for sub in subs:
            name = sub["metadata"]["name"]
            await flows.until(
                SUBS,
                name,
                lambda o: (
                    limits.user_annotations(o["metadata"].get("annotations") or {})
                    == {limits.MAX_IN_FLIGHT: "2"}
                ),
            )
        kept = await flows.get(SUBS, first)
        assert kept is not None
        assert kept["metadata"]["annotations"] == {limits.MAX_IN_FLIGHT: "2", "someone": "else"}


async def _annotate(flows: Flows, key: ResourceKey, annotations: dict[str, str]) -> None:
    """Set the annotations of ``key``, again when a controller wrote it meanwhile."""
    for _ in range(ATTEMPTS):
        current = await flows.store.get(key)
        current["metadata"]["annotations"] = annotations
        try:
            await flows.store.update(key, current)
            return
        except ConflictError:
            continue
    raise AssertionError(f"{key}: every update conflicted")


async def test_the_sequences_channel_annotations_go_to_every_channel_and_follow_changes() -> None:
    """kawa's channel switches on the Sequence (lineage off, a retention) reach each step's
    channel, where its events are; one set on a channel alone stays; the rest is not copied."""
    retention, lineage = "kawa.dev/retention", "kawa.dev/lineage"
    store = "kawa.dev/dead-letter-store"
    carried = "messaging.kawa.dev/carried-annotations"
    async with running_flows() as flows:
        seq = sequence()
        seq["metadata"]["annotations"] = {retention: "PT1H", lineage: "off", "note": "no"}
        await flows.create(SEQUENCES, seq)
        channels, _ = await made(flows, seq, 3)
        for channel in channels:
            assert _kawas(channel) == {
                retention: "PT1H",
                lineage: "off",
                carried: "kawa.dev/lineage,kawa.dev/retention",
            }
        first = ResourceKey(IMCS, NS, channels[0]["metadata"]["name"])
        current = await flows.store.get(first)
        await _annotate(flows, first, {**current["metadata"]["annotations"], store: "false"})
        await _annotate(flows, ResourceKey(SEQUENCES, NS, "s"), {retention: "P7D"})
        for channel in channels:
            name = channel["metadata"]["name"]
            now = await flows.until(
                IMCS,
                name,
                lambda o: (
                    _kawas(o).get(retention) == "P7D"
                    and lineage not in o["metadata"]["annotations"]
                ),
            )
            expected = {retention: "P7D", carried: "kawa.dev/retention"}
            if name == first.name:
                expected[store] = "false"
            assert _kawas(now) == expected


def _kawas(obj: Obj) -> dict[str, str]:
    """An object's annotations of kawa's (``*kawa.dev/*``)."""
    return {k: v for k, v in obj["metadata"]["annotations"].items() if "kawa.dev/" in k}
