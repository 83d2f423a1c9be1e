"""The diagnostic subresources on kawa's API: a Broker's ``why`` (:mod:`.why`) and ``trace``
(:mod:`.trace`), a channel's ``trace`` (:mod:`.channel_trace`), and the dead-letter stores of
both (:mod:`.deadletters`, with the data planes that redrive). Installed by
:mod:`kawa.runtime` on its :class:`~kawa.apiserver.server.ApiServer`."""

from __future__ import annotations

from kawa.apis.messaging import CHANNEL, INMEMORYCHANNEL
from kawa.apis.registry import BROKER
from kawa.apiserver.server import ApiServer
from kawa.broker.dataplane import BrokerDataPlane
from kawa.channels.dataplane import ChannelDataPlane
from kawa.delivery.sender import Dispatcher
from kawa.dispatch.deadletters import DeadLetter
from kawa.dispatch.redrive import Route
from kawa.eventlog.base import EventLog
from kawa.observability import deadletters, trace, why
from kawa.observability.channel_trace import ChannelTrace
from kawa.store.base import ResourceStore


def install(api: ApiServer, store: ResourceStore, event_log: EventLog, *, max_ttl: int) -> None:
    api.add_subresource(BROKER.plural, why.SUBRESOURCE, why.Why(store, max_ttl=max_ttl).serve)
    api.add_subresource(BROKER.plural, trace.SUBRESOURCE, trace.Trace(store, event_log).serve)
    channels = ChannelTrace(store, event_log)
    api.add_subresource(INMEMORYCHANNEL.plural, trace.SUBRESOURCE, channels.serve_inmemorychannel)
    api.add_subresource(CHANNEL.plural, trace.SUBRESOURCE, channels.serve_channel)


def install_dead_letters(
    api: ApiServer,
    store: ResourceStore,
    dispatcher: Dispatcher,
    brokers: BrokerDataPlane,
    channels: ChannelDataPlane,
) -> None:
    """The ``deadletters`` subresource of Brokers and InMemoryChannels."""

    def trigger_route(entry: DeadLetter) -> Route | None:
        route = brokers.redrive_route(entry.namespace, entry.name)
        # a Trigger deleted and made again under its name is another one: not its route
        return route if route is not None and route.target.uid == entry.uid else None

    def subscriber_route(entry: DeadLetter) -> Route | None:
        return channels.redrive_route(entry.namespace, entry.parent, entry.uid)

    of_brokers = deadletters.DeadLetters(store, brokers.dead_letters, dispatcher, trigger_route)
    api.add_subresource(BROKER.plural, deadletters.SUBRESOURCE, of_brokers.serve)
    of_channels = deadletters.DeadLetters(
        store, channels.dead_letters, dispatcher, subscriber_route, channels=True
    )
    api.add_subresource(INMEMORYCHANNEL.plural, deadletters.SUBRESOURCE, of_channels.serve)
