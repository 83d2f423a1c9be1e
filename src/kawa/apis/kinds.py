"""The shape of a kind: :class:`ResourceKind` and :class:`PrinterColumn`.

A :class:`ResourceKind` says for one kind what Kubernetes' CRD and Knative's scheme say:
group, served versions (the first is the storage version), plural, singular, short names,
categories, whether it is namespaced, its printer columns, its conversion between versions,
and its declaration (``model``, ``status``): the parser, defaults, update rules, OpenAPI
schema and strategic-merge keys all derive from that one declaration (ADR 0014). Each API
group's package declares its kinds with these; :mod:`kawa.apis.registry` indexes them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kawa.apis import meta
from kawa.apis.model import objects
from kawa.apis.model import openapi as model_openapi
from kawa.apis.model.base import Model
from kawa.apis.model.objects import KubeObject
from kawa.errors import ValidationError

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
    """Everything kawa needs to serve, validate and name one kind.

    ``model`` is the kind's declaration (:class:`kawa.apis.model.KubeObject` subclass): the
    parser, the defaults, the update rules, the OpenAPI schema and the strategic-merge keys
    all derive from it; ``status`` declares the status the kind's controller writes.
    """

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    model: type[KubeObject]
    status: type[Model] | None = None
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    description: str = ""
    """What ``kubectl explain <kind>`` says of the kind (default: the model's docstring)."""
    extra_api_versions: tuple[str, ...] = ()
    """Other ``group/version`` strings serving this kind (legacy groups such as
    ``sources.eventing.knative.dev/v1alpha1``); ``convert`` translates to and from them."""
    convert: Converter | None = None
    """Converts between served versions; ``None``: the versions differ only in apiVersion."""
    subresources: tuple[str, ...] = ("status",)
    crd_labels: tuple[tuple[str, str], ...] = ()
    """Labels of the kind's CustomResourceDefinition besides kawa's own (Knative's duck
    labels, such as ``messaging.knative.dev/subscribable: "true"`` on a channel)."""
    selectable_fields: tuple[str, ...] = ()
    """Field paths a field selector may name besides ``metadata.name`` (and
    ``metadata.namespace``): Kubernetes' field label conversions of a built-in kind, a CRD's
    ``selectableFields``."""
    names: frozenset[str] = field(init=False)
    api_versions: tuple[str, ...] = field(init=False)
    """``group/version`` for every version of the kind's own group (storage version first)."""

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"{self.kind} needs at least one version")
        group = self.group
        api_versions = tuple(f"{group}/{v}" if group else v for v in self.versions)
        object.__setattr__(self, "api_versions", api_versions)
        names = {self.kind, self.plural, self.singular, *self.short_names}
        names |= {f"{self.plural}.{self.group}", f"{self.singular}.{self.group}"}
        object.__setattr__(self, "names", frozenset(n.lower() for n in names))

    # -- derived from the declaration ---------------------------------------------------------

    @property
    def field_labels(self) -> frozenset[str]:
        """Every field path a field selector on this kind may name."""
        common = ("metadata.name", "metadata.namespace") if self.namespaced else ("metadata.name",)
        return frozenset((*common, *self.selectable_fields))

    def default(self, obj: Mapping[str, Any]) -> meta.Object:
        """A defaulted copy of ``obj`` (a dict of the storage version)."""
        return objects.default_object(self.model, obj, namespaced=self.namespaced)

    def parse(self, obj: Mapping[str, Any], *, defaulted: bool = False) -> KubeObject:
        """``obj`` defaulted (unless ``defaulted`` says it is: what :meth:`default` returned),
        validated and typed; raises :class:`ValidationError` with every problem at its field
        path."""
        if obj.get("apiVersion") in self.served_api_versions:
            obj = self.to_version(obj, self.storage_api_version)
        return objects.parse_object(
            self.model,
            obj,
            kind=self.kind,
            api_versions=self.served_api_versions,
            namespaced=self.namespaced,
            defaulted=defaulted,
        )

    def validate(self, obj: Mapping[str, Any], *, defaulted: bool = False) -> None:
        """Raise :class:`ValidationError` when ``obj`` (defaults applied) is invalid."""
        self.parse(obj, defaulted=defaulted)

    def validate_update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """Raise :class:`ValidationError` when ``new`` changes what may not change."""
        errors = objects.update_errors(self.model, self.default(old), self.default(new))
        if errors:
            raise ValidationError(
                errors, subject=objects.subject(self.kind, new, namespaced=self.namespaced)
            )

    @property
    def schema(self) -> Mapping[str, Any]:
        """OpenAPI v3 schema of the object's top-level fields (``spec``, ``status``...) for
        ``kubectl explain`` and the API server's unknown-field checks."""
        return _object_schema(self.model, self.status, self.description)

    @property
    def strategic_merge_keys(self) -> Mapping[str, str]:
        """For built-in kinds: list fields merged by key in a strategic merge patch, by path
        with ``[]`` for list items (``{"spec.containers": "name"}``); other lists are
        replaced whole."""
        return _merge_keys(self.model, self.status)

    # -- names and versions ------------------------------------------------------------------

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


_HEADER = frozenset({"apiVersion", "kind", "metadata"})


@functools.cache
def _object_schema(
    model: type[KubeObject], status: type[Model] | None, description: str
) -> Mapping[str, Any]:
    whole = model_openapi.schema_of(model, description)
    properties = {k: v for k, v in whole["properties"].items() if k not in _HEADER}
    if status is not None:
        properties["status"] = model_openapi.schema_of(status)
    out = {"description": whole["description"], "type": "object", "properties": properties}
    required = [name for name in whole.get("required", ()) if name not in _HEADER]
    if required:
        out["required"] = required
    return out


@functools.cache
def _merge_keys(model: type[KubeObject], status: type[Model] | None) -> Mapping[str, str]:
    keys = model_openapi.merge_keys(model)
    if status is not None:
        keys.update({f"status.{k}": v for k, v in model_openapi.merge_keys(status).items()})
    return keys
