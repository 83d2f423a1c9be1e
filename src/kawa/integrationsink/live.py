"""Every IntegrationSink, as the data plane runs it, kept in memory from an informer.

:class:`LiveSinks` follows IntegrationSinks (all namespaces) and keeps, per sink, what a
request needs (:class:`RunningSink`): the log settings (``spec.log``), or why it cannot take
events (an AWS connector, which kawa does not run), and the EventPolicies that apply to it
(``status.policies``). A request reads no store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kawa.apis.integration import INTEGRATIONSINK
from kawa.apis.integration import integrationsink as api
from kawa.errors import KawaError
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunningSink:
    """One IntegrationSink as the data plane runs it."""

    namespace: str
    name: str
    log: api.Log | None
    """``None``: the sink cannot take events (see ``refused``)."""
    refused: str = ""
    policies: tuple[str, ...] = ()


class LiveSinks:
    """See the module docstring; :meth:`run` follows the store until cancelled."""

    def __init__(
        self, store: ResourceStore, on_gone: Callable[[str, str], None] | None = None
    ) -> None:
        """``on_gone(namespace, name)`` is called when a sink is deleted."""
        self._store = store
        self._on_gone = on_gone
        self._sinks: dict[tuple[str, str], RunningSink] = {}

    async def run(self) -> None:
        await inform(self._store, INTEGRATIONSINK.resource, self._seen, on_listed=self._listed)

    def get(self, namespace: str, name: str) -> RunningSink | None:
        return self._sinks.get((namespace, name))

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to sink ``namespace/name`` (none when unknown)."""
        found = self._sinks.get((namespace, name))
        return found.policies if found is not None else ()

    async def _seen(self, event: WatchEvent) -> None:
        metadata = event.object.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if event.type == "DELETED":
            self._gone(key)
        else:
            self._sinks[key] = _running(key, event.object)

    async def _listed(self, items: list[Obj]) -> None:
        present = {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])) for o in items
        }
        for key in set(self._sinks) - present:
            self._gone(key)

    def _gone(self, key: tuple[str, str]) -> None:
        self._sinks.pop(key, None)
        if self._on_gone is not None:
            self._on_gone(*key)


def _running(key: tuple[str, str], obj: Obj) -> RunningSink:
    status = obj.get("status")
    policies = status.get("policies") if isinstance(status, Mapping) else None
    names = tuple(
        str(p["name"])
        for p in (policies if isinstance(policies, list) else ())
        if isinstance(p, Mapping) and isinstance(p.get("name"), str)
    )
    try:
        sink = api.parse_integrationsink(obj)
    except KawaError as err:
        log.warning("IntegrationSink %s/%s cannot run: %s", *key, err)
        return RunningSink(*key, None, refused=f"its spec is invalid: {err}", policies=names)
    if sink.spec.log is None:
        kinds = ", ".join(f"aws.{n}" for n, _ in (sink.spec.aws.parts() if sink.spec.aws else []))
        return RunningSink(
            *key,
            None,
            refused=f"kawa does not run AWS connectors yet (spec.{kinds or 'aws'})",
            policies=names,
        )
    return RunningSink(*key, sink.spec.log, policies=names)
