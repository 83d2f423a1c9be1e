"""What the serving reconcilers share: resource names, loading an object with a working copy
of its status, writing a status back, creating or updating a child object and readiness
Events. Used by the modules of :mod:`kawa.controllers.serving`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from kawa.errors import ConflictError, NotFoundError, TemporaryError
from kawa.store.base import Obj, ResourceKey, ResourceStore

SERVICES: Final = "services.serving.knative.dev"
CONFIGURATIONS: Final = "configurations.serving.knative.dev"
REVISIONS: Final = "revisions.serving.knative.dev"
ROUTES: Final = "routes.serving.knative.dev"
PODS: Final = "pods"
CONFIGMAPS: Final = "configmaps"

RESOURCE_OF_KIND: Final = {
    "Service": SERVICES,
    "Configuration": CONFIGURATIONS,
    "Revision": REVISIONS,
    "Route": ROUTES,
}


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
