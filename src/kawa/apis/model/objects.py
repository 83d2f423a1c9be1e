"""Whole objects: :class:`ObjectMeta`, the :class:`KubeObject` base of every kind's
declaration, and the default/parse/update functions the scheme derives from it.

A kind declares one subclass of :class:`KubeObject` with its top-level fields (``spec`` for
Knative kinds; ``data`` for a ConfigMap; ``rules`` for a Role...). ``apiVersion``, ``kind``
and ``metadata`` come from the base; ``status`` is declared apart (a kind's status model) and
never parsed with the object, since controllers own it. The parsed object is the kind's typed
view: ``trigger.spec.broker``, ``trigger.name``, ``trigger.key``.

* :func:`default_object` -- a copy with the declared defaults (Knative's ``SetDefaults``);
* :func:`parse_object` -- defaults, then validation: the typed view or a
  :class:`~kawa.errors.ValidationError` naming the object and listing every problem;
* :func:`update_errors` -- what an update may not change (:class:`~kawa.apis.model.base.Immutable`
  fields, plus the kind's :meth:`KubeObject.check_update`).

Called through :class:`kawa.apis.kinds.ResourceKind`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from pydantic import ConfigDict

from kawa.apis import meta
from kawa.apis.model import introspect
from kawa.apis.model.base import Context, Immutable, Model, doc
from kawa.apis.model.defaults import apply_defaults
from kawa.apis.model.parse import TooDeep, prune_nulls, validate
from kawa.apis.model.types import DateTime
from kawa.errors import FieldError, ValidationError

ObjT = TypeVar("ObjT", bound="KubeObject")

_STRINGS = dict[str, str]


class ObjectMeta(Model):
    """Standard object metadata: names, labels, annotations and what the server records
    about the object."""

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="ignore")

    name: Annotated[str, doc("The object's name, unique in its namespace.")] = ""
    generate_name: Annotated[
        str, doc("A prefix for a server-generated name, used when name is empty.")
    ] = ""
    namespace: Annotated[str, doc("The namespace the object lives in.")] = ""
    labels: Annotated[_STRINGS | None, doc("Keys and values to select objects by.")] = None
    annotations: Annotated[_STRINGS | None, doc("Keys and values for tools and people.")] = None
    uid: Annotated[str, doc("Set by the server: unique for all time.")] = ""
    resource_version: Annotated[
        str,
        doc("Set by the server: the version of the object, for concurrency control and watches."),
    ] = ""
    generation: Annotated[
        int, doc("Set by the server: increases when the desired state changes.")
    ] = 0
    creation_timestamp: Annotated[
        DateTime | None, doc("Set by the server: when the object was created.")
    ] = None
    deletion_timestamp: Annotated[
        DateTime | None, doc("Set by the server: when the object will be deleted.")
    ] = None
    deletion_grace_period_seconds: Annotated[
        int | None, doc("Set by the server: seconds allowed for a graceful deletion.")
    ] = None
    finalizers: Annotated[
        list[str] | None, doc("Conditions that must clear before the object is deleted.")
    ] = None
    owner_references: Annotated[
        list[dict[str, Any]] | None, doc("Objects this object depends on.")
    ] = None
    managed_fields: Annotated[
        list[dict[str, Any]] | None, doc("Which tool manages which fields.")
    ] = None
    self_link: Annotated[str | None, doc("Deprecated: the object's own URL.")] = None

    def check(self, ctx: Context) -> Iterable[FieldError]:
        raw = {
            "name": self.name or None,
            "labels": self.labels,
            "annotations": self.annotations,
            "finalizers": self.finalizers,
            "ownerReferences": self.owner_references,
        }
        if self.namespace:
            raw["namespace"] = self.namespace
        return meta.validate_metadata(raw, namespaced=ctx.namespaced, path="")


class KubeObject(Model):
    """The header every kind shares: apiVersion, kind and metadata."""

    api_version: Annotated[str, doc("The versioned schema of this object.")] = ""
    kind: Annotated[str, doc("The kind of this object.")] = ""
    metadata: Annotated[ObjectMeta, doc("Standard object metadata.")]

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The object's namespace (``default`` when it has none, as kubectl applies it)."""
        return self.metadata.namespace or meta.DEFAULT_NAMESPACE

    @property
    def uid(self) -> str:
        return self.metadata.uid

    @property
    def generation(self) -> int:
        return self.metadata.generation

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.metadata.labels or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.annotations or {})

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def check_update(cls, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[FieldError]:
        """Update rules beyond :class:`Immutable` fields (both objects defaulted)."""
        return ()


def context_of(obj: Mapping[str, Any], *, namespaced: bool = True) -> Context:
    api_version = obj.get("apiVersion")
    name = meta.metadata_of(obj).get("name")
    return Context(
        namespace=meta.namespace_of(obj),
        name=name if isinstance(name, str) else "",
        api_version=api_version if isinstance(api_version, str) else "",
        annotations=meta.annotations_of(obj),
        namespaced=namespaced,
    )


def default_object(
    model: type[KubeObject], obj: Mapping[str, Any], *, namespaced: bool
) -> meta.Object:
    """A deep copy of ``obj`` with the defaults of ``model`` written in."""
    out, has_nulls = json_copy(obj)
    if has_nulls:
        with contextlib.suppress(TooDeep):  # validation says where
            prune_nulls(model, out)
    apply_defaults(model, out, context_of(out, namespaced=namespaced))
    return out


def json_copy(obj: Mapping[str, Any]) -> tuple[meta.Object, bool]:
    """A deep copy of a JSON-shaped dict (through orjson: several times faster than
    :func:`copy.deepcopy` for resources), and whether it holds a ``null``. Anything orjson
    cannot write is copied with deepcopy (a ValidationError if it is nested too deeply)."""
    try:
        raw = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        copied = orjson.loads(raw)
    except TypeError:
        try:
            return copy.deepcopy(dict(obj)), True
        except RecursionError:
            raise ValidationError.single("", "nested too deeply") from None
    if not isinstance(copied, dict):
        return copy.deepcopy(dict(obj)), True
    return copied, b"null" in raw


def subject(kind: str, obj: Mapping[str, Any], *, namespaced: bool) -> str:
    """How an object is named in a ValidationError (``Trigger default/t1``, ``Namespace dev``)."""
    if namespaced:
        return meta.subject_of(kind, obj)
    name = meta.metadata_of(obj).get("name")
    return f"{kind} {name if isinstance(name, str) and name else '?'}"


def parse_object(
    model: type[ObjT],
    obj: Mapping[str, Any],
    *,
    kind: str,
    api_versions: tuple[str, ...],
    namespaced: bool,
    defaulted: bool = False,
) -> ObjT:
    """``obj`` defaulted (unless it is already: ``defaulted``) and validated as ``model`` (its
    ``status`` is not read); ``api_versions`` are those the caller serves (the first is the
    one parsed)."""
    out = dict(obj) if defaulted else default_object(model, obj, namespaced=namespaced)
    errors: list[FieldError] = []
    api_version = out.get("apiVersion")
    if api_version != api_versions[0]:
        expected = (
            api_versions[0] if len(api_versions) == 1 else f"one of {', '.join(api_versions)}"
        )
        errors.append(FieldError("apiVersion", f"expected {expected}, got {api_version!r}"))
    if out.get("kind") != kind:
        errors.append(FieldError("kind", f"expected {kind}, got {out.get('kind')!r}"))
    out.pop("status", None)
    parsed = validate(model, out, errors, ctx=context_of(out, namespaced=namespaced))
    if errors or parsed is None:
        raise ValidationError(
            errors or [FieldError("", "invalid object")],
            subject=subject(kind, obj, namespaced=namespaced),
        )
    return parsed


def update_errors(
    model: type[KubeObject], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[FieldError]:
    """What ``new`` changed that an update may not change (both defaulted)."""
    errors = _immutable_changes(model, old, new, "")
    errors.extend(model.check_update(old, new))
    return errors


def _immutable_changes(model: type[Model], old: Any, new: Any, path: str) -> list[FieldError]:
    """The :class:`Immutable` fields of ``model`` that differ; a parent object that is gone
    (or was not there) counts as empty, so dropping ``spec`` cannot drop ``spec.config``."""
    if not isinstance(old, Mapping) and not isinstance(new, Mapping):
        return []
    old = old if isinstance(old, Mapping) else {}
    new = new if isinstance(new, Mapping) else {}
    errors: list[FieldError] = []
    for alias, spec in introspect.fields_of(model).items():
        here = f"{path}.{alias}" if path else alias
        rule = introspect.marker(spec.markers, Immutable)
        before, after = old.get(alias), new.get(alias)
        if rule is not None and before != after:
            message = f"immutable field changed from {before!r} to {after!r}"
            errors.append(FieldError(here, f"{message}; {rule.hint}" if rule.hint else message))
        elif spec.shape.form == "model":
            errors.extend(_immutable_changes(spec.shape.tp, before, after, here))
    return errors
