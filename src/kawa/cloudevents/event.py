"""The CloudEvent value type.

A :class:`CloudEvent` is an immutable pair of context attributes and data bytes. Every
attribute, required, optional or extension, lives in one mapping under its CloudEvents name
(``specversion``, ``id``, ``source``, ``type``, ``subject``, ``time`` ..., extensions in
lowercase ``a-z0-9``). Values keep their CloudEvents type: ``str`` for String, URI,
URI-reference and Timestamp (kept as the RFC 3339 text that was received), ``int`` for Integer,
``bool`` for Boolean and ``bytes`` for Binary.

``data`` is the event's payload exactly as bytes (``None`` when the event has no data). Its
media type is the ``datacontenttype`` attribute. Codecs in :mod:`kawa.cloudevents.http` and
:mod:`kawa.cloudevents.jsonformat` turn HTTP messages into events and back; they validate, this
type does not (construct events through them, or call :func:`kawa.cloudevents.validate`).

Treat ``attributes`` as read-only: use :meth:`CloudEvent.with_attributes` to derive a changed
event. (It is a plain ``dict`` for speed on the data plane.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

AttributeValue = str | int | bool | bytes

REQUIRED: Final = ("specversion", "id", "source", "type")
"""Required context attributes (CloudEvents 1.0 section 3.1.1; the same names in 0.3)."""

OPTIONAL_V1: Final = ("datacontenttype", "dataschema", "subject", "time")
"""Optional context attributes of CloudEvents 1.0 (section 3.1.2)."""

OPTIONAL_V03: Final = ("datacontenttype", "datacontentencoding", "schemaurl", "subject", "time")
"""Optional context attributes of CloudEvents 0.3."""

SPEC_VERSIONS: Final = ("1.0", "0.3")


# not frozen: made for every event, and a frozen dataclass's __init__ costs ~5x (one
# object.__setattr__ per field); never changed after it is made (ADR 0077)
@dataclass(slots=True)
class CloudEvent:
    """One CloudEvent: context ``attributes`` and ``data`` (bytes or ``None``)."""

    attributes: dict[str, AttributeValue]
    data: bytes | None = None

    @property
    def id(self) -> str:
        return str(self.attributes["id"])

    @property
    def source(self) -> str:
        return str(self.attributes["source"])

    @property
    def type(self) -> str:
        return str(self.attributes["type"])

    @property
    def specversion(self) -> str:
        return str(self.attributes["specversion"])

    @property
    def datacontenttype(self) -> str | None:
        value = self.attributes.get("datacontenttype")
        return None if value is None else str(value)

    def get(self, name: str) -> AttributeValue | None:
        """The attribute ``name`` or ``None`` when the event does not have it."""
        return self.attributes.get(name)

    def extensions(self) -> dict[str, AttributeValue]:
        """The attributes that are neither required nor optional for this specversion."""
        known = OPTIONAL_V03 if self.attributes.get("specversion") == "0.3" else OPTIONAL_V1
        return {k: v for k, v in self.attributes.items() if k not in REQUIRED and k not in known}

    def with_attributes(
        self, changes: Mapping[str, AttributeValue | None] | None = None, **kw: AttributeValue
    ) -> CloudEvent:
        """A copy with attributes set (a value of ``None`` in ``changes`` removes one)."""
        attrs = dict(self.attributes)
        for source in (changes or {}), kw:
            for key, value in source.items():
                if value is None:
                    attrs.pop(key, None)
                else:
                    attrs[key] = value
        return CloudEvent(attrs, self.data)

    def with_data(self, data: bytes | None) -> CloudEvent:
        return CloudEvent(dict(self.attributes), data)
