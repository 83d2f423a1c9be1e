"""Declaring kinds once: typed models from which kawa derives parsers, defaults, update rules
and OpenAPI schemas (see :mod:`.base` for the shape of a declaration).

* :mod:`.base` -- :class:`Model` (and :class:`RawChecked`), :class:`Context`, :func:`doc` and
  the markers (:data:`STORED`, :class:`Immutable`, :class:`OpenAPI`, :class:`MergeKey`,
  :data:`PRESERVE`, :data:`AS_WRITTEN`);
* :mod:`.types` -- field types shared by kinds (ISO durations, non-empty strings, maps...);
* :mod:`.objects` -- :class:`ObjectMeta`, the :class:`KubeObject` base of kinds, and whole
  object defaulting, parsing and update checks;
* :mod:`.parse`, :mod:`.defaults`, :mod:`.openapi` -- the three derivations;
* :mod:`.introspect` -- what they share: reading declared types.

Pure (no I/O); uses pydantic. The kinds in :mod:`kawa.apis` declare themselves with these.
"""

from kawa.apis.model.base import (
    AS_WRITTEN,
    PRESERVE,
    STORED,
    Context,
    Immutable,
    MergeKey,
    Model,
    OpenAPI,
    RawChecked,
    doc,
)
from kawa.apis.model.objects import KubeObject, ObjectMeta

__all__ = [
    "AS_WRITTEN",
    "PRESERVE",
    "STORED",
    "Context",
    "Immutable",
    "KubeObject",
    "MergeKey",
    "Model",
    "ObjectMeta",
    "OpenAPI",
    "RawChecked",
    "doc",
]
