"""The base of every declared resource type: :class:`Model`, its markers and :class:`Context`.

A kind is declared once, as pydantic models (one class per JSON object of its schema), in the
shape Knative declares its Go structs: Python attributes in snake_case, JSON names in
camelCase, each field with a description (:func:`doc`). From that one declaration kawa derives

* the parser: :func:`kawa.apis.model.parse.validate` turns a dict into the typed view, with
  every problem as a :class:`~kawa.errors.FieldError` at its Kubernetes field path;
* the defaults: fields marked :data:`STORED` are written into the stored object when absent
  (:mod:`kawa.apis.model.defaults`), plus the context-dependent ones of :meth:`set_defaults`;
* the OpenAPI v3 schema that ``kubectl explain`` shows (:mod:`kawa.apis.model.openapi`);
* the update rules: fields marked :class:`Immutable`.

A field marked :data:`AS_WRITTEN` keeps the defaults of the part it holds out of the stored
object and the schema (a built-in type embedded in a custom resource).

Rules that a type alone cannot say (Knative's ``Validate``) are :meth:`Model.check`, called on
every model of a valid object with paths relative to that model. A :class:`RawChecked` model
adds :meth:`RawChecked.check_raw`: rules across its fields that must be reported together with
type errors (Kubernetes validates a Pod in one pass: a probe naming a port the container lacks
is reported next to a misspelt field). Markers are plain values in ``Annotated[...]`` metadata;
they do nothing inside pydantic and are read by the modules above.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from kawa.errors import FieldError


def doc(description: str, **constraints: Any) -> Any:
    """A field's description (what ``kubectl explain`` prints) and optional pydantic
    constraints (``ge``, ``le``, ``min_length``, ``pattern``, ``alias``)."""
    info: FieldInfo = Field(description=description, **constraints)
    return info


@dataclass(frozen=True, slots=True)
class Stored:
    """Marker: the field's default value is written into the stored object when the field is
    absent (as the Kubernetes API server and Knative's defaulting webhooks do); the schema
    shows it as ``default``."""


STORED: Final = Stored()


@dataclass(frozen=True, slots=True)
class Immutable:
    """Marker: an update may not change the field (``hint`` tells what to do instead)."""

    hint: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class OpenAPI:
    """Marker: the field's OpenAPI schema, where the Python type is not its JSON type (an ISO
    8601 duration parsed to seconds is a ``string`` in the schema)."""

    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MergeKey:
    """Marker on a list of objects: a strategic merge patch merges items by this key
    (Kubernetes' ``x-kubernetes-patch-merge-key``), as a Pod's containers by ``name``."""

    key: str


@dataclass(frozen=True, slots=True)
class PreserveUnknown:
    """Marker on an object type: the schema keeps fields it does not declare
    (``x-kubernetes-preserve-unknown-fields``), as Kubernetes does for free-form content."""


PRESERVE: Final = PreserveUnknown()


@dataclass(frozen=True, slots=True)
class AsWritten:
    """Marker on a field holding a part of a built-in kind inside a custom resource (a
    ContainerSource's PodTemplateSpec): the part's own declared defaults are neither written
    into the stored object nor shown in the schema, as Kubernetes defaults nothing inside a
    custom resource's embedded built-in type (the Pods made from it are defaulted when they are
    created). The typed view still reads the declared defaults; the kind's own
    :meth:`Model.set_defaults` may still write into the part."""


AS_WRITTEN: Final = AsWritten()


@dataclass(frozen=True, slots=True)
class Context:
    """What rules and defaults may depend on beyond the value itself.

    ``namespace`` is the object's (``default`` when it has none): references default to it.
    ``name`` is the object's name (``""`` when it has none): what its parts may be named after
    (a Revision template's name starts with its Service's). ``api_version`` is the object's
    apiVersion; ``annotations`` its annotations; ``namespaced``
    whether its kind lives in namespaces. ``options``
    carries kind-specific switches (such as the serving rules of a Revision's containers).
    """

    namespace: str = "default"
    name: str = ""
    api_version: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    namespaced: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, name: str) -> Any:
        return self.options.get(name)


class Model(BaseModel):
    """A JSON object of a kind's schema: camelCase names, no unknown fields, immutable.

    Values are validated in pydantic's strict JSON mode (what Kubernetes' decoder accepts:
    ``"5"`` is not an integer, ``true`` not a string). Subclasses declare fields with
    ``Annotated[type, doc("...")]``; the class docstring describes the object itself.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
        protected_namespaces=(),
    )

    unknown_field_hints: ClassVar[Mapping[str, str]] = {}
    """What to say of well-known misplaced fields (a field of another version), by JSON name."""

    def as_dict(self) -> dict[str, Any]:
        """The value as JSON data with its JSON names, unset fields left out (parsed values,
        such as durations in seconds, stay parsed)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def check(self, ctx: Context) -> Iterable[FieldError]:
        """Rules beyond the types (Knative's ``Validate``): problems of this object, with
        paths relative to it. Called only when the whole object has the right shape."""
        return ()

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        """Defaults that depend on the context or on other fields (Knative's
        ``SetDefaults``), written into the object's dict in place; static defaults are
        declared with :data:`STORED` instead."""


class RawChecked(Model):
    """A Model with rules across its fields that are reported together with the type errors of
    the whole value, as Kubernetes' hand-written validation of built-in kinds does.

    :meth:`check` runs only once every type holds; :meth:`check_raw` runs on the raw JSON
    value next to the type check (:func:`kawa.apis.model.parse.validate` walks the value to
    every ``RawChecked`` model it holds), so a Pod that names a volume it lacks *and*
    misspells a field gets both answers at once. The raw value's types are not checked yet:
    read it defensively and leave type problems to the declaration. Like :meth:`check`, it
    does not run for typed views built in code.
    """

    @classmethod
    def check_raw(cls, data: Mapping[str, Any]) -> Iterable[FieldError]:
        """Problems of the raw value ``data`` (a mapping), with paths relative to it."""
        return ()
