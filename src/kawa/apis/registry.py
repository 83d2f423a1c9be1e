"""The scheme: every kind kawa knows, its names, and its default/validate functions.

A :class:`ResourceKind` says for one kind what Kubernetes' CRD and Knative's scheme say:
group, served versions (the first is the storage version), plural, singular, short names,
categories, whether it is namespaced, its printer columns, and the functions that default,
validate and check updates of its dicts. A :class:`Scheme` indexes kinds for the three ways
they are looked up: by ``(apiVersion, kind)`` (a manifest), by ``(group, version, plural)`` (an
API path) and by any of its names, case-insensitively (``kawa get broker|brokers|Broker``).

Adding a kind: write its module (types, defaults, validation) and add one
:class:`ResourceKind` to :data:`KINDS`. Called by the API server, the CLI and the controllers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kawa.apis import meta
from kawa.apis.eventing import broker, trigger
from kawa.errors import FieldError, ValidationError

Defaulter = Callable[[Mapping[str, Any]], meta.Object]
Validator = Callable[[Mapping[str, Any]], None]
UpdateValidator = Callable[[Mapping[str, Any], Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One column of ``kubectl get`` (a CRD's ``additionalPrinterColumns``)."""

    name: str
    type: str
    json_path: str


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """Everything kawa needs to serve, validate and name one kind."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    default: Defaulter
    validate: Validator
    validate_update: UpdateValidator
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"{self.kind} needs at least one version")
        names = {self.kind, self.plural, self.singular, *self.short_names}
        names |= {f"{self.plural}.{self.group}", f"{self.singular}.{self.group}"}
        object.__setattr__(self, "names", frozenset(n.lower() for n in names))

    @property
    def api_versions(self) -> tuple[str, ...]:
        """``group/version`` for every served version (storage version first)."""
        return tuple(f"{self.group}/{v}" if self.group else v for v in self.versions)

    @property
    def storage_api_version(self) -> str:
        return self.api_versions[0]

    @property
    def resource(self) -> str:
        """``plural.group``, as Kubernetes names a resource (``brokers.eventing.knative.dev``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


class Scheme:
    """An immutable index of :class:`ResourceKind` values."""

    def __init__(self, kinds: Iterable[ResourceKind]) -> None:
        self.kinds: tuple[ResourceKind, ...] = tuple(kinds)
        self._by_api_version_kind: dict[tuple[str, str], ResourceKind] = {}
        self._by_resource: dict[tuple[str, str, str], ResourceKind] = {}
        self._by_name: dict[str, ResourceKind] = {}
        for rk in self.kinds:
            for version, api_version in zip(rk.versions, rk.api_versions, strict=True):
                self._add(self._by_api_version_kind, (api_version, rk.kind), rk)
                self._add(self._by_resource, (rk.group, version, rk.plural), rk)
            for name in rk.names:
                self._add(self._by_name, name, rk)

    @staticmethod
    def _add(index: dict[Any, ResourceKind], key: Any, rk: ResourceKind) -> None:
        if key in index and index[key] is not rk:
            raise ValueError(f"{key!r} names both {index[key].kind} and {rk.kind}")
        index[key] = rk

    def _known(self) -> str:
        return "; ".join(f"{rk.kind} ({', '.join(rk.api_versions)})" for rk in self.kinds)

    def for_api_version_kind(self, api_version: str, kind: str) -> ResourceKind:
        """The kind of a manifest; raises :class:`ValidationError` at ``kind``/``apiVersion``."""
        found = self._by_api_version_kind.get((api_version, kind))
        if found is not None:
            return found
        same_kind = [rk for rk in self.kinds if rk.kind == kind]
        if same_kind:
            served = ", ".join(v for rk in same_kind for v in rk.api_versions)
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


_READY: Final = '.status.conditions[?(@.type=="Ready")]'
_COMMON_COLUMNS: Final = (
    PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    PrinterColumn("Ready", "string", f"{_READY}.status"),
    PrinterColumn("Reason", "string", f"{_READY}.reason"),
)
_CATEGORIES: Final = ("all", "knative", "eventing")

BROKER: Final = ResourceKind(
    group=broker.GROUP,
    versions=("v1",),
    kind=broker.KIND,
    plural="brokers",
    singular="broker",
    namespaced=True,
    default=broker.default_broker,
    validate=broker.validate_broker,
    validate_update=broker.validate_broker_update,
    categories=_CATEGORIES,
    printer_columns=(PrinterColumn("URL", "string", ".status.address.url"), *_COMMON_COLUMNS),
)

TRIGGER: Final = ResourceKind(
    group=trigger.GROUP,
    versions=("v1", "v1alpha1"),
    kind=trigger.KIND,
    plural="triggers",
    singular="trigger",
    namespaced=True,
    default=trigger.default_trigger,
    validate=trigger.validate_trigger,
    validate_update=trigger.validate_trigger_update,
    categories=_CATEGORIES,
    printer_columns=(
        PrinterColumn("Broker", "string", ".spec.broker"),
        PrinterColumn("Subscriber_URI", "string", ".status.subscriberUri"),
        *_COMMON_COLUMNS,
    ),
)

KINDS: Final = (BROKER, TRIGGER)
"""Every kind kawa serves; add new kinds here."""

SCHEME: Final = Scheme(KINDS)
"""The scheme of every kind in :data:`KINDS`."""
