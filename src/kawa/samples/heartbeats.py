"""Knative's ``heartbeats`` sample (``knative.dev/eventing/cmd/heartbeats``), as kawa runs it.

Sends a heartbeat CloudEvent to its sink at once and then every ``--period``, the source of
Knative's ContainerSource, SinkBinding and CronJob examples. Flags (Go's ``flag`` syntax:
``-name value``, ``--name=value``...), as upstream:

* ``--period`` (default ``5s``): a Go duration (``1s``, ``1m30s``, ``500ms``) or whole seconds;
* ``--label``: ``data.label`` (a Go-quoted string such as ``"\\"x\\""`` is unquoted);
* ``--msg``: ``data.msg`` (left out when empty);
* ``--eventType`` (default ``dev.knative.eventing.samples.heartbeat``);
* ``--eventSource`` (default ``https://knative.dev/eventing-contrib/cmd/heartbeats/#NS/NAME``
  from ``$POD_NAMESPACE`` and ``$POD_NAME``, both required, as upstream);
* ``--sink`` (``$K_SINK`` wins), ``--cacerts`` (``$K_CA_CERTS`` wins; PEM, for an https sink).

Each event: specversion 1.0, a new UUID ``id``, ``time`` now, extensions ``the=42``,
``heart=yes``, ``beats=true`` and then ``$K_CE_OVERRIDES``' ``extensions``, data
``{"id":<sequence from 1>,"label":"..."}`` as ``application/json``, sent in binary mode;
connection errors and 404/413/425/429/502/503/504 are retried 10 times (exponential backoff
from 20 ms). ``$ONE_SHOT=true`` sends one event and exits. Bad flags exit 2, bad environment
1; a failed send is logged and the next beat comes anyway.

Run as ``python -m kawa.samples.heartbeats [flags]`` (the catalog's program for the heartbeats
images; the container's ``args`` are the flags).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import ssl
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import aiohttp

from kawa.cloudevents import http as ce_http
from kawa.cloudevents import validation
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.samples.common import exit_now, log

DEFAULT_TYPE: Final = "dev.knative.eventing.samples.heartbeat"
DEFAULT_PERIOD: Final = 5.0
SOURCE_FORMAT: Final = "https://knative.dev/eventing-contrib/cmd/heartbeats/#{namespace}/{name}"
RETRIES: Final = 10
RETRY_BASE: Final = 0.02
RETRIABLE: Final = frozenset({404, 413, 425, 429, 502, 503, 504})
SEND_TIMEOUT: Final = 30.0
FLAGS: Final = ("eventSource", "eventType", "sink", "cacerts", "label", "period", "msg")

_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART: Final = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TRUE: Final = ("1", "t", "T", "TRUE", "true", "True")
_FALSE: Final = ("0", "f", "F", "FALSE", "false", "False")


class UsageError(ValueError):
    """Bad flags (exit 2, as Go's ``flag`` package), or ``-h`` (exit 0)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(ValueError):
    """Bad environment or flag values (exit 1)."""


def parse_duration(text: str) -> float:
    """Seconds of a Go duration (``1h2m3.5s``, ``300ms``) or of whole seconds (``10``)."""
    raw = text.strip()
    if re.fullmatch(r"[-+]?\d+", raw):
        return float(int(raw))
    sign = -1.0 if raw.startswith("-") else 1.0
    body = raw.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None:
            raise ConfigError(f"Invalid period interval provided: {json.dumps(text)}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body:
        raise ConfigError(f"Invalid period interval provided: {json.dumps(text)}")
    return sign * total


def _unquote_go(label: str) -> str:
    if not label.startswith('"'):
        return label
    try:
        value = json.loads(label)
    except ValueError:
        return ""  # Go's strconv.Unquote error is ignored: the label becomes empty
    return value if isinstance(value, str) else ""


def parse_flags(argv: Sequence[str]) -> dict[str, str]:
    """Go ``flag`` parsing of the string flags: ``-f v``, ``-f=v``, ``--f v``, ``--f=v``."""
    values: dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break  # Go stops at the first non-flag argument; the rest are ignored
        name = arg[2:] if arg.startswith("--") else arg[1:]
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help"):
            raise UsageError(usage(), code=0)
        if name not in FLAGS:
            raise UsageError(f"flag provided but not defined: -{name}\n{usage()}")
        if value is None:
            if i + 1 >= len(args):
                raise UsageError(f"flag needs an argument: -{name}\n{usage()}")
            i += 1
            value = args[i]
        values[name] = value
        i += 1
    return values


def usage() -> str:
    return "Usage of heartbeats: " + " ".join(f"[-{name} value]" for name in FLAGS)


@dataclass(slots=True)
class Heartbeats:
    """The configuration of the heartbeats sender (flags and environment combined)."""

    sink: str
    source: str
    type_: str = DEFAULT_TYPE
    period: float = DEFAULT_PERIOD
    label: str = ""
    msg: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    one_shot: bool = False
    ca_certs: str = ""
    sequence: int = 0

    @classmethod
    def configure(cls, argv: Sequence[str], env: Mapping[str, str]) -> Heartbeats:
        """Raises :class:`UsageError` (bad flags) or :class:`ConfigError` (bad values)."""
        flags = parse_flags(argv)
        for required in ("POD_NAME", "POD_NAMESPACE"):
            if required not in env:
                raise ConfigError(
                    f"[ERROR] Failed to process env var: required key {required} missing value"
                )
        one_shot = env.get("ONE_SHOT", "false")
        if one_shot not in _TRUE + _FALSE:
            raise ConfigError(
                f"[ERROR] Failed to process env var: envconfig.Process: assigning ONE_SHOT: "
                f"invalid boolean {json.dumps(one_shot)}"
            )
        overrides = _overrides(env.get("K_CE_OVERRIDES", ""))
        period_text = flags.get("period", "5s")
        period = DEFAULT_PERIOD if period_text == "" else parse_duration(period_text)
        if period <= 0:
            raise ConfigError(f"non-positive interval for the period: {json.dumps(period_text)}")
        source = flags.get("eventSource", "") or SOURCE_FORMAT.format(
            namespace=env["POD_NAMESPACE"], name=env["POD_NAME"]
        )
        return cls(
            sink=env.get("K_SINK", "") or flags.get("sink", ""),
            source=source,
            type_=flags.get("eventType", DEFAULT_TYPE),
            period=period,
            label=_unquote_go(flags.get("label", "")),
            msg=flags.get("msg", ""),
            overrides=overrides,
            one_shot=one_shot in _TRUE,
            ca_certs=env.get("K_CA_CERTS", "") or flags.get("cacerts", ""),
        )

    def next_event(self) -> CloudEvent:
        """The next heartbeat (its sequence number one more than the last)."""
        self.sequence += 1
        attributes: dict[str, AttributeValue] = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": self.source,
            "type": self.type_,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "the": 42,
            "heart": "yes",
            "beats": True,
        }
        for name, value in self.overrides.items():
            attributes[name] = value
        data: dict[str, object] = {"id": self.sequence, "label": self.label}
        if self.msg:
            data["msg"] = self.msg
        return CloudEvent(attributes, json.dumps(data, separators=(",", ":")).encode())


def _overrides(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as err:
        raise ConfigError(f"[ERROR] Unparseable CloudEvents overrides {text}: {err}") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"[ERROR] Unparseable CloudEvents overrides {text}: not an object")
    extensions = parsed.get("extensions") or {}
    if not isinstance(extensions, dict):
        raise ConfigError(f"[ERROR] Unparseable CloudEvents overrides {text}: bad extensions")
    out: dict[str, str] = {}
    for name, value in extensions.items():
        if not isinstance(value, str):
            raise ConfigError(
                f"[ERROR] Unparseable CloudEvents overrides {text}: "
                f"extension {name} must be a string"
            )
        problem = validation.extension_name_problem(name)
        if problem is not None:
            log(f"ignoring the CloudEvents override {name!r}: {problem}")
            continue
        out[name] = value
    return out


async def send(
    session: aiohttp.ClientSession, sink: str, event: CloudEvent, ssl_context: ssl.SSLContext | bool
) -> str | None:
    """Send ``event`` in binary mode, retrying; the reason it failed, or None."""
    if not sink:
        return "no sink: set K_SINK (a SinkBinding or ContainerSource does) or --sink"
    headers, body = ce_http.to_binary(event)
    problem = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(RETRY_BASE * 2 ** (attempt - 1))
        try:
            async with session.post(sink, data=body, headers=headers, ssl=ssl_context) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    return None
                problem = f"{resp.status}: {resp.reason}"
                if resp.status not in RETRIABLE:
                    return problem
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            problem = f"{type(err).__name__}: {err}"
    return problem


async def run(beats: Heartbeats) -> None:
    """Beat until cancelled (once with ``one_shot``)."""
    ssl_context: ssl.SSLContext | bool = True
    if beats.sink.startswith("https:") and beats.ca_certs:
        ssl_context = ssl.create_default_context(cadata=beats.ca_certs)
    timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        start = time.monotonic()
        while True:
            event = beats.next_event()
            log(f"sending cloudevent to {beats.sink}")
            problem = await send(session, beats.sink, event, ssl_context)
            if problem is not None:
                log(f"failed to send cloudevent: {problem}")
            if beats.one_shot:
                return
            # A ticker: beats keep their rhythm; a late one is not followed by a burst.
            now = time.monotonic()
            ticks = (now - start) // beats.period + 1
            await asyncio.sleep(start + ticks * beats.period - now)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m kawa.samples.heartbeats [flags]``: beat until SIGTERM."""
    try:
        beats = Heartbeats.configure(sys.argv[1:] if argv is None else argv, os.environ)
    except UsageError as err:
        print(err, file=sys.stderr)
        raise SystemExit(err.code) from None
    except ConfigError as err:
        log(str(err))
        raise SystemExit(1) from None
    log(f"Heartbeats Source: {beats.source}")

    async def main_loop() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, exit_now)
        await run(beats)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_loop())


if __name__ == "__main__":
    main()
