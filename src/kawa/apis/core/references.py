"""References to other objects in the core/v1 kinds: :class:`ObjectReference` (an Event's
``involvedObject``, a ServiceAccount's ``secrets``) and :class:`LocalObjectReference` (a
Secret by name in the same namespace: ``imagePullSecrets``). Pure declarations, embedded by
:mod:`kawa.apis.core` kinds.
"""

from __future__ import annotations

from typing import Annotated

from kawa.apis.model.base import Model, doc


class ObjectReference(Model):
    """A reference to an object (any field may be empty)."""

    kind: Annotated[str, doc("Kind of the object (Pod, Secret, Broker...).")] = ""
    namespace: Annotated[str, doc("Namespace of the object.")] = ""
    name: Annotated[str, doc("Name of the object.")] = ""
    uid: Annotated[str, doc("UID of the object.")] = ""
    api_version: Annotated[str, doc("API version of the object.")] = ""
    resource_version: Annotated[
        str, doc("The object's resourceVersion the reference was made against.")
    ] = ""
    field_path: Annotated[
        str, doc("A part of the object, such as spec.containers{app}, when not the whole.")
    ] = ""


class LocalObjectReference(Model):
    """An object of the same namespace, by name."""

    name: Annotated[str, doc("Name of the object.")] = ""
