"""The :class:`Filter` protocol and the attribute reading every dialect shares.

A filter is any callable ``(CloudEvent) -> bool``; the dialect modules build them as closures
at compile time. :func:`attribute_reader` compiles the lookup of one attribute into a function
of the event's attribute dict returning the attribute's *string form* (or ``None`` when the
event does not have it), which is how Knative compares: strings as they are, Booleans as
``"true"``/``"false"``, Integers in decimal, Binary in base64 (CloudEvents' canonical string
forms). Knative's aliases are honoured: ``schemaurl`` and ``dataschema`` read each other, and
``datamediatype`` is ``datacontenttype`` without its parameters.

Called by the dialect modules and :mod:`kawa.filters.compile`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from kawa.cloudevents import AttributeValue, CloudEvent

Attributes = Mapping[str, AttributeValue]
AttributeReader = Callable[[Attributes], str | None]


class Filter(Protocol):
    """Decides whether one event goes to a trigger's subscriber."""

    def __call__(self, event: CloudEvent, /) -> bool: ...


def match_all(event: CloudEvent, /) -> bool:
    """The filter of a trigger without filters: every event matches."""
    return True


def string_form(value: AttributeValue) -> str:
    """The CloudEvents canonical string form of an attribute value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


_ALIASES: Final = {"schemaurl": "dataschema", "dataschema": "schemaurl"}


def attribute_reader(name: str) -> AttributeReader:
    """A function reading attribute ``name`` (as its string form) from an attribute dict."""
    if name == "datamediatype":

        def read_media_type(attrs: Attributes) -> str | None:
            value = attrs.get("datacontenttype")
            if value is None:
                return None
            return string_form(value).partition(";")[0].strip()

        return read_media_type

    alias = _ALIASES.get(name)
    if alias is not None:
        other = alias

        def read_aliased(attrs: Attributes) -> str | None:
            value = attrs.get(name)
            if value is None:
                value = attrs.get(other)
            if value is None or type(value) is str:
                return value
            return string_form(value)

        return read_aliased

    def read(attrs: Attributes) -> str | None:
        value = attrs.get(name)
        if value is None or type(value) is str:
            return value
        return string_form(value)

    return read
