"""What a channel's subscriber delivers to, from its ``spec.subscribers`` entry: the
``CACerts`` of the subscriber, the reply and the dead-letter sink (the entry's own delivery,
else the channel's) reach the consumer's target; without a subscriber the reply destination
takes the events, with its own CACerts."""

from __future__ import annotations

from kawa.apis.duck import DeliverySpec, Destination
from kawa.apis.messaging.channelable import SubscriberSpec
from kawa.channels.dataplane import ChannelDataPlane, ChannelEntry

from ..tls_support import certificate_authority

PEM = {name: certificate_authority(name).pem for name in ("sub", "reply", "dls", "channel-dls")}


def entry(*subscribers: SubscriberSpec, delivery: DeliverySpec | None = None) -> ChannelEntry:
    return ChannelEntry(
        uid="c-uid",
        stream="channel:c-uid",
        delivery=delivery,
        dead_letter_uri="https://127.0.0.1:9/channel-dls" if delivery else None,
        dead_letter_ca_certs=PEM["channel-dls"] if delivery else None,
        subscribers=subscribers,
        ready_since={"s": 1.0},
    )


def test_the_entrys_ca_certs_reach_the_target() -> None:
    sink = Destination(uri="https://127.0.0.1:9/dls", ca_certs=PEM["dls"])
    spec = SubscriberSpec(
        uid="s",
        subscriber_uri="https://127.0.0.1:9/s",
        subscriber_ca_certs=PEM["sub"],
        reply_uri="https://127.0.0.1:9/r",
        reply_ca_certs=PEM["reply"],
        delivery=DeliverySpec(dead_letter_sink=sink),
    )
    target = ChannelDataPlane._target(("default", "c", "s"), entry(spec), spec)
    assert (target.ca_certs, target.reply_ca_certs, target.dead_letter_ca_certs) == (
        PEM["sub"],
        PEM["reply"],
        PEM["dls"],
    )


def test_the_channels_dead_letter_sink_and_a_reply_only_subscriber() -> None:
    spec = SubscriberSpec(uid="s", reply_uri="https://127.0.0.1:9/r", reply_ca_certs=PEM["reply"])
    target = ChannelDataPlane._target(
        ("default", "c", "s"), entry(spec, delivery=DeliverySpec(retry=1)), spec
    )
    assert target.subscriber_uri == "https://127.0.0.1:9/r"
    assert target.ca_certs == PEM["reply"]
    assert target.reply_ca_certs is None
    assert target.dead_letter_ca_certs == PEM["channel-dls"]
