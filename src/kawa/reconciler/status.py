"""The one shape of kawa's reconcilers (Knative's generated reconciler): load the object with
a working copy of its status, parse it (an invalid object gets its condition ``False`` with
reason ``Invalid``), reconcile it, write the status back only when it changed, and record an
Event when ``Ready`` turns ``True`` or ``False``. An object being deleted (kept by finalizers,
such as ``foregroundDeletion`` while the garbage collector deletes its dependents) is not
reconciled: nothing it owns is made again, as Knative's generated reconcilers skip
``ReconcileKind`` for it.

:class:`StatusReconciler` is that shape; each kind's reconciler subclasses it and fills in
:meth:`~StatusReconciler.reconcile_kind` (and the optional hooks). :func:`load`,
:func:`write_status` and :func:`record_readiness` are its steps. Used by the eventing and
serving controllers and by the sources' reconcilers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, TypeVar

from kawa.apis.conditions import Clock, ConditionSet, get_condition
from kawa.errors import ConflictError, NotFoundError, TemporaryError, ValidationError
from kawa.reconciler.events import EventRecorder
from kawa.reconciler.loop import Controller, own
from kawa.reconciler.tracker import Track, Tracker
from kawa.store.base import Obj, ResourceKey, ResourceStore

INVALID: Final = "Invalid"
"""The reason of the condition an object that does not parse gets ``False``."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reconciling(Generic[T]):
    """One reconcile under way: the key, the stored object, the working copy of its status
    (every condition reported), the parsed object, and how to track what it resolves."""

    key: ResourceKey
    obj: Obj
    status: dict[str, Any]
    spec: T
    track: Track


class StatusReconciler(Generic[T]):
    """Load -> parse (or mark ``Invalid``) -> :meth:`reconcile_kind` -> write status.

    Subclasses set :attr:`conditions` and :attr:`invalid_condition` and implement
    :meth:`parse` and :meth:`reconcile_kind`, which changes ``current.status`` (and the world);
    the status is written once, at the end, only when it changed. The hooks
    :meth:`prepare`, :meth:`observe_invalid`, :meth:`observe_deletion` and
    :meth:`status_written` do nothing unless overridden. The :attr:`tracker` is the one the
    controller (:class:`~kawa.reconciler.loop.Controller`) reconciles with.
    """

    conditions: ClassVar[ConditionSet]
    invalid_condition: ClassVar[str]
    """The condition an object that does not parse gets ``False`` (reason ``Invalid``)."""

    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        recorder: EventRecorder | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.recorder = recorder
        self.tracker = tracker if tracker is not None else Tracker()

    async def reconcile(self, key: ResourceKey) -> None:
        loaded = await load(self.store, key, self.conditions, self.clock)
        if loaded is None:
            await self.observe_deletion(key)
            return
        obj, status = loaded
        if obj["metadata"].get("deletionTimestamp"):
            return  # being deleted: what it made is the garbage collector's (Knative's way)
        await self.prepare(key, obj, status)
        try:
            spec = self.parse(obj)
        except ValidationError as err:
            self.conditions.mark_false(
                status, self.invalid_condition, INVALID, str(err), clock=self.clock
            )
            await self.observe_invalid(key, obj)
        else:
            await self.reconcile_kind(
                Reconciling(key, obj, status, spec, self.tracker.track_for(key))
            )
        if await write_status(self.store, key, obj, status):
            await self.status_written(obj, status)

    def parse(self, obj: Obj) -> T:
        """The typed object (raises :class:`~kawa.errors.ValidationError`)."""
        raise NotImplementedError

    async def reconcile_kind(self, current: Reconciling[T]) -> None:
        """Bring the world and ``current.status`` in line with ``current.spec``."""
        raise NotImplementedError

    async def prepare(self, key: ResourceKey, obj: Obj, status: dict[str, Any]) -> None:
        """Before parsing: what holds whatever the spec says."""

    async def observe_invalid(self, key: ResourceKey, obj: Obj) -> None:
        """The object does not parse (its status says so): undo what it had running."""

    async def observe_deletion(self, key: ResourceKey) -> None:
        """The object is gone: clean up what it had running."""

    async def status_written(self, obj: Obj, status: dict[str, Any]) -> None:
        """The status changed from ``obj``'s: by default, a change of ``Ready`` is recorded
        as an Event (with a recorder)."""
        if self.recorder is not None:
            await record_readiness(self.recorder, obj, status)


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


def status_controller(name: str, reconciler: StatusReconciler[Any], resource: str) -> Controller:
    """The controller running ``reconciler`` for the objects of ``resource``, with the
    reconciler's tracker: a change of what it looked up reconciles the object at once."""
    return Controller(
        name, reconciler.store, reconciler.reconcile, [own(resource)], tracker=reconciler.tracker
    )
