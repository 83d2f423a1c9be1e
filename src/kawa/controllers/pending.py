"""Honest status for kinds that kawa stores and validates but does not run yet.

Their objects get ``Ready=Unknown`` with reason ``NotImplemented`` and a message that says
which issue brings their behaviour, never a false ``Ready=True``. Each kind's reconciler
replaces this one when its behaviour lands.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from kawa.apis.conditions import Clock, ConditionSet, system_clock
from kawa.apis.meta import set_observed_generation
from kawa.apis.registry import SCHEME, Scheme
from kawa.errors import ConflictError, NotFoundError, TemporaryError
from kawa.reconciler.loop import Controller, own
from kawa.store.base import ResourceKey, ResourceStore

PENDING_KINDS: Final = {
    "EventType": "EventType discovery arrives in a later issue",
}
"""Kind -> why it is not running yet (only kinds with a group, i.e. not core ``Service``)."""

_READY_ONLY: Final = ConditionSet(())


class PendingReconciler:
    def __init__(self, store: ResourceStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def reconcile(self, key: ResourceKey, kind: str) -> None:
        try:
            obj = await self._store.get(key)
        except NotFoundError:
            return
        # This controller owns the whole status: nothing a client wrote there (an address, say)
        # may make the object look usable.
        stored = obj.get("status")
        old: dict[str, Any] = stored if isinstance(stored, dict) else {}
        ready = [
            c
            for c in old.get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "Ready"
        ]
        status: dict[str, Any] = {"conditions": copy.deepcopy(ready)}
        _READY_ONLY.mark_unknown(
            status,
            "Ready",
            "NotImplemented",
            f"{kind} is stored and validated, but kawa does not run it yet: {PENDING_KINDS[kind]}",
            clock=self._clock,
        )
        set_observed_generation(status, int(obj["metadata"].get("generation", 1)))
        if status == obj.get("status"):
            return
        try:
            await self._store.update(key, dict(obj, status=status), status_only=True)
        except ConflictError as err:
            raise TemporaryError(str(err), delay=0.0) from err
        except NotFoundError:
            return


def pending_controller(
    store: ResourceStore, *, scheme: Scheme = SCHEME, clock: Clock = system_clock
) -> Controller:
    reconciler = PendingReconciler(store, clock)
    kinds = {rk.resource: rk.kind for rk in scheme.kinds if rk.group and rk.kind in PENDING_KINDS}

    async def reconcile(key: ResourceKey) -> None:
        await reconciler.reconcile(key, kinds[key.resource])

    return Controller("pending", store, reconcile, [own(r) for r in kinds], workers=2)
