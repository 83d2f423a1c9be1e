"""kawa's channel annotations, carried from what a user annotates to the channels where the
events are: a Channel's to its backing channel, a Sequence's or Parallel's to its channels.

The carried annotations (:data:`CARRIED`) are kawa's own switches of a channel: lineage off
(``kawa.dev/lineage``), the dead-letter store off (``kawa.dev/dead-letter-store``) and a
retention (``kawa.dev/retention``). What the parent has is set on the child (its value wins);
one the parent carried before and no longer has is removed from the child, which lists what
it got in :data:`CARRIED_LIST`; one set on the child alone, and every other annotation of the
child (a Subscription's limits, Knative's), is left as it is. Pure; used by
:mod:`kawa.controllers.messaging.channel` and :mod:`kawa.controllers.flows.children`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import meta, retention
from kawa.dispatch import deadletters, lineage

CARRIED: Final = (lineage.ANNOTATION, deadletters.ANNOTATION, retention.ANNOTATION)
"""kawa's annotations of a channel that its parent carries to it."""
CARRIED_LIST: Final = "messaging.kawa.dev/carried-annotations"
"""On a child channel: the annotations its parent carried there (comma-separated)."""


def carried(annotations: Mapping[str, Any] | None) -> dict[str, str]:
    """The annotations of :data:`CARRIED` in a parent's ``annotations``."""
    given = annotations or {}
    return {key: given[key] for key in CARRIED if isinstance(given.get(key), str)}


def with_carried(have: Mapping[str, Any], wanted: Mapping[str, str]) -> dict[str, Any]:
    """A child channel's annotations ``have`` with its parent's ``wanted`` (from
    :func:`carried`): those carried before and now gone are removed, the rest left alone."""
    out = dict(have)
    before = out.pop(CARRIED_LIST, "")
    for key in str(before).split(","):
        if key in CARRIED and key not in wanted:
            out.pop(key, None)
    out.update(wanted)
    if wanted:
        out[CARRIED_LIST] = ",".join(sorted(wanted))
    return out


def carried_to(
    child: dict[str, Any], parent_annotations: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``child`` with its parent's carried annotations (the same object when nothing changes:
    no write is needed)."""
    have = meta.annotations_of(child)
    new = with_carried(have, carried(parent_annotations))
    if new == have:
        return child
    metadata = {k: v for k, v in dict(child.get("metadata") or {}).items() if k != "annotations"}
    if new:
        metadata["annotations"] = new
    return dict(child, metadata=metadata)
