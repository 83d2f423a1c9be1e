"""A Configuration's status from its Revisions (pure: the reconciler fetches them).

``latestCreatedRevisionName`` is the Revision of the current generation; ``Ready`` follows
it (``False`` with reason ``RevisionFailed`` when it failed); ``latestReadyRevisionName``
only moves forward, to the newest Ready Revision (by ``configurationGeneration``), as in
Knative, so traffic never falls back to an older Revision on its own. Called by the
Configuration reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.conditions import Clock, get_condition
from kawa.apis.serving.configuration import CONFIGURATION_CONDITIONS
from kawa.apis.serving.resources import configuration_generation

READY: Final = "Ready"
REVISION_FAILED: Final = "RevisionFailed"


def _ready(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status")
    ready = get_condition(status, READY) if isinstance(status, Mapping) else None
    return ready is not None and ready.is_true


def latest_ready_revision(revisions: Sequence[Mapping[str, Any]], current: str) -> str:
    """The newest Ready Revision not older than ``current`` (which stays when it still
    exists and nothing newer is Ready; ``""`` when there is none)."""
    by_name = {str(meta.metadata_of(r).get("name", "")): r for r in revisions}
    floor = configuration_generation(by_name[current]) if current in by_name else -1
    best, best_generation = (current if current in by_name else ""), floor
    for name, rev in by_name.items():
        generation = configuration_generation(rev)
        if _ready(rev) and generation > best_generation:
            best, best_generation = name, generation
    return best


def mark_revision_creation_failed(status: dict[str, Any], message: str, *, clock: Clock) -> None:
    CONFIGURATION_CONDITIONS.mark_false(
        status,
        READY,
        REVISION_FAILED,
        f"Revision creation failed with message: {message}.",
        clock=clock,
    )


def propagate_latest_created(
    status: dict[str, Any], name: str, rev_status: Mapping[str, Any], *, clock: Clock
) -> None:
    """Set ``latestCreatedRevisionName`` and ``Ready`` from that Revision's ``Ready``."""
    status["latestCreatedRevisionName"] = name
    ready = get_condition(rev_status, READY)
    if ready is not None and ready.is_true:
        CONFIGURATION_CONDITIONS.mark_true(status, READY, clock=clock)
    elif ready is not None and ready.is_false:
        CONFIGURATION_CONDITIONS.mark_false(
            status,
            READY,
            REVISION_FAILED,
            f'Revision "{name}" failed with message: {ready.message}.',
            clock=clock,
        )
    else:
        reason = ready.reason if ready is not None else ""
        message = ready.message if ready is not None else ""
        CONFIGURATION_CONDITIONS.mark_unknown(status, READY, reason, message, clock=clock)


def set_latest_ready(status: dict[str, Any], name: str) -> None:
    if name:
        status["latestReadyRevisionName"] = name
    else:
        status.pop("latestReadyRevisionName", None)
