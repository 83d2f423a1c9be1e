"""The shape of a kind: :class:`ResourceKind` and :class:`PrinterColumn`.

A :class:`ResourceKind` says for one kind what Kubernetes' CRD and Knative's scheme say:
group, served versions (the first is the storage version), plural, singular, short names,
categories, whether it is namespaced, its printer columns, its OpenAPI schema, and the
functions that default, validate, convert and check updates of its dicts. Each API group's
package declares its kinds with these; :mod:`kawa.apis.registry` indexes them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kawa.apis import meta

Defaulter = Callable[[Mapping[str, Any]], meta.Object]
Validator = Callable[[Mapping[str, Any]], None]
UpdateValidator = Callable[[Mapping[str, Any], Mapping[str, Any]], None]
Converter = Callable[[Mapping[str, Any], str], meta.Object]
"""``convert(obj, api_version)``: the object in another served apiVersion of its kind."""
CellValue = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One column of ``kubectl get``: a CRD's ``additionalPrinterColumns`` entry (a JSON path)
    or, for built-in kinds, a computed ``value`` (such as a Pod's ``READY``). ``priority`` > 0
    columns appear only with ``-o wide``."""

    name: str
    type: str
    json_path: str = ""
    value: CellValue | None = None
    priority: int = 0
    description: str = ""


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
    schema: Mapping[str, Any] | None = None
    """OpenAPI v3 schema of the object's ``spec`` and ``status`` (``{"type": "object",
    "properties": {"spec": ..., "status": ...}}``), served for ``kubectl explain``."""
    extra_api_versions: tuple[str, ...] = ()
    """Other ``group/version`` strings serving this kind (legacy groups such as
    ``sources.eventing.knative.dev/v1alpha1``); ``convert`` translates to and from them."""
    convert: Converter | None = None
    """Converts between served versions; ``None``: the versions differ only in apiVersion."""
    strategic_merge_keys: Mapping[str, str] = field(default_factory=dict)
    """For built-in kinds: list fields merged by key in a strategic merge patch, by path with
    ``[]`` for list items (``{"spec.containers": "name", "spec.containers[].env": "name"}``);
    other lists are replaced whole."""
    subresources: tuple[str, ...] = ("status",)
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"{self.kind} needs at least one version")
        names = {self.kind, self.plural, self.singular, *self.short_names}
        names |= {f"{self.plural}.{self.group}", f"{self.singular}.{self.group}"}
        object.__setattr__(self, "names", frozenset(n.lower() for n in names))

    @property
    def api_versions(self) -> tuple[str, ...]:
        """``group/version`` for every version of the kind's own group (storage version first)."""
        return tuple(f"{self.group}/{v}" if self.group else v for v in self.versions)

    @property
    def served_api_versions(self) -> tuple[str, ...]:
        """Every apiVersion this kind is served as: its own group's, then the legacy ones."""
        return self.api_versions + self.extra_api_versions

    def to_version(self, obj: Mapping[str, Any], api_version: str) -> meta.Object:
        """``obj`` as ``api_version`` (one of :attr:`served_api_versions`)."""
        if obj.get("apiVersion") == api_version:
            return dict(obj)
        if self.convert is not None:
            return self.convert(obj, api_version)
        return dict(obj, apiVersion=api_version)

    @property
    def storage_api_version(self) -> str:
        return self.api_versions[0]

    @property
    def resource(self) -> str:
        """``plural.group``, as Kubernetes names a resource (``brokers.eventing.knative.dev``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural
