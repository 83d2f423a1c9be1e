"""The scheme: every kind kawa knows, its names, and its default/validate functions.

A :class:`ResourceKind` says for one kind what Kubernetes' CRD and Knative's scheme say:
group, served versions (the first is the storage version), plural, singular, short names,
categories, whether it is namespaced, its printer columns, and the functions that default,
validate and check updates of its dicts. A :class:`Scheme` indexes kinds for the three ways
they are looked up: by ``(apiVersion, kind)`` (a manifest), by ``(group, version, plural)`` (an
API path) and by any of its names, case-insensitively (``kawa get broker|brokers|Broker``).

Adding a kind: declare it in its group's package (its model: types, defaults, rules; and one
:class:`ResourceKind`) and list it in the group's ``KINDS``. Called by the API server, the CLI
and the controllers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kawa.apis import (
    apiextensions,
    apps,
    batch,
    coordination,
    core,
    discovery,
    eventing,
    flows,
    integration,
    messaging,
    meta,
    rbac,
    replay,
    serving,
    sinks,
    sources,
)
from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.errors import FieldError, ValidationError

__all__ = ["BROKER", "KINDS", "SCHEME", "TRIGGER", "PrinterColumn", "ResourceKind", "Scheme"]


GROUP_PRIORITY: Final = ""
"""The group whose kind a shared name means (``service``: core/v1's, as kubectl resolves it;
Knative's stays ``ksvc`` and ``services.serving.knative.dev``)."""


class Scheme:
    """An immutable index of :class:`ResourceKind` values."""

    def __init__(self, kinds: Iterable[ResourceKind]) -> None:
        self.kinds: tuple[ResourceKind, ...] = tuple(kinds)
        self._by_api_version_kind: dict[tuple[str, str], ResourceKind] = {}
        self._by_resource: dict[tuple[str, str, str], ResourceKind] = {}
        self._by_name: dict[str, ResourceKind] = {}
        for rk in self.kinds:
            for api_version in rk.served_api_versions:
                group, _, version = api_version.rpartition("/")
                self._add(self._by_api_version_kind, (api_version, rk.kind), rk)
                self._add(self._by_resource, (group, version, rk.plural), rk)
            for name in rk.names:
                taken = self._by_name.get(name)
                if (
                    taken is not None
                    and taken is not rk
                    and GROUP_PRIORITY in (rk.group, taken.group)
                ):
                    # kubectl's rule: a name of the core group wins ("service" is core/v1's)
                    self._by_name[name] = rk if rk.group == GROUP_PRIORITY else taken
                    continue
                self._add(self._by_name, name, rk)

    @staticmethod
    def _add(index: dict[Any, ResourceKind], key: Any, rk: ResourceKind) -> None:
        if key in index and index[key] is not rk:
            raise ValueError(f"{key!r} names both {index[key].kind} and {rk.kind}")
        index[key] = rk

    def _known(self) -> str:
        return ", ".join(sorted({rk.kind for rk in self.kinds}))

    def for_api_version_kind(self, api_version: str, kind: str) -> ResourceKind:
        """The kind of a manifest; raises :class:`ValidationError` at ``kind``/``apiVersion``."""
        found = self._by_api_version_kind.get((api_version, kind))
        if found is not None:
            return found
        same_kind = [rk for rk in self.kinds if rk.kind == kind]
        if same_kind:
            served = ", ".join(v for rk in same_kind for v in rk.served_api_versions)
            raise ValidationError.single(
                "apiVersion", f"{kind} is served as {served}, not {api_version!r}"
            )
        raise ValidationError.single(
            "kind", f"unknown kind {kind!r} ({api_version}); known kinds: {self._known()}"
        )

    def for_object(self, obj: Mapping[str, Any]) -> ResourceKind:
        """The kind of a resource dict (by its ``apiVersion`` and ``kind``)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        errors = []
        if not isinstance(api_version, str) or not api_version:
            errors.append(FieldError("apiVersion", "required field is missing"))
        if not isinstance(kind, str) or not kind:
            errors.append(FieldError("kind", "required field is missing"))
        if errors:
            raise ValidationError(errors)
        return self.for_api_version_kind(str(api_version), str(kind))

    def for_resource(self, group: str, version: str, plural: str) -> ResourceKind | None:
        """The kind served at ``/apis/<group>/<version>/.../<plural>``, or ``None``."""
        return self._by_resource.get((group, version, plural))

    def resolve(self, name: str) -> ResourceKind:
        """The kind called ``name`` (kind, plural, singular, short name or ``plural.group``)."""
        found = self._by_name.get(name.lower())
        if found is None:
            raise ValidationError.single(
                "kind", f"unknown resource type {name!r}; known kinds: {self._known()}"
            )
        return found

    def default(self, obj: Mapping[str, Any]) -> meta.Object:
        """A defaulted copy of ``obj`` (its kind's defaults)."""
        return self.for_object(obj).default(obj)

    def validate(self, obj: Mapping[str, Any]) -> None:
        self.for_object(obj).validate(obj)

    def validate_update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.for_object(new).validate_update(old, new)


BROKER: Final = eventing.BROKER
TRIGGER: Final = eventing.TRIGGER

KINDS: Final = (
    *eventing.KINDS,
    *messaging.KINDS,
    *flows.KINDS,
    *sources.KINDS,
    *integration.KINDS,
    *sinks.KINDS,
    *serving.KINDS,
    *core.KINDS,
    *discovery.KINDS,
    *coordination.KINDS,
    *rbac.KINDS,
    *batch.KINDS,
    *apps.KINDS,
    *apiextensions.KINDS,
    *replay.KINDS,
)
"""Every kind kawa serves; add new kinds here."""

SCHEME: Final = Scheme(KINDS)
"""The scheme of every kind in :data:`KINDS`."""
