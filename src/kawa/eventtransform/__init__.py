"""The EventTransform data plane: kawa runs every EventTransform itself, in process.

Knative runs each EventTransform as a Deployment of a JSONata server; kawa serves them all on
its data-plane port at ``/transforms/<namespace>/<name>`` (the address the reconciler,
:mod:`kawa.controllers.eventtransform`, publishes): :mod:`.live` keeps every transform with
its expressions compiled, from an informer; :mod:`.handler` answers the requests, sending to
a sink through kawa's :class:`~kawa.delivery.sender.Dispatcher`. :class:`TransformPlane`
puts the two together for :mod:`kawa.runtime`.
"""

from __future__ import annotations

from aiohttp import web

from kawa.delivery.sender import Dispatcher
from kawa.dispatch.ingress import Authorize
from kawa.eventtransform.handler import ROUTE, TransformHandler
from kawa.eventtransform.live import LiveTransforms, Transform
from kawa.store.base import ResourceStore

__all__ = ["ROUTE", "LiveTransforms", "Transform", "TransformHandler", "TransformPlane"]


class TransformPlane:
    """Every EventTransform, served: :meth:`routes` go into kawa's data-plane application
    and :meth:`run` follows the EventTransforms until cancelled. ``authorize``
    (authentication-oidc) is set before the application serves."""

    def __init__(
        self, store: ResourceStore, dispatcher: Dispatcher, *, max_event_size: int
    ) -> None:
        self.transforms = LiveTransforms(store)
        self._dispatcher = dispatcher
        self._max = max_event_size

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to transform ``namespace/name``."""
        return self.transforms.policies_of(namespace, name)

    def routes(self, authorize: Authorize | None = None) -> list[web.RouteDef]:
        handler = TransformHandler(
            self.transforms, self._dispatcher, max_event_size=self._max, authorize=authorize
        )
        return handler.routes()

    async def run(self) -> None:
        await self.transforms.run()
