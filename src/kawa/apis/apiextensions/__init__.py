"""The apiextensions.k8s.io/v1 API group: CustomResourceDefinition, read-only in kawa.

kawa serves Knative's kinds itself; each is listed as the CustomResourceDefinition a
Knative install would have created (``kubectl get crd``), derived from the kind's
declaration by the API server (:mod:`kawa.apiserver.crds`), which refuses writes.
:data:`KINDS` is what the scheme registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from kawa.apis.kinds import PrinterColumn, ResourceKind
from kawa.apis.model.base import Model, doc
from kawa.apis.model.objects import KubeObject
from kawa.apis.model.types import FreeForm

GROUP: Final = "apiextensions.k8s.io"
VERSION: Final = "v1"


class CustomResourceDefinitionSpec(Model):
    """The kind a CustomResourceDefinition defines: its group, names, scope and versions."""

    group: Annotated[str, doc("The API group of the kind.")]
    names: Annotated[FreeForm, doc("plural, singular, kind, listKind, shortNames, categories.")]
    scope: Annotated[str, doc("Namespaced or Cluster.")]
    versions: Annotated[
        tuple[FreeForm, ...],
        doc("The served versions: name, served, storage, schema, subresources, columns."),
    ]
    conversion: Annotated[FreeForm | None, doc("How versions are converted.")] = None
    preserve_unknown_fields: Annotated[bool, doc("Deprecated; false.")] = False


class CustomResourceDefinitionStatus(Model):
    """Whether the definition is established, and the names it was given."""

    conditions: Annotated[tuple[FreeForm, ...], doc("Established, NamesAccepted.")] = ()
    accepted_names: Annotated[FreeForm | None, doc("The names in use.")] = None
    stored_versions: Annotated[tuple[str, ...], doc("Versions objects are stored in.")] = ()


class CustomResourceDefinition(KubeObject):
    """A CustomResourceDefinition: one of the kinds kawa serves (read-only)."""

    spec: Annotated[CustomResourceDefinitionSpec, doc("The kind defined.")]


def _created_at(obj: Mapping[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("creationTimestamp")


CUSTOM_RESOURCE_DEFINITION: Final = ResourceKind(
    group=GROUP,
    versions=(VERSION,),
    kind="CustomResourceDefinition",
    plural="customresourcedefinitions",
    singular="customresourcedefinition",
    namespaced=False,
    model=CustomResourceDefinition,
    status=CustomResourceDefinitionStatus,
    short_names=("crd", "crds"),
    printer_columns=(PrinterColumn("Created At", "string", value=_created_at),),
)

KINDS: Final = (CUSTOM_RESOURCE_DEFINITION,)
"""The apiextensions.k8s.io/v1 kinds kawa serves."""

__all__ = ["CUSTOM_RESOURCE_DEFINITION", "GROUP", "KINDS", "VERSION"]
