"""Recording core/v1 Events about what the controllers do, as Kubernetes controllers do.

``kubectl describe`` shows them under the object; ``kubectl get events`` lists them; an
ApiServerSource can turn them into CloudEvents. An event repeated for the same object, type,
reason and message is counted (``count``, ``lastTimestamp``) instead of stored again, like
client-go's event correlator.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

from kawa.apis import core
from kawa.apis.conditions import Clock, format_time, system_clock
from kawa.errors import ConflictError, KawaError, NotFoundError
from kawa.store.base import ResourceKey, ResourceStore

log = logging.getLogger(__name__)

EVENTS: Final = core.EVENT.resource
MAX_CORRELATED: Final = 10_000
"""Events remembered for counting repeats (the oldest are forgotten first)."""
EventType = Literal["Normal", "Warning"]


def format_micro_time(moment: datetime) -> str:
    """Kubernetes' MicroTime (``eventTime``): RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRecorder:
    """Creates and counts Events for one component (``source.component``)."""

    def __init__(
        self,
        store: ResourceStore,
        component: str,
        *,
        host: str = "",
        clock: Clock = system_clock,
        suffix: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self._store = store
        self._component = component
        self._source: dict[str, str] = {"component": component}
        if host:
            self._source["host"] = host
        self._clock = clock
        self._suffix = suffix
        self._seen: OrderedDict[tuple[str, str, str, str], ResourceKey] = OrderedDict()

    async def record(
        self,
        obj: Mapping[str, Any],
        type_: EventType,
        reason: str,
        message: str,
        *,
        field_path: str = "",
    ) -> None:
        """Record an event about ``obj``; failures are logged, never raised (best effort)."""
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        now = format_time(self._clock())
        correlation = (str(meta.get("uid", "")) + field_path, type_, reason, message)
        try:
            known = self._seen.get(correlation)
            if known is not None:
                try:
                    event = await self._store.get(known)
                except NotFoundError:
                    pass
                else:
                    event["count"] = int(event.get("count", 1)) + 1
                    event["lastTimestamp"] = now
                    await self._store.update(known, event)
                    return
            name = f"{meta.get('name', 'unknown')}.{self._suffix()}"
            involved = {
                "apiVersion": obj.get("apiVersion", ""),
                "kind": obj.get("kind", ""),
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            }
            if field_path:
                involved["fieldPath"] = field_path
            key = ResourceKey(EVENTS, namespace, name)
            await self._store.create(
                key,
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": involved,
                    "reason": reason,
                    "message": message,
                    "type": type_,
                    "source": dict(self._source),
                    "reportingComponent": self._component,
                    "reportingInstance": "kawa",
                    "eventTime": format_micro_time(self._clock()),
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                },
            )
            self._seen[correlation] = key
            if len(self._seen) > MAX_CORRELATED:
                self._seen.popitem(last=False)
        except (ConflictError, KawaError) as err:
            log.warning("could not record event %s for %s: %s", reason, meta.get("name"), err)
