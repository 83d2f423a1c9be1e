"""Knative's event-display text for an event (what ``kubectl logs`` of event-display shows).

The built-in event-display service (:mod:`kawa.serving`) prints :func:`format_event` for every
event it receives. The layout is Knative's ``cmd/event_display``: the line
``☁️  cloudevents.Event`` followed by sdk-go v2's ``Event.String()``:

* ``Context Attributes,`` then ``  name: value`` lines in sdk-go's order (specversion, type,
  source, subject, id, time, dataschema, datacontenttype; 0.3: schemaurl and
  datacontentencoding instead of dataschema), optional ones only when set; ``time`` in UTC,
  RFC 3339 with nanoseconds and no trailing zeros (Go's ``RFC3339Nano``);
* ``Extensions,`` (when there are any) with ``  name: value`` lines sorted by name;
* ``Data,`` (or ``Data (binary),`` when the data is not UTF-8 text, i.e. what the JSON format
  would carry in ``data_base64``) then two spaces and the data: JSON media types
  (``application/json``, ``*/*+json``) re-indented in two-space steps with the key order and
  number spelling kept (Go's ``json.Indent``), anything else printed as it is.

The result ends with a newline.
"""

from __future__ import annotations

from typing import Final

import orjson

from kawa.cloudevents import jsonformat, timestamp
from kawa.cloudevents.event import AttributeValue, CloudEvent

HEADER: Final = "☁️  cloudevents.Event"
_ORDER_V1: Final = ("subject", "id", "time", "dataschema", "datacontenttype")
_ORDER_V03: Final = (
    "subject",
    "id",
    "time",
    "schemaurl",
    "datacontenttype",
    "datacontentencoding",
)
_PREFIX: Final = "  "
_STEP: Final = "  "


def _value(value: AttributeValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return str(jsonformat.attribute_json(value))
    return str(value)


def indent_json(text: str) -> str:
    """``text`` (valid JSON) re-indented like Go's ``json.Indent(dst, src, "  ", "  ")``.

    Insignificant whitespace is dropped, every member or element goes on its own line with the
    two-space prefix and one two-space step per level, ``:`` is followed by one space, and empty
    objects and arrays stay ``{}`` / ``[]``. Strings and numbers are copied verbatim.
    """
    out: list[str] = []
    depth = 0
    need_indent = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if need_indent and c not in "]}":
            need_indent = False
            depth += 1
            out.append("\n" + _PREFIX + _STEP * depth)
        if c == '"':
            j = i + 1
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == '"':
                    break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if c in "{[":
            out.append(c)
            need_indent = True
        elif c == ",":
            out.append(",\n" + _PREFIX + _STEP * depth)
        elif c == ":":
            out.append(": ")
        elif c in "}]":
            if need_indent:
                need_indent = False
            else:
                depth -= 1
                out.append("\n" + _PREFIX + _STEP * depth)
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _data_lines(event: CloudEvent) -> list[str]:
    data = event.data
    if data is None:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ["Data (binary),", _PREFIX + data.decode("utf-8", errors="replace")]
    content_type = event.datacontenttype
    if content_type is not None and jsonformat.is_json_media_type(content_type):
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            text = indent_json(text)
    return ["Data,", _PREFIX + text]


def format_event(event: CloudEvent) -> str:
    """The event-display text of ``event`` (several lines, ending with a newline)."""
    attrs = event.attributes
    lines = [
        HEADER,
        "Context Attributes,",
        f"  specversion: {_value(attrs.get('specversion', ''))}",
        f"  type: {_value(attrs.get('type', ''))}",
        f"  source: {_value(attrs.get('source', ''))}",
    ]
    order = _ORDER_V03 if attrs.get("specversion") == "0.3" else _ORDER_V1
    for name in order:
        value = attrs.get(name)
        if value is None and name != "id":
            continue
        if name == "time" and isinstance(value, str):
            text = timestamp.timestamp_utc(value)
        else:
            text = _value("" if value is None else value)
        lines.append(f"  {name}: {text}")
    extensions = event.extensions()
    if extensions:
        lines.append("Extensions,")
        lines.extend(f"  {name}: {_value(extensions[name])}" for name in sorted(extensions))
    lines.extend(_data_lines(event))
    return "\n".join(lines) + "\n"
