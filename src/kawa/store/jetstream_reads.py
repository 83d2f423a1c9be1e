"""How the JetStream resource store names its keys and reads its bucket's stream back.

A :class:`~kawa.store.base.ResourceKey` is one KV key of three tokens,
``<resource>.<namespace>.<name>`` (:func:`kv_key`), each escaped into KV's key alphabet: the
letters, digits, ``-`` and ``_`` stay, every other UTF-8 byte becomes ``=XX`` (``.`` is
``=2E``), and the empty namespace of a cluster-wide object is ``=``. So a resource's keys
are the subjects ``$KV.<bucket>.<resource>.>`` and a namespace's ``...<resource>.<ns>.*``.

A message of the bucket is a JSON object without its ``resourceVersion``: that is the
message's stream sequence, set when it is read (:func:`decode`). The store's own header
:data:`CHANGE` says whether a write was a create (``ADDED``) or an update; a delete is a KV
delete marker (``KV-Operation: DEL``) carrying the object as it was, so watches can announce
it. Markers without a body (a ``nats kv del`` by hand) are not changes kawa can describe and
are skipped by watches.

:func:`snapshot` lists one resource consistently with a resourceVersion; :func:`changes`
replays the stream after a resourceVersion and goes on live, raising
:class:`~kawa.errors.GoneError` at the first sequence the stream no longer holds. Both are
called by :class:`kawa.store.jetstream.JetStreamResourceStore` only.

A server of a cluster may die: both ask for their consumer again when the request goes
unanswered (:data:`CONSUMER_TRIES`), a watch's consumer is made again when its heartbeats stop
(:data:`WATCH_HEARTBEAT`), a watch that cannot start fails with
:class:`~kawa.errors.TemporaryError`, and neither waits for its consumer's deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors

from kawa import jetstream
from kawa.errors import GoneError, TemporaryError
from kawa.store.base import Obj, ResourceKey, WatchEvent, WatchType

CHANGE: Final = "Kawa-Change"
"""The header saying what a write was: ``ADDED`` (a create) or ``MODIFIED``."""
KV_OPERATION: Final = "KV-Operation"
DELETED_OPERATIONS: Final = frozenset({"DEL", "PURGE"})
LIST_TIMEOUT: Final = 10.0
"""Seconds a list may wait for its snapshot from the server."""
API_TIMEOUT: Final = 2.0
"""Seconds a list's or watch's JetStream API request (consumer creation above all) waits."""
CONSUMER_TRIES: Final = 5
"""Times a list or watch asks for its consumer before it fails. nats-server 2.11 and before
place an ephemeral consumer of a replicated stream on any of the stream's servers, a dead one
too (fixed by nats-server pull request 7165): with one server of three down, a third or more
of the requests go unanswered; the next request is placed afresh."""

WATCH_HEARTBEAT: Final = 1.0
"""Seconds between the heartbeats of an idle watch's consumer: nats-py makes the consumer
again after two missed ones (its server died), asking again every two until it is made."""

_PLAIN: Final = frozenset(string.ascii_letters + string.digits + "-_")


def token(text: str) -> str:
    """``text`` as one KV key token (see the module docstring)."""
    if not text:
        return "="
    return "".join(
        ch if ch in _PLAIN else "".join(f"={byte:02X}" for byte in ch.encode()) for ch in text
    )


def kv_key(key: ResourceKey) -> str:
    return f"{token(key.resource)}.{token(key.namespace)}.{token(key.name)}"


def filter_of(bucket: str, resource: str, namespace: str | None) -> str:
    """The subjects of ``resource`` (in ``namespace``) in the bucket."""
    if namespace is None:
        return f"$KV.{bucket}.{token(resource)}.>"
    return f"$KV.{bucket}.{token(resource)}.{token(namespace)}.*"


def payload(obj: Obj) -> bytes:
    """The message body of ``obj``: JSON without its resourceVersion."""
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return orjson.dumps({**obj, "metadata": metadata})


def with_version(body: bytes, seq: int) -> Obj:
    """The object of a message body, with the message's sequence as its resourceVersion."""
    obj: Obj = orjson.loads(body)
    obj.setdefault("metadata", {})["resourceVersion"] = str(seq)
    return obj


def is_deletion(headers: dict[str, str] | None) -> bool:
    """Whether a message with ``headers`` is a KV delete (or purge) marker."""
    return headers is not None and headers.get(KV_OPERATION) in DELETED_OPERATIONS


@dataclass(frozen=True, slots=True)
class _Selector:
    """Which subjects of the bucket a watch wants (compared token by token)."""

    resource: str
    namespace: str | None

    def wants(self, subject: str) -> bool:
        tokens = subject.split(".")
        return (
            len(tokens) == 5
            and tokens[2] == self.resource
            and (self.namespace is None or tokens[3] == self.namespace)
        )


def decode(msg: Msg, seq: int) -> WatchEvent | None:
    """The change a message of the bucket is, None for a bodiless marker."""
    if not msg.data:
        return None
    headers = msg.headers or {}
    kind: WatchType
    if is_deletion(headers):
        kind = "DELETED"
    else:
        kind = "ADDED" if headers.get(CHANGE) == "ADDED" else "MODIFIED"
    return WatchEvent(kind, with_version(msg.data, seq), seq)


async def _subscribe(
    js: JetStreamContext,
    stream: str,
    subjects: str,
    queue: asyncio.Queue[Msg | None],
    *,
    ordered: bool,
    policy: api.DeliverPolicy,
    start: int | None = None,
) -> JetStreamContext.PushSubscription:
    async def deliver(msg: Msg) -> None:
        queue.put_nowait(msg)

    attempt = 1
    while True:
        config = api.ConsumerConfig(opt_start_seq=start, inactive_threshold=60.0)
        if not ordered:
            config.ack_policy = api.AckPolicy.NONE
        try:
            return await js.subscribe(
                subjects,
                stream=stream,
                cb=deliver,
                ordered_consumer=ordered,
                idle_heartbeat=WATCH_HEARTBEAT if ordered else None,
                deliver_policy=policy,
                config=config,
            )
        except nats.errors.TimeoutError:
            if attempt == CONSUMER_TRIES:
                raise
            raise_if_cancelled()
            attempt += 1


async def _release(js: JetStreamContext, sub: JetStreamContext.PushSubscription) -> None:
    """Unsubscribe and ask for the consumer's deletion without waiting for the answer (best
    effort: the server drops it when idle anyway). Waiting would hold up every watch's end,
    and so kawa's shutdown, for the API timeout when the consumer's server is gone."""
    with (
        jetstream.keeping_cancellation(),
        contextlib.suppress(nats.errors.Error, js_errors.Error, TimeoutError),
    ):
        consumer = sub._consumer  # the current one (an ordered consumer may have been renewed)
        await sub.unsubscribe()
        await js._nc.publish(f"{js._prefix}.CONSUMER.DELETE.{sub._stream}.{consumer}")


async def snapshot(
    js: JetStreamContext, stream: str, bucket: str, resource: str, namespace: str | None
) -> tuple[list[Obj], int]:
    """The objects of ``resource`` (in ``namespace``) as of one resourceVersion, returned.

    A consumer delivering the last message of every subject (the state when it is made) and
    then, in order, any later ones, is read until nothing is pending. ``M``, the highest
    sequence read, leaves no change of these subjects between ``M`` and the end of the read,
    so the state read is the state at ``M``; and at any later version up to the stream's last
    before the consumer was made (``L``), so the list's version is ``max(L, M)``.
    """
    info = await js.stream_info(stream)
    version = info.state.last_seq
    queue: asyncio.Queue[Msg | None] = asyncio.Queue()
    subjects = filter_of(bucket, resource, namespace)
    sub = await _subscribe(
        js, stream, subjects, queue, ordered=False, policy=api.DeliverPolicy.LAST_PER_SUBJECT
    )
    found: dict[str, Obj] = {}
    try:
        consumer = await sub.consumer_info()
        if (
            consumer.num_pending
            or (consumer.delivered and consumer.delivered.consumer_seq)
            or not queue.empty()
            or await _holds(js, stream, subjects)
        ):
            async with asyncio.timeout(LIST_TIMEOUT):
                while True:
                    msg = await queue.get()
                    if msg is None:
                        break
                    meta = msg.metadata
                    seq = meta.sequence.stream
                    version = max(version, seq)
                    if is_deletion(msg.headers) or not msg.data:
                        found.pop(msg.subject, None)
                    else:
                        found[msg.subject] = with_version(msg.data, seq)
                    if meta.num_pending == 0:
                        break
    except TimeoutError:
        raise TemporaryError(
            f"listing {resource}: JetStream stream {stream} did not deliver its keys within "
            f"{LIST_TIMEOUT:.0f}s"
        ) from None
    finally:
        await _release(js, sub)
    items = sorted(
        found.values(),
        key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")),
    )
    return items, version


async def _holds(js: JetStreamContext, stream: str, subjects: str) -> bool:
    """Whether ``stream`` has a message on ``subjects``. Asked when a consumer just made
    reports nothing pending and nothing delivered: on a replicated stream, nats-server (2.9)
    sometimes answers so for a moment although the consumer has messages to deliver."""
    info = await js.stream_info(stream, subjects_filter=subjects)
    return bool(info.state.subjects)


async def changes(
    js: JetStreamContext,
    stream: str,
    bucket: str,
    resource: str,
    namespace: str | None,
    since: int | None,
    closing: set[asyncio.Queue[Msg | None]],
) -> AsyncIterator[WatchEvent]:
    """The changes of ``resource`` (in ``namespace``) after ``since`` (None: the stream's
    last), then live, until None is put on the queue (which sits in ``closing`` meanwhile).

    One ordered consumer reads the whole bucket from ``since + 1``: every sequence must come,
    in turn, so a sequence missing (a revision dropped by the per-key history or swept) is
    :class:`GoneError`, never a silent gap; the changes of other resources are skipped here.
    """
    queue: asyncio.Queue[Msg | None] = asyncio.Queue()
    closing.add(queue)
    sub: JetStreamContext.PushSubscription | None = None
    try:
        with jetstream.keeping_cancellation():  # else a watch would wait for ever
            try:
                info = await js.stream_info(stream)
                last, first = info.state.last_seq, info.state.first_seq
                if since is None:
                    since = last
                elif since < last and since + 1 < first:
                    raise _gone(since, first)
                sub = await _subscribe(
                    js,
                    stream,
                    f"$KV.{bucket}.>",
                    queue,
                    ordered=True,
                    policy=api.DeliverPolicy.BY_START_SEQUENCE,
                    start=since + 1,
                )
            except (nats.errors.Error, TimeoutError) as err:
                raise TemporaryError(
                    f"watching {resource}: JetStream bucket {bucket} failed: {err or type(err)}"
                ) from err
        selector = _Selector(token(resource), None if namespace is None else token(namespace))
        expected = since + 1
        while True:
            msg = await queue.get()
            if msg is None:
                return
            seq = msg.metadata.sequence.stream
            if seq < expected:  # delivered again after the ordered consumer was renewed
                continue
            if seq > expected:
                raise _gone(expected - 1, seq)
            expected = seq + 1
            if selector.wants(msg.subject):
                event = decode(msg, seq)
                if event is not None:
                    yield event
    finally:
        closing.discard(queue)
        if sub is not None:
            await _release(js, sub)


def raise_if_cancelled() -> None:
    """Deliver a cancellation that a request swallowed: on Python 3.11, ``asyncio.wait_for``
    (nats-py's requests) returns the answer, or fails with its timeout, and drops the cancel
    when both come at once (bpo-42130); the task still counts the request. A watch would then
    wait for ever, and a caller that retries a :class:`~kawa.errors.TemporaryError` (an
    informer, a controller's worker) would go on, holding up the shutdown of kawa."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _gone(since: int, oldest: int) -> GoneError:
    return GoneError(
        f"resourceVersion {since} is too old (the change after it is no longer kept; "
        f"the next kept is {oldest})"
    )
