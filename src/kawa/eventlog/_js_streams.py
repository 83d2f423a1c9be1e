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
subject), so a creator that dies midway leaves nothing stuck.

A stream kawa did not make is left alone: one of our name with any other subject is refused
with a :class:`~kawa.jetstream.StreamConflict` when appending and skipped when deleting, and
trims purge only streams of our shape (a name ``<prefix>_<token>`` holding
``<prefix>.log.<token>``), not others whose subjects overlap ours. :func:`check` finds all such
streams, and a KV bucket of the log's name with other settings, before the log makes anything
(``kawa up`` runs it first). :func:`purge_below` and :func:`list_streams` call the JetStream
API directly because nats-py does not return the purged count or filter the list by subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Final

from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors
from nats.js.kv import KeyValue

from kawa import jetstream
from kawa.errors import TemporaryError
from kawa.eventlog._js_names import Names, StreamNames

API: Final = "$JS.API"
API_TIMEOUT: Final = 5.0
LEADER_WAIT: Final = 5.0
"""Seconds a new replicated stream may take to elect its leader before appends go on."""
DUPLICATE_WINDOW: Final = 120.0
"""Seconds within which a record with the same ``Nats-Msg-Id`` is stored once."""
STREAM_EXISTS: Final = 10058
"""JetStream's err_code for "stream name already in use with a different configuration"."""
SUBJECTS_OVERLAP: Final = 10065
"""JetStream's err_code for "subjects overlap with an existing stream"."""
BUCKET_HISTORY: Final = 1
"""The history of the log's KV bucket (cursors and marks: only the last value counts)."""
_BUCKET_SETTINGS: Final = (
    "subjects",
    "description",
    "retention",
    "storage",
    "discard",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msg_size",
    "max_msgs_per_subject",
    "num_replicas",
    "duplicate_window",
    "sealed",
    "deny_delete",
    "deny_purge",
    "allow_rollup_hdrs",
    "allow_direct",
)
"""What nats-py's ``create_key_value`` sets, all of which JetStream compares when the bucket
is made again (a difference fails it with :data:`STREAM_EXISTS`)."""


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


def bucket_config(names: Names, replicas: int) -> api.KeyValueConfig:
    """The log's KV bucket (cursors and high-water marks)."""
    return api.KeyValueConfig(bucket=names.bucket, history=BUCKET_HISTORY, replicas=replicas)


async def info(js: JetStreamContext, name: str) -> api.StreamInfo | None:
    return await jetstream.stream_info(js, name)


def ours(names: Names, found: api.StreamConfig) -> bool:
    """Whether ``found`` has the shape of one of the log's streams (made or half-made)."""
    name = str(found.name)
    if not name.startswith(f"{names.prefix}_"):
        return False
    n = names.of_token(name[len(names.prefix) + 1 :])
    return list(found.subjects or []) in ([n.subject], [n.init])


async def check(client: Client, js: JetStreamContext, names: Names, replicas: int) -> None:
    """Refuse (:class:`~kawa.jetstream.StreamConflict`, changing nothing) what the log could
    not use: a stream of the bucket's name with other settings than nats-py's KV bucket with
    ``replicas``, another stream holding the bucket's subjects, a stream of the log's names
    (``<prefix>_...``) with other subjects or other replicas, or another stream holding the
    log's subjects.
    Subscribes to the ticks for a moment, so that a user who may not is told (a refusal
    reaches :func:`kawa.jetstream.refusals_fail` around the call) before anything is made."""
    what = f"the event log's KV bucket {names.bucket}"
    config = bucket_config(names, replicas)
    wanted = api.StreamConfig(
        name=f"KV_{names.bucket}",
        subjects=[f"$KV.{names.bucket}.>"],
        allow_rollup_hdrs=True,
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        max_msgs_per_subject=config.history,
        num_replicas=config.replicas,
    )
    found = await info(js, str(wanted.name))
    if found is None:
        await jetstream.subjects_taken(js, str(wanted.name), wanted.subjects or [], what)
    else:
        conflict = jetstream.mismatch(found.config, wanted, _BUCKET_SETTINGS, what)
        if conflict is not None:
            raise conflict
    ticks = await client.subscribe(names.ticks)
    for _ in range(2):  # a refusal comes before the second PONG (not always the first)
        # shielded: nats-py's reader dies on the PONG of a flush that was cancelled (a
        # refusal cancels this block), logging a traceback
        await asyncio.shield(client.flush())
    await ticks.unsubscribe()
    seen: set[str] = set()
    for subject in (names.subjects, f"{names.prefix}.init.>"):
        for stream in await _list(client, "STREAM.LIST", {"subject": subject}):
            name = str(stream.config.name)
            seen.add(name)
            if ours(names, stream.config):
                wanted = api.StreamConfig(name=name, num_replicas=replicas)
                what = "an event log stream of kawa's"
                conflict = jetstream.mismatch(stream.config, wanted, ["num_replicas"], what)
                if conflict is not None:
                    raise conflict
                continue
            if name.startswith(f"{names.prefix}_"):
                raise _foreign(names, stream.config)
            raise jetstream.taken(name, subject, f"{names.prefix}_...", "the event log")
    for name in await _names(client):
        if name.startswith(f"{names.prefix}_") and name not in seen:
            found = await info(js, name)  # holds none of the log's subjects: not ours
            if found is not None:
                raise _foreign(names, found.config)


def _foreign(names: Names, found: api.StreamConfig) -> jetstream.StreamConflict:
    name = str(found.name)
    n = names.of_token(name[len(names.prefix) + 1 :])
    return jetstream.StreamConflict(
        f"JetStream stream {name} has the name of an event log stream of kawa's (streams "
        f"named {names.prefix}_... are kawa's) but holds {found.subjects}, not kawa's "
        f"[{n.subject}]: kawa changes nothing in it; if it is not kawa's, remove it (nats "
        f"stream rm {name}) or give kawa a NATS account of its own"
    )


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
            if err.err_code == SUBJECTS_OVERLAP:
                await jetstream.subjects_taken(js, n.stream, [n.subject, n.init], "the event log")
            if err.err_code != STREAM_EXISTS:
                raise
        else:
            if replicas > 1:
                await _led(js, n.stream)
            if mark == 0:
                return
        existing = await info(js, n.stream)
        if existing is None:
            raise TemporaryError(f"JetStream stream {n.stream} was deleted while being created")
    subjects = list(existing.config.subjects or [])
    if subjects == [n.subject]:
        return
    if subjects != [n.init]:
        raise _foreign(names, existing.config)
    mark = await high_water(kv, n)
    state = existing.state
    if state.last_seq < mark:
        await purge_below(client, n.stream, mark + 1)
    await js.update_stream(config(names, n, kawa_name, replicas, max_bytes, initial=False))


async def _led(js: JetStreamContext, name: str) -> None:
    """Wait (a bounded while) until the new replicated stream ``name`` has a leader: before
    that, JetStream answers its first publishes with "no response from stream"."""
    deadline = asyncio.get_running_loop().time() + LEADER_WAIT
    while asyncio.get_running_loop().time() < deadline:
        found = await info(js, name)
        if found is None or (found.cluster is not None and found.cluster.leader):
            return
        await asyncio.sleep(0.02)


async def delete(js: JetStreamContext, kv: KeyValue, n: StreamNames) -> bool:
    """Seal, remember the last seq, delete; ``False`` when there was no stream."""
    existing = await info(js, n.stream)
    if existing is None or list(existing.config.subjects or []) not in ([n.subject], [n.init]):
        return False  # none, or not ours: left alone
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
    """Every stream holding records of this log (the ones with their real subject; not other
    streams whose subjects overlap theirs)."""
    found = await _list(client, "STREAM.LIST", {"subject": names.subjects})
    return [stream for stream in found if ours(names, stream.config)]


async def _list(client: Client, what: str, body: dict[str, Any]) -> list[api.StreamInfo]:
    found: list[api.StreamInfo] = []
    while True:
        response = await _request(client, what, {**body, "offset": len(found)})
        page = response.get("streams") or []
        found.extend(api.StreamInfo.from_response(item) for item in page)
        if not page or len(found) >= int(response.get("total", 0)):
            return found


async def _names(client: Client) -> list[str]:
    """The name of every stream of the account."""
    found: list[str] = []
    while True:
        response = await _request(client, "STREAM.NAMES", {"offset": len(found)})
        page = response.get("streams") or []
        found.extend(str(name) for name in page)
        if not page or len(found) >= int(response.get("total", 0)):
            return found


async def _request(client: Client, what: str, body: dict[str, Any]) -> dict[str, Any]:
    message = await client.request(f"{API}.{what}", json.dumps(body).encode(), API_TIMEOUT)
    response: dict[str, Any] = json.loads(message.data)
    if "error" in response:
        raise js_errors.APIError.from_error(response["error"])
    return response
