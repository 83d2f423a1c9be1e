"""The RequestReply data plane: kawa serves every RequestReply itself, in process.

Knative runs a StatefulSet of request-reply pods with one Trigger per pod; kawa serves every
RequestReply on its data-plane port at ``/requestreplies/<namespace>/<name>`` (the address
the reconciler, :mod:`kawa.controllers.requestreply`, publishes), with its replies delivered
by the one Trigger the reconciler makes to ``.../reply``. :mod:`.live` follows the
RequestReplies and their keys; :mod:`.correlation` signs and verifies correlation ids;
:mod:`.pending` holds the open requests; :mod:`.handler` answers both endpoints;
:mod:`.relay_nats` carries replies between processes on NATS. :class:`RequestReplyPlane`
puts them together for :mod:`kawa.runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from kawa.apis.eventing import requestreply as rr_api
from kawa.dispatch.ingress import Publisher
from kawa.dispatch.senders import SenderCheck, SubjectCheck
from kawa.jetstream import NatsOptions
from kawa.requestreply.handler import PREFIX, REPLY_ROUTE, ROUTE, RequestReplyHandler
from kawa.requestreply.live import LiveRequestReplies
from kawa.requestreply.pending import Pending, process_index
from kawa.requestreply.relay_nats import NatsRelay
from kawa.store.base import ResourceStore

__all__ = ["PREFIX", "REPLY_ROUTE", "ROUTE", "RequestReplyPlane", "SenderChecks"]

PoliciesOf = Callable[[str, str], tuple[str, ...]]
SenderChecks = Callable[[str, str, str, PoliciesOf], SenderCheck]
"""Makes the sender check of a kind's ingress (``what``, apiVersion, kind, the EventPolicies
that apply to an object): :meth:`kawa.broker.oidc.DataPlaneIdentity.sender_check`."""


class RequestReplyPlane:
    """Every RequestReply, served: :meth:`routes` go into kawa's data-plane application and
    :meth:`run` follows the RequestReplies and their keys (and, on NATS, takes the replies
    other processes relay) until cancelled."""

    def __init__(
        self,
        store: ResourceStore,
        publisher: Publisher,
        max_event_size: int,
        nats: NatsOptions | None = None,
        name: str = "",
    ) -> None:
        """``publisher``: the Brokers; ``nats``: where the other kawa processes are (their
        replies are relayed), ``name`` this process's name there."""
        self.live = LiveRequestReplies(store)
        self.pending = Pending(process_index(shared=nats is not None))
        self._relay = None if nats is None else NatsRelay(nats, name)
        self._publisher = publisher
        self._max = max_event_size

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to RequestReply ``namespace/name``."""
        return self.live.policies_of(namespace, name)

    def routes(
        self, sender_checks: SenderChecks | None = None, broker_check: SubjectCheck | None = None
    ) -> list[web.RouteDef]:
        """The endpoints; with ``sender_checks``, senders are checked (authentication-oidc),
        and with ``broker_check`` also for the Broker a request goes into (its EventPolicies:
        :meth:`kawa.broker.oidc.DataPlaneIdentity.subject_check`)."""
        sender_check = (
            None
            if sender_checks is None
            else sender_checks("requestreply", rr_api.API_VERSION, rr_api.KIND, self.policies_of)
        )
        handler = RequestReplyHandler(
            self.live,
            self._publisher,
            self.pending,
            max_event_size=self._max,
            relay=self._relay,
            sender_check=sender_check,
            broker_check=broker_check,
        )
        return handler.routes()

    async def run(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            if self._relay is not None:
                await stack.enter_async_context(self._relay.receiving(self.pending))
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.live.run_requestreplies(), name="requestreply-live")
                tg.create_task(self.live.run_keys(), name="requestreply-keys")
