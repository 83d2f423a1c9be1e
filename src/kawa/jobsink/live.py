"""Every JobSink, kept in memory for the data plane (an informer over all namespaces).

A request reads the sink it names here, not from the store: its ``spec.job`` (what each
Job is made from), its uid (the owner of what it makes) and the EventPolicies that apply to
it (``status.policies``, written by :mod:`kawa.controllers.jobsink`), which the sender
check of authentication-oidc asks for synchronously.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kawa.apis.sinks import JOBSINK
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


class LiveJobSinks:
    """See the module docstring; :meth:`run` follows the store until cancelled."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._sinks: dict[tuple[str, str], Obj] = {}
        self.listed = False
        """Whether every JobSink was listed once."""

    async def run(self) -> None:
        await inform(self._store, JOBSINK.resource, self._seen, on_listed=self._listed)

    def get(self, namespace: str, name: str) -> Obj | None:
        """JobSink ``namespace/name`` as last seen (``None`` when there is none)."""
        return self._sinks.get((namespace, name))

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to JobSink ``namespace/name`` (none when unknown)."""
        found = self._sinks.get((namespace, name))
        status = found.get("status") if found is not None else None
        policies = status.get("policies") if isinstance(status, Mapping) else None
        return tuple(
            str(p["name"])
            for p in (policies if isinstance(policies, list) else ())
            if isinstance(p, Mapping) and isinstance(p.get("name"), str)
        )

    async def _seen(self, event: WatchEvent) -> None:
        if event.type == "DELETED":
            self._sinks.pop(_key(event.object), None)
        else:
            self._sinks[_key(event.object)] = event.object

    async def _listed(self, items: list[Obj]) -> None:
        present = {_key(o) for o in items}
        for key in set(self._sinks) - present:
            del self._sinks[key]
        self.listed = True
