"""What every reconciler does with the status it owns: load the object with a working copy of
its status, write the status back only when it changed, and record an Event when ``Ready``
turns ``True`` or ``False`` (as Knative's controllers do).

Used by the eventing and serving controllers and by the sources' reconcilers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kawa.apis.conditions import Clock, ConditionSet, get_condition
from kawa.errors import ConflictError, NotFoundError, TemporaryError
from kawa.reconciler.events import EventRecorder
from kawa.store.base import Obj, ResourceKey, ResourceStore


async def load(
    store: ResourceStore, key: ResourceKey, conditions: ConditionSet, clock: Clock
) -> tuple[Obj, dict[str, Any]] | None:
    """The object and a working copy of its status with every condition reported (``None``
    when the object is gone)."""
    try:
        obj = await store.get(key)
    except NotFoundError:
        return None
    stored = obj.get("status")
    status: dict[str, Any] = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    conditions.initialize(status, clock=clock)
    return obj, status


async def write_status(
    store: ResourceStore,
    key: ResourceKey,
    obj: Obj,
    status: Any,
    recorder: EventRecorder | None = None,
) -> bool:
    """Store ``status`` unless unchanged; ``True`` when written. A conflict retries the
    reconcile at once (with the newer object); a vanished object is not an error. With a
    ``recorder``, a change of ``Ready`` is recorded as an Event."""
    if obj.get("status") == status:
        return False
    try:
        await store.update(key, dict(obj, status=status), status_only=True)
    except ConflictError as err:
        raise TemporaryError(str(err), delay=0.0) from err
    except NotFoundError:
        return False
    if recorder is not None:
        await record_readiness(recorder, obj, status)
    return True


async def record_readiness(
    recorder: EventRecorder, obj: Mapping[str, Any], status: Mapping[str, Any]
) -> None:
    """An Event when an object's ``Ready`` becomes ``True`` or ``False``."""
    before = get_condition(obj.get("status") or {}, "Ready")
    after = get_condition(status, "Ready")
    if after is None or (before is not None and before.status == after.status):
        return
    kind = str(obj.get("kind", "Object"))
    if after.is_true:
        await recorder.record(obj, "Normal", f"{kind}Ready", f"{kind} is ready")
    elif after.is_false:
        await recorder.record(
            obj, "Warning", f"{kind}NotReady", f"{after.reason}: {after.message}".strip(": ")
        )
