"""The diagnostic subresources on kawa's API: a Broker's ``why`` (:mod:`.why`) and ``trace``
(:mod:`.trace`), a channel's ``trace`` (:mod:`.channel_trace`). Installed by
:mod:`kawa.runtime` on its :class:`~kawa.apiserver.server.ApiServer`."""

from __future__ import annotations

from kawa.apis.messaging import CHANNEL, INMEMORYCHANNEL
from kawa.apis.registry import BROKER
from kawa.apiserver.server import ApiServer
from kawa.eventlog.base import EventLog
from kawa.observability import trace, why
from kawa.observability.channel_trace import ChannelTrace
from kawa.store.base import ResourceStore


def install(api: ApiServer, store: ResourceStore, event_log: EventLog, *, max_ttl: int) -> None:
    api.add_subresource(BROKER.plural, why.SUBRESOURCE, why.Why(store, max_ttl=max_ttl).serve)
    api.add_subresource(BROKER.plural, trace.SUBRESOURCE, trace.Trace(store, event_log).serve)
    channels = ChannelTrace(store, event_log)
    api.add_subresource(INMEMORYCHANNEL.plural, trace.SUBRESOURCE, channels.serve_inmemorychannel)
    api.add_subresource(CHANNEL.plural, trace.SUBRESOURCE, channels.serve_channel)
