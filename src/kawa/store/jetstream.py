"""JetStream backend of the resource store: objects in a NATS KV bucket, shared by processes.

Every object is one key of the bucket ``<bucket>`` (the stream ``KV_<bucket>``; keys as
:mod:`kawa.store.jetstream_reads` names them) and its resourceVersion is the stream sequence
of its last write: one counter across all keys, kept by the server, so every process sees
the same versions and a watch can resume from any of them. The store keeps nothing but a
connection: every read asks the stream's leader, every write is one publish.

- **create** publishes with ``Nats-Expected-Last-Subject-Sequence: 0`` (KV's create; over
  a deleted key's marker, its sequence), so of concurrent creates one wins and the others
  get :class:`~kawa.errors.AlreadyExistsError`.
- **update** and **delete** read the object, compute the change
  (:mod:`kawa.store.bookkeeping`, :mod:`kawa.store.finalizers`, exactly as SQLite does) and
  publish it expecting the sequence they read. A write that lost the race reads again: an
  update naming a resourceVersion then fails with :class:`~kawa.errors.ConflictError`, an
  unconditional one is made on the newer object.
- A **removal** is a KV delete marker (``KV-Operation: DEL``) that carries the object as it
  was, so that watches, which read the stream, announce ``DELETED`` with it.
- **history**: the bucket keeps the last ``history`` revisions of each key (KV's
  ``history``, the stream's ``max_msgs_per_subject``), so a watch can resume from any of the
  last ``history`` changes of the store; one from further back may find a revision gone and
  gets :class:`~kawa.errors.GoneError` (:func:`kawa.store.jetstream_reads.changes`). A
  deleted key's revisions and marker are purged (swept) once ``history`` later changes have
  been made, so names that come and go do not pile up (a process sweeps the keys it deleted;
  a crash leaves those for a later delete of the same name to take away).

- **The bucket** is made as a KV bucket is made (:func:`bucket_config`). An existing one must
  have the settings the store relies on (:func:`check_bucket`), or it is refused, unchanged,
  with a :class:`~kawa.jetstream.StreamConflict` naming the differences; only the history of
  a bucket kawa made is set on use.

Secrets are stored as the SQLite store stores them (plain JSON): the bucket is readable by
whoever holds the NATS account's credentials, as the SQLite file by its owner.

Called by the API server, the controllers and the broker data plane through
:class:`kawa.store.base.ResourceStore`; :mod:`kawa.runtime` opens it for ``kawa up --nats``.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors

from kawa import jetstream
from kawa.errors import AlreadyExistsError, PermanentError, TemporaryError
from kawa.store import bookkeeping, finalizers
from kawa.store import jetstream_reads as reads
from kawa.store.base import ListResult, Obj, ResourceKey, WatchEvent
from kawa.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_HISTORY: Final = 64
"""Revisions of each key kept (KV's largest ``history``): a watch resumes from any of the
store's last 64 changes, and from older ones unless an object changed 64 times since."""
_WRONG_LAST_SEQUENCE: Final = frozenset({10071, 10164})
"""JetStream's error codes for a publish whose expected last subject sequence is not."""
_STREAM_EXISTS: Final = 10058
"""JetStream's error code for "stream name already in use with a different configuration"."""
_SUBJECTS_OVERLAP: Final = 10065
"""JetStream's error code for "subjects overlap with an existing stream"."""
_BUCKET_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]+$")
LEADER_WAIT: Final = 5.0
"""Seconds :meth:`JetStreamResourceStore.attach` waits for a bucket's stream to have a leader."""
_NO_PEERS: Final = 10005
"""JetStream's error code for "no suitable peers for placement": fewer servers than the
replicas are up, or the cluster does not know them all yet."""
PLACEMENT_WAIT: Final = 10.0
"""Seconds :meth:`JetStreamResourceStore.attach` asks again while JetStream has no peers to
place the bucket's replicas on (a server starting or restarting); then the error stands."""


class _Stale(Exception):
    """A publish expected a last sequence the key no longer has."""


class JetStreamResourceStore:
    """The :class:`~kawa.store.base.ResourceStore` on a JetStream KV bucket (see the module)."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        bucket: str,
        *,
        history: int = DEFAULT_HISTORY,
        owns_client: bool = False,
    ) -> None:
        """Use ``bucket`` (made by :meth:`attach`) over ``client``; closed with the store
        when ``owns_client``."""
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self._client = client
        self._js = js
        self._reads_js = client.jetstream(timeout=reads.API_TIMEOUT)
        self._history = history
        self._owns_client = owns_client
        self._closing: set[asyncio.Queue[Msg | None]] = set()
        self._deleted: collections.deque[tuple[str, int]] = collections.deque()
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, options: jetstream.NatsOptions, bucket: str, *, history: int = DEFAULT_HISTORY
    ) -> JetStreamResourceStore:
        """Connect (:func:`kawa.jetstream.connect`) and use ``bucket`` with
        ``options.replicas``; the store owns the connection."""
        client, js = await jetstream.connect(options)
        try:
            async with jetstream.refusals_fail(options, f"opening the resource store {bucket}"):
                return await cls.attach(
                    client,
                    js,
                    bucket,
                    history=history,
                    replicas=options.replicas,
                    owns_client=True,
                )
        except BaseException:
            await client.close()
            raise

    @classmethod
    @jetstream.keeps_cancellation
    async def attach(
        cls,
        client: Client,
        js: JetStreamContext,
        bucket: str,
        *,
        history: int = DEFAULT_HISTORY,
        replicas: int = 1,
        owns_client: bool = False,
    ) -> JetStreamResourceStore:
        """Make ``bucket`` if it does not exist (or set the history of kawa's own bucket if it
        changed), then use it; a stream of the bucket's name with other settings, or another
        stream holding its subjects, is refused (:func:`check_bucket`)."""
        if not _BUCKET_NAME.match(bucket):
            raise PermanentError(
                f"resource store bucket {bucket!r}: expected letters, digits, '-' and '_'"
            )
        if history < 1:
            raise PermanentError(f"resource store history: expected at least 1, got {history}")
        await _ensure_bucket(js, bucket, history, replicas)
        return cls(client, js, bucket, history=history, owns_client=owns_client)

    # -- reads -----------------------------------------------------------------------------

    @jetstream.keeps_cancellation
    async def get(self, key: ResourceKey) -> Obj:
        obj, _ = await self._read(key)
        if obj is None:
            raise bookkeeping.not_found(key)
        return obj

    async def _read(self, key: ResourceKey) -> tuple[Obj | None, int]:
        """The object (None if absent or deleted) and the key's last sequence (0: none)."""
        try:
            msg = await self._js.get_msg(self.stream, subject=self._subject(key))
        except js_errors.NotFoundError:
            return None, 0
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable(f"reading {key}", err) from err
        seq = int(msg.seq or 0)
        if reads.is_deletion(msg.headers) or not msg.data:
            return None, seq
        return reads.with_version(msg.data, seq), seq

    @jetstream.keeps_cancellation
    async def list(self, resource: str, namespace: str | None = None) -> ListResult:
        try:
            items, version = await reads.snapshot(
                self._reads_js, self.stream, self.bucket, resource, namespace
            )
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable(f"listing {resource}", err) from err
        return ListResult(items, version)

    # -- writes ----------------------------------------------------------------------------

    @jetstream.keeps_cancellation
    async def create(self, key: ResourceKey, obj: Obj, *, uid: str | None = None) -> Obj:
        new = bookkeeping.for_create(key, obj, uid)
        expected = 0
        while True:
            try:
                return await self._write(key, new, expected, "ADDED")
            except _Stale:
                existing, expected = await self._read(key)
                if existing is not None:
                    raise AlreadyExistsError(f"{key} already exists") from None

    @jetstream.keeps_cancellation
    async def update(
        self,
        key: ResourceKey,
        obj: Obj,
        *,
        status_only: bool = False,
        managed_fields: Sequence[Any] | None = None,
    ) -> Obj:
        while True:  # until a write is made on the object it was computed from
            old, seq = await self._read(key)
            if old is None:
                raise bookkeeping.not_found(key)
            new = bookkeeping.for_update(
                key, old, obj, status_only=status_only, managed_fields=managed_fields
            )
            if new == old:
                return old
            try:
                if finalizers.finished(old, new):  # the last finalizer is gone: remove it
                    removed = await self._remove(key, old, seq)
                    new["metadata"]["resourceVersion"] = removed["metadata"]["resourceVersion"]
                    return new
                return await self._write(key, new, seq, "MODIFIED")
            except _Stale:
                continue  # a version named in obj is now stale: for_update says so

    @jetstream.keeps_cancellation
    async def delete(self, key: ResourceKey) -> Obj:
        while True:
            old, seq = await self._read(key)
            if old is None:
                raise bookkeeping.not_found(key)
            marked = bookkeeping.marked_for_deletion(old)
            try:
                if marked is None:
                    return await self._remove(key, old, seq)
                # kept, marked deleting, until its finalizers go
                return old if marked == old else await self._write(key, marked, seq, "MODIFIED")
            except _Stale:
                continue

    async def _write(self, key: ResourceKey, obj: Obj, expected: int, change: str) -> Obj:
        body = reads.payload(obj)
        seq = await self._publish(key, body, expected, {reads.CHANGE: change})
        return reads.with_version(body, seq)

    async def _remove(self, key: ResourceKey, old: Obj, expected: int) -> Obj:
        body = reads.payload(old)
        seq = await self._publish(key, body, expected, {reads.KV_OPERATION: "DEL"})
        self._deleted.append((self._subject(key), seq))
        return reads.with_version(body, seq)

    async def _publish(
        self, key: ResourceKey, body: bytes, expected: int, headers: dict[str, str]
    ) -> int:
        """Append ``body`` to the key if its last sequence is ``expected``; the new one."""
        headers = {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected), **headers}
        if len(body) > self._client.max_payload:
            raise TemporaryError(
                f"cannot store {key}: it takes {len(body)} bytes, more than the NATS server's "
                f"max_payload ({self._client.max_payload}); make it smaller or raise the limit"
            )
        try:
            ack = await self._js.publish(self._subject(key), body, headers=headers)
        except js_errors.APIError as err:
            if err.err_code in _WRONG_LAST_SEQUENCE:
                raise _Stale from None
            raise self._unavailable(f"writing {key}", err) from err
        except (nats.errors.Error, TimeoutError) as err:
            raise self._unavailable(f"writing {key}", err) from err
        if ack.seq and self._deleted and self._deleted[0][1] + self._history <= ack.seq:
            self._sweep_soon(ack.seq)
        return int(ack.seq)

    def _sweep_soon(self, last: int) -> None:
        """Purge, in the background, the deleted keys ``history`` changes behind ``last``."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(last))

    async def _sweep(self, last: int) -> None:
        while self._deleted and self._deleted[0][1] + self._history <= last:
            subject, seq = self._deleted.popleft()
            try:  # everything of the key up to its marker; a newer object stays
                await self._js.purge_stream(self.stream, subject=subject, seq=seq + 1)
            except (nats.errors.Error, js_errors.Error, TimeoutError) as err:
                log.warning("cannot sweep %s from %s: %s", subject, self.stream, err)

    # -- watch -----------------------------------------------------------------------------

    def watch(
        self, resource: str, namespace: str | None = None, since: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        return reads.changes(
            self._reads_js, self.stream, self.bucket, resource, namespace, since, self._closing
        )

    async def close(self) -> None:
        for queue in builtins.list(self._closing):
            queue.put_nowait(None)
        if self._sweeper is not None:
            await cancel_and_wait(self._sweeper)
        if self._owns_client:
            await asyncio.sleep(0)  # let the watches end before their connection does
            await jetstream.close(self._client)

    # -- helpers ---------------------------------------------------------------------------

    def _subject(self, key: ResourceKey) -> str:
        return f"$KV.{self.bucket}.{reads.kv_key(key)}"

    def _unavailable(self, what: str, err: BaseException) -> TemporaryError:
        """The error to raise for a failed request; a cancellation the request swallowed
        instead (see :func:`~kawa.store.jetstream_reads.raise_if_cancelled`)."""
        reads.raise_if_cancelled()
        return TemporaryError(f"{what}: JetStream bucket {self.bucket} failed: {err or type(err)}")


DESCRIPTION: Final = "kawa resource store"
"""The description of the buckets kawa makes: an existing one may take another history."""
_SETTINGS: Final[tuple[str, ...]] = (
    "subjects",
    "retention",
    "storage",
    "discard",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msg_size",
    "max_msgs_per_subject",
    "num_replicas",
    "sealed",
    "deny_purge",
    "allow_rollup_hdrs",
)
"""The settings a bucket must have to hold the store: what it keeps (no limit drops an object,
the history), where (file storage, the replicas), and what writes and sweeps need."""


def bucket_config(bucket: str, history: int, replicas: int) -> api.StreamConfig:
    """The stream of the bucket, made as a KV bucket is made (so NATS tools see a bucket),
    with reads from the leader (no direct gets from replicas that may lag)."""
    return api.StreamConfig(
        name=f"KV_{bucket}",
        description=DESCRIPTION,
        subjects=[f"$KV.{bucket}.>"],
        allow_rollup_hdrs=True,
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=120.0,
        max_consumers=-1,
        max_msgs=-1,
        max_msgs_per_subject=history,
        num_replicas=replicas,
        storage=api.StorageType.FILE,
        allow_direct=False,
    )


async def check_bucket(
    js: JetStreamContext, bucket: str, history: int, replicas: int
) -> api.StreamInfo | None:
    """The bucket's stream if it exists and can hold the store, ``None`` if it does not
    exist and can be made; else a :class:`~kawa.jetstream.StreamConflict` that says what
    differs. Only the history of a bucket kawa made may differ (it is set on use)."""
    wanted = bucket_config(bucket, history, replicas)
    name = str(wanted.name)
    what = f"the resource store's KV bucket {bucket}"
    try:
        info = await jetstream.stream_info(js, name)
        if info is None:
            await jetstream.subjects_taken(js, name, wanted.subjects or [], what)
            return None
    except (nats.errors.Error, TimeoutError) as err:
        raise TemporaryError(f"cannot look up {what}: {err}") from err
    settings = _SETTINGS
    if info.config.description == DESCRIPTION:
        settings = tuple(key for key in _SETTINGS if key != "max_msgs_per_subject")
    conflict = jetstream.mismatch(info.config, wanted, settings, what)
    if conflict is not None:
        raise conflict
    return info


async def _ensure_bucket(js: JetStreamContext, bucket: str, history: int, replicas: int) -> None:
    """Make the bucket, or set the history of kawa's own (see :func:`check_bucket`)."""
    info = await check_bucket(js, bucket, history, replicas)
    what = f"the resource store's KV bucket {bucket}"
    try:
        if info is None:
            try:
                await _placed(lambda: js.add_stream(bucket_config(bucket, history, replicas)))
            except js_errors.BadRequestError as err:
                if err.err_code not in (_STREAM_EXISTS, _SUBJECTS_OVERLAP):
                    raise
                # made meanwhile, by another kawa or someone else: look again
                await _ensure_bucket(js, bucket, history, replicas)
        elif info.config.max_msgs_per_subject != history:
            config = info.config
            config.max_msgs_per_subject = history
            await _placed(lambda: js.update_stream(config))
        await _led(js, f"KV_{bucket}")
    except js_errors.APIError as err:
        raise PermanentError(f"cannot make or change {what}: {err}") from err
    except (nats.errors.Error, TimeoutError) as err:
        raise TemporaryError(f"cannot make or change {what}: {err}") from err


async def _placed(request: Callable[[], Awaitable[api.StreamInfo]]) -> api.StreamInfo:
    """``request()`` (a stream made or changed), asked again for up to :data:`PLACEMENT_WAIT`
    while JetStream has no peers to place its replicas on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PLACEMENT_WAIT
    while True:
        try:
            return await request()
        except js_errors.BadRequestError as err:
            if err.err_code != _NO_PEERS or loop.time() > deadline:
                raise
            log.info("JetStream has no peers for the bucket's replicas yet (%s); asking again", err)
        await asyncio.sleep(0.25)


async def _led(js: JetStreamContext, stream: str) -> None:
    """Wait (a bounded while) until ``stream`` has a leader. A replicated stream just made (by
    this kawa or by another node starting at the same time) has none for a moment, and
    JetStream answers writes to it with "no response from stream" until it has."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEADER_WAIT
    while loop.time() < deadline:
        try:
            info = await js.stream_info(stream)
        except js_errors.NotFoundError:
            return
        if info.cluster is None or info.cluster.leader:
            return
        await asyncio.sleep(0.02)
