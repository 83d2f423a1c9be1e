"""What the serving reconcilers share: resource names (from the kinds' declarations) and
creating or updating a child object. Used by the modules of :mod:`kawa.controllers.serving`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis import core, serving
from kawa.errors import ConflictError, NotFoundError, TemporaryError
from kawa.store.base import Obj, ResourceKey, ResourceStore

SERVICES: Final = serving.SERVICE.resource
CONFIGURATIONS: Final = serving.CONFIGURATION.resource
REVISIONS: Final = serving.REVISION.resource
ROUTES: Final = serving.ROUTE.resource
PODS: Final = core.POD.resource
CONFIGMAPS: Final = core.CONFIG_MAP.resource

RESOURCE_OF_KIND: Final = {kind.kind: kind.resource for kind in serving.KINDS}


def differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether the stored child lacks what ``desired`` says (spec, labels, annotations,
    owner references); other metadata the store or users set is left alone."""
    if existing.get("spec") != desired.get("spec"):
        return True
    have = existing.get("metadata") or {}
    want = desired.get("metadata") or {}
    for key in ("labels", "annotations"):
        ours = want.get(key) or {}
        theirs = have.get(key) or {}
        if any(theirs.get(k) != v for k, v in ours.items()):
            return True
    return bool(have.get("ownerReferences") != want.get("ownerReferences"))


def merged(existing: Obj, desired: Mapping[str, Any]) -> Obj:
    """``existing`` updated to ``desired`` (keeping its resourceVersion, so a concurrent
    change is a conflict)."""
    out = copy.deepcopy(existing)
    out["spec"] = copy.deepcopy(desired.get("spec"))
    metadata = out.setdefault("metadata", {})
    want = desired.get("metadata") or {}
    for key in ("labels", "annotations"):
        if want.get(key):
            metadata[key] = {**(metadata.get(key) or {}), **want[key]}
    metadata["ownerReferences"] = copy.deepcopy(want.get("ownerReferences"))
    return out


async def update_child(store: ResourceStore, key: ResourceKey, obj: Obj) -> Obj:
    try:
        return await store.update(key, obj)
    except (ConflictError, NotFoundError) as err:
        raise TemporaryError(str(err), delay=0.0) from err
