"""What the log sink writes for one event: a pure function of its settings and the request.

The line has the shape of Apache Camel's log-sink (what Knative's IntegrationSink runs), so a
reader of Knative's documentation recognises it::

    Exchange[ExchangePattern: InOnly, BodyType: String, Body: Hello, Eventing Core]

``showExchangePattern``, ``showHeaders`` (the HTTP headers received, sorted, as
``Headers: {name=value, ...}``), ``showBodyType`` (``String`` for UTF-8 data, ``byte[]``
otherwise) and ``showBody`` (the data; binary data as its size) choose the parts; ``marker``
prefixes the line; ``multiline`` puts each part on a line of its own. ``Authorization`` is
always masked (an OIDC token never reaches a log); with ``logMask`` the headers and JSON
fields whose names look like secrets (password, passphrase, secret, token, key) are masked
too. Camel's exchange-property options have no counterpart in kawa and change nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from kawa.apis.integration.integrationsink import Log

MASK: Final = "xxxxx"
_SECRET_NAME: Final = re.compile(r"pass(word|phrase)|secret|token|key", re.IGNORECASE)
_ALWAYS_MASKED: Final = frozenset(("authorization", "proxy-authorization", "cookie", "set-cookie"))
"""Headers whose values never reach a log (credentials), whatever `logMask` says."""


def _masked(name: str, mask_all: bool) -> bool:
    return name.lower() in _ALWAYS_MASKED or (mask_all and bool(_SECRET_NAME.search(name)))


def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _SECRET_NAME.search(str(k)) else _mask_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def _body(data: bytes, mask: bool) -> tuple[str, str]:
    """``(body type, body text)`` of the event's data."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "byte[]", f"[{len(data)} bytes]"
    if mask:
        with contextlib.suppress(ValueError):
            text = json.dumps(_mask_json(json.loads(text)), ensure_ascii=False)
    return "String", text


def format_line(settings: Log, headers: Mapping[str, str], data: bytes | None) -> str:
    """The logged text of one event (see the module docstring)."""
    parts: list[str] = []
    if settings.show_exchange_pattern:
        parts.append("ExchangePattern: InOnly")
    if settings.show_headers:
        shown = ", ".join(
            f"{name}={MASK if _masked(name, settings.log_mask) else value}"
            for name, value in sorted(headers.items(), key=lambda item: item[0].lower())
        )
        parts.append(f"Headers: {{{shown}}}")
    body_type, body = _body(data or b"", settings.log_mask)
    if settings.show_body_type:
        parts.append(f"BodyType: {body_type}")
    if settings.show_body:
        parts.append(f"Body: {body}")
    prefix = f"{settings.marker} " if settings.marker else ""
    if settings.multiline:
        return prefix + "Exchange[\n" + "\n".join(f"  {p}" for p in parts) + "\n]"
    return f"{prefix}Exchange[{', '.join(parts)}]"
