"""Knative's messaging control plane: InMemoryChannel, Channel and Subscription reconcilers.

- :mod:`.inmemorychannel`: an InMemoryChannel's address (kawa's channel ingress), its
  dead-letter sink and its subscribers' status, read by the channel data plane;
- :mod:`.channel`: a Channel's backing channel, made from ``spec.channelTemplate``, and its
  status copied;
- :mod:`.subscription`: a Subscription's entry in its channel's ``spec.subscribers``
  (:mod:`.channels` finds the physical channel), removed by a finalizer on deletion;
- :mod:`.defaults`: the ``default-ch-webhook`` ConfigMap and the create hook giving new
  Channels its template.

:func:`messaging_controllers` builds the controllers for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from kawa.apis import messaging
from kawa.apis.conditions import Clock, system_clock
from kawa.controllers.messaging.channel import ChannelReconciler
from kawa.controllers.messaging.defaults import default_channel_template, ensure_channel_defaults
from kawa.controllers.messaging.inmemorychannel import InMemoryChannelReconciler
from kawa.controllers.messaging.subscription import SubscriptionReconciler
from kawa.reconciler.eventpolicies import receivers_of_policies
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, own
from kawa.reconciler.status import status_controller
from kawa.store.base import ResourceStore


def messaging_controllers(
    store: ResourceStore,
    *,
    ingress_base_url: str,
    clock: Clock = system_clock,
    https_base_url: str = "",
    ca_certs: str = "",
) -> list[Controller]:
    """The InMemoryChannel, Channel and Subscription controllers, ready to ``run()``; each
    tracks what it looks up (a Channel its backing channel, a Subscription its channel,
    subscriber, reply and dead-letter sink), so a change of those reconciles it at once; an
    InMemoryChannel or Channel is reconciled again when an EventPolicy of its namespace
    changes."""
    recorder = EventRecorder(store, "messaging-controller", clock=clock)
    imcs = InMemoryChannelReconciler(
        store, ingress_base_url, clock, recorder, https_base_url=https_base_url, ca_certs=ca_certs
    )
    channels = ChannelReconciler(store, clock, recorder)
    subscriptions = SubscriptionReconciler(store, clock, recorder)
    return [
        Controller(
            "inmemorychannel",
            store,
            imcs.reconcile,
            [
                own(messaging.INMEMORYCHANNEL.resource),
                receivers_of_policies(store, messaging.INMEMORYCHANNEL.resource),
            ],
            tracker=imcs.tracker,
        ),
        Controller(
            "channel",
            store,
            channels.reconcile,
            [
                own(messaging.CHANNEL.resource),
                receivers_of_policies(store, messaging.CHANNEL.resource),
            ],
            tracker=channels.tracker,
        ),
        status_controller("subscription", subscriptions, messaging.SUBSCRIPTION.resource),
    ]


__all__ = [
    "ChannelReconciler",
    "InMemoryChannelReconciler",
    "SubscriptionReconciler",
    "default_channel_template",
    "ensure_channel_defaults",
    "messaging_controllers",
]
