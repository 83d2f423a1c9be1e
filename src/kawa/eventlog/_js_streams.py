"""The life of one kawa stream on JetStream: create it, keep its seqs unique, delete it.

kawa's seq *is* the JetStream stream sequence. JetStream numbers a new stream from 1, so a
stream deleted and made again would reuse seqs; kawa keeps each deleted stream's last seq (its
high-water mark) in the KV bucket, under ``h.<token>``, and starts the new stream above it:

1. :func:`delete` first **seals** the stream (no write gets in any more), reads its last seq,
   stores the mark (never lowering it), then deletes the stream.
2. :func:`ensure` makes a stream that has a mark listen on ``<prefix>.init.<token>`` only (a
   subject nobody publishes to), **purges** it with ``seq = mark + 1`` (JetStream moves the
   first seq of an empty stream there), and only then gives it its real subject. No append
   can land below the mark: until the last step, appends find no stream and wait for it.

Every step may be repeated by another process that finds the stream half-made (``init``
subject), so a creator that dies midway leaves nothing stuck. A stream of our name with any
other subject is refused with a clear error and left alone. :func:`purge_below` and
:func:`list_streams` call the JetStream API directly because nats-py does not return the
purged count or filter the list by subject.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Final

from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from kawa.errors import PermanentError, TemporaryError
from kawa.eventlog._js_names import Names, StreamNames

API: Final = "$JS.API"
API_TIMEOUT: Final = 5.0
DUPLICATE_WINDOW: Final = 120.0
"""Seconds within which a record with the same ``Nats-Msg-Id`` is stored once."""
STREAM_EXISTS: Final = 10058
"""JetStream's err_code for "stream name already in use with a different configuration"."""


def config(
    names: Names,
    n: StreamNames,
    kawa_name: str,
    replicas: int,
    max_bytes: int = 0,
    *,
    initial: bool,
) -> api.StreamConfig:
    """The stream's settings: records on file, kept until kawa trims them (with ``max_bytes``,
    a full stream refuses new records rather than dropping old ones), readable with a direct
    get, their headers republished as ticks, a sender's resend within the duplicate window
    (JetStream's default, two minutes) stored once."""
    return api.StreamConfig(
        name=n.stream,
        description=f"kawa event log stream {kawa_name}",
        subjects=[n.init if initial else n.subject],
        retention=api.RetentionPolicy.LIMITS,
        discard=api.DiscardPolicy.NEW if max_bytes else api.DiscardPolicy.OLD,
        max_bytes=max_bytes or -1,
        duplicate_window=DUPLICATE_WINDOW,
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        allow_direct=True,
        republish=api.RePublish(src=">", dest=names.tick_dest, headers_only=True),
    )


async def info(js: JetStreamContext, name: str) -> api.StreamInfo | None:
    try:
        return await js.stream_info(name)
    except js_errors.NotFoundError:
        return None


async def high_water(kv: KeyValue, n: StreamNames) -> int:
    """The last seq of the deleted incarnations of the stream (0 when none)."""
    try:
        entry = await kv.get(n.hwm_key)
    except js_errors.KeyNotFoundError:
        return 0
    return int(entry.value or b"0")


async def ensure(
    client: Client,
    js: JetStreamContext,
    kv: KeyValue,
    names: Names,
    n: StreamNames,
    kawa_name: str,
    replicas: int,
    max_bytes: int = 0,
) -> None:
    """Make sure the stream exists with its real subject and seqs above its mark."""
    existing = await info(js, n.stream)
    if existing is None:
        mark = await high_water(kv, n)
        try:
            await js.add_stream(config(names, n, kawa_name, replicas, max_bytes, initial=mark > 0))
        except js_errors.BadRequestError as err:
            if err.err_code != STREAM_EXISTS:
                raise
        else:
            if mark == 0:
                return
        existing = await info(js, n.stream)
        if existing is None:
            raise TemporaryError(f"JetStream stream {n.stream} was deleted while being created")
    subjects = list(existing.config.subjects or [])
    if subjects == [n.subject]:
        return
    if subjects != [n.init]:
        raise PermanentError(
            f"JetStream stream {n.stream} exists with subjects {subjects}, not kawa's "
            f"[{n.subject}]: remove it or choose another --nats prefix"
        )
    mark = await high_water(kv, n)
    state = existing.state
    if state.last_seq < mark:
        await purge_below(client, n.stream, mark + 1)
    await js.update_stream(config(names, n, kawa_name, replicas, max_bytes, initial=False))


async def delete(js: JetStreamContext, kv: KeyValue, n: StreamNames) -> bool:
    """Seal, remember the last seq, delete; ``False`` when there was no stream."""
    existing = await info(js, n.stream)
    if existing is None:
        return False
    if not existing.config.sealed:
        sealed = existing.config
        sealed.sealed = True
        await js.update_stream(sealed)
        existing = await info(js, n.stream)
        if existing is None:
            return False
    last = existing.state.last_seq
    if last > await high_water(kv, n):
        await kv.put(n.hwm_key, str(last).encode())
    with contextlib.suppress(js_errors.NotFoundError):
        await js.delete_stream(n.stream)
    return True


async def purge_below(client: Client, stream: str, seq: int) -> int:
    """Delete every record below ``seq``; returns how many went."""
    response = await _request(client, f"STREAM.PURGE.{stream}", {"seq": seq})
    return int(response.get("purged", 0))


async def list_streams(client: Client, names: Names) -> list[api.StreamInfo]:
    """Every stream holding records of this log (the ones with their real subject)."""
    found: list[api.StreamInfo] = []
    while True:
        response = await _request(
            client, "STREAM.LIST", {"subject": names.subjects, "offset": len(found)}
        )
        page = response.get("streams") or []
        found.extend(api.StreamInfo.from_response(item) for item in page)
        if not page or len(found) >= int(response.get("total", 0)):
            return found


async def _request(client: Client, what: str, body: dict[str, Any]) -> dict[str, Any]:
    message = await client.request(f"{API}.{what}", json.dumps(body).encode(), API_TIMEOUT)
    response: dict[str, Any] = json.loads(message.data)
    if "error" in response:
        raise js_errors.APIError.from_error(response["error"])
    return response
