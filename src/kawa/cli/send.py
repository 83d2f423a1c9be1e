"""``kawa send``: build one CloudEvent from flags and POST it (binary or structured mode)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from kawa.cli.client import CliError
from kawa.cloudevents import http as ce_http
from kawa.cloudevents import validation
from kawa.cloudevents.event import AttributeValue, CloudEvent

_FLAG_OF = {
    "id": "--id",
    "source": "--source",
    "type": "--type",
    "subject": "--subject",
    "datacontenttype": "--content-type",
    "specversion": "--specversion",
}


def read_data(data: str | None) -> bytes | None:
    """``--data TEXT`` or ``--data @FILE``."""
    if data is None:
        return None
    if data.startswith("@"):
        path = Path(data[1:])
        try:
            return path.read_bytes()
        except OSError as err:
            raise CliError(f"--data: cannot read {path}: {err.strerror or err}") from None
    return data.encode("utf-8")


def build_event(
    *,
    type_: str,
    source: str,
    id_: str | None,
    subject: str | None,
    data: bytes | None,
    content_type: str | None,
    extensions: tuple[str, ...],
) -> CloudEvent:
    attributes: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": id_ or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }
    if subject is not None:
        attributes["subject"] = subject
    if data is not None:
        if content_type is None:
            try:
                orjson.loads(data)
                content_type = "application/json"
            except orjson.JSONDecodeError:
                content_type = "text/plain"
        attributes["datacontenttype"] = content_type
    elif content_type is not None:
        attributes["datacontenttype"] = content_type
    problems: list[str] = []
    for item in extensions:
        name, sep, value = item.partition("=")
        if not sep:
            problems.append(f"--extension {item!r}: expected NAME=VALUE")
            continue
        if name in attributes or name in ("data", "data_base64"):
            problems.append(f"--extension {name}: use the dedicated flag for this attribute")
            continue
        attributes[name] = value
    for error in validation.validate(attributes):
        flag = _FLAG_OF.get(error.path, f"--extension {error.path}")
        problems.append(f"{flag}: {error.message}")
    if problems:
        raise CliError("invalid event:\n" + "\n".join(f"  - {p}" for p in problems))
    return CloudEvent(attributes, data)


def post(
    url: str,
    event: CloudEvent,
    mode: str,
    timeout: float = 30.0,
    context: ssl.SSLContext | None = None,
) -> tuple[int, str, bytes]:
    """POST the event; (status, reason, body) whatever the status (an https ``url`` verified
    with ``context``: the system's CAs by default)."""
    if mode == "structured":
        headers, body = ce_http.to_structured(event)
    else:
        headers, body = ce_http.to_binary(event)
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            return resp.status, resp.reason, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, str(err.reason), err.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise CliError(f"cannot send to {url}: {getattr(err, 'reason', err)}") from None
