"""Connecting to NATS JetStream: the options of ``kawa up --nats``, one checked connection, and
the checks that keep kawa off what is not its own.

Both JetStream backends (the event log, :mod:`kawa.eventlog.jetstream`, and the resource
store, :mod:`kawa.store.jetstream`) connect here with ``nats-py``: the server URLs (several for
a cluster), credentials (user and password, a token, or a ``.creds`` file) and a TLS CA, as
nats-py takes them. :func:`connect` fails with a :class:`JetStreamUnavailable` that names the
URLs (passwords and tokens masked) when no server answers, when the account has JetStream
disabled, or when the credentials are refused, instead of nats-py's retries and tracebacks.
``replicas`` is what the backends ask of every stream and bucket they make
(``--nats-replicas``: 1, or 3 on a three-server cluster).

:func:`keeping_cancellation` (and the decorator :func:`keeps_cancellation`) give back a
cancellation that nats-py swallowed: its requests wait with ``asyncio.wait_for``, which on
Python 3.11 returns the answer and drops a cancel that comes at the same moment (bpo-42130).
A task cancelled then would go on as if nothing happened, and one that goes on to wait for
ever (a task group of watches, a consumer's loop) keeps ``kawa up`` from stopping on SIGTERM.

**Refusals.** When the user's permissions deny a subject, the server answers nothing: it
reports a permissions violation to nats-py's error callback, and the request waits for its
timeout. Every connection :func:`connect` makes reports violations to its options'
:class:`Refusals`; inside :func:`refusals_fail` one fails the block at once with a
:class:`JetStreamRefused` naming the URLs, the user and the denied subject. Elsewhere it is
logged.

**Streams kawa did not make.** :func:`stream_info`, :func:`mismatch` and :func:`subjects_taken`
let a backend compare a stream of its name with the settings it would give it: one with other
settings, or another stream holding its subjects, is refused with a :class:`StreamConflict`
that says what differs and what to do, and is left as it is (docs/distributed.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js import errors as js_errors

from kawa.errors import PermanentError

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECT_TIMEOUT: Final = 5.0
"""Seconds the first connection may take (each server)."""
PERMISSIONS_VIOLATION: Final = "permissions violation"
"""What the server's error says when the user's permissions deny a subject (nats-py hands it
over in lower case)."""
_API_WORDS: Final = frozenset(
    {"info", "stream", "consumer", "create", "update", "delete", "names", "list", "purge"}
    | {"msg", "get", "direct", "durable", "leader", "stepdown", "snapshot", "restore"}
    | {"peer", "remove", "next", "ack"}
)
NEEDS: Final = (
    "kawa's user needs to publish to $JS.API.> and kawa's subjects and to subscribe to "
    "_INBOX.> and kawa's subjects (docs/distributed.md, Permissions, lists them)"
)


class JetStreamUnavailable(PermanentError):
    """NATS cannot be used: no server answered, JetStream is off, or access was refused."""


class JetStreamRefused(JetStreamUnavailable):
    """The server refused one of kawa's operations: the user's permissions deny its subject."""


class StreamConflict(PermanentError):
    """A stream of one of kawa's names, or holding its subjects, has settings kawa cannot use;
    kawa leaves it as it is."""


class Refusals:
    """The permissions violations NATS reports on the connections of one :class:`NatsOptions`,
    for the blocks that :func:`refusals_fail` watches."""

    def __init__(self) -> None:
        self._watching: list[_Watch] = []

    def watch(self, watch: _Watch) -> None:
        self._watching.append(watch)

    def unwatch(self, watch: _Watch) -> None:
        self._watching.remove(watch)

    def report(self, text: str) -> bool:
        """Fail every watching block with ``text``; ``False`` when no block watches."""
        cancelled: set[asyncio.Task[object]] = set()
        for watch in self._watching:
            if watch.refusal is None:
                watch.refusal = text
                if watch.task not in cancelled:  # blocks nested in one task: cancelled once
                    watch.task.cancel()
                    cancelled.add(watch.task)
        return bool(self._watching)


@dataclass(slots=True, eq=False)
class _Watch:
    task: asyncio.Task[object]
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class NatsOptions:
    """How to reach NATS (``kawa up --nats ...``)."""

    servers: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds_file: str | None = None
    tls_ca: str | None = None
    replicas: int = 1
    ack_wait: float = 10.0
    """Seconds JetStream waits before it redelivers a record a consumer took and stopped
    reporting progress on (``--nats-ack-wait``): how soon a killed node's deliveries come
    back."""
    refusals: Refusals = field(default_factory=Refusals, compare=False, repr=False)
    """Where the connections made with these options report what the server refused."""

    @classmethod
    def parse(cls, urls: str, **more: object) -> NatsOptions:
        """From ``nats://a:4222,nats://b:4222`` and the other options."""
        servers = tuple(url.strip() for url in urls.split(",") if url.strip())
        if not servers:
            raise PermanentError("--nats: expected one or more nats:// URLs, got none")
        for url in servers:
            if "://" not in url:
                raise PermanentError(
                    f"--nats: expected a URL such as nats://HOST:4222, got {url!r}"
                )
        return cls(servers, **more)  # type: ignore[arg-type]

    @property
    def where(self) -> str:
        """The server URLs, with any password or token in them masked."""
        return ", ".join(_masked(url) for url in self.servers)

    @property
    def who(self) -> str:
        """The NATS user kawa connects as, for messages (never a secret)."""
        if self.user is not None:
            return f"user {self.user!r}"
        for url in self.servers:
            parts = urlsplit(url)
            if parts.username and parts.password is not None:
                return f"user {parts.username!r}"
            if parts.username:
                return "the token's user"
        if self.token is not None:
            return "the token's user"
        if self.creds_file is not None:
            return f"the user of {self.creds_file}"
        return "the default user"


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if not parts.username:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = "***" if parts.password is None else f"{parts.username}:***"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


async def connect(options: NatsOptions, name: str = "") -> tuple[Client, JetStreamContext]:
    """A connection and its JetStream context, checked (see the module docstring); ``name``
    is how the server's monitoring (``/connz``) names it."""
    kwargs: dict[str, object] = {
        "servers": list(options.servers),
        "connect_timeout": CONNECT_TIMEOUT,
        "allow_reconnect": True,
    }
    if name:
        kwargs["name"] = name
    if options.user is not None:
        kwargs["user"] = options.user
        kwargs["password"] = options.password or ""
    if options.token is not None:
        kwargs["token"] = options.token
    if options.creds_file is not None:
        kwargs["user_credentials"] = options.creds_file
    if options.tls_ca is not None:
        context = ssl.create_default_context(cafile=options.tls_ca)
        kwargs["tls"] = context
    first_error: list[BaseException] = []

    async def on_error(err: Exception) -> None:
        text = str(err)
        if PERMISSIONS_VIOLATION in text.lower():
            text = _violation(text)
            if not options.refusals.report(text):
                log.error("NATS at %s refused %s: %s", options.where, options.who, text)
        elif not first_error:
            first_error.append(err)
        else:
            log.debug("NATS at %s: %s", options.where, text)

    kwargs["error_cb"] = on_error
    # The first connection fails fast: each server is tried twice (nats-py loops forever on a
    # refused connection with 0 or -1), then it reconnects for ever.
    kwargs["max_reconnect_attempts"] = 1
    kwargs["reconnect_time_wait"] = 0.2
    try:
        client = await nats.connect(**kwargs)  # type: ignore[arg-type]
    except (TimeoutError, OSError, nats.errors.Error) as err:
        cause = first_error[0] if first_error else err
        raise JetStreamUnavailable(
            f"cannot connect to NATS at {options.where}: {_describe(cause)}"
        ) from err
    client.options["max_reconnect_attempts"] = -1  # from now on, ride out server restarts
    client.options["reconnect_time_wait"] = 2.0
    js = client.jetstream()
    try:
        async with refusals_fail(options, "reading its JetStream account"):
            await js.account_info()
    except (js_errors.ServiceUnavailableError, nats.errors.NoRespondersError) as err:
        await client.close()
        raise JetStreamUnavailable(
            f"NATS at {options.where} has JetStream disabled for this account (start "
            f"nats-server with -js, or enable JetStream for the account)"
        ) from err
    except (TimeoutError, js_errors.APIError, nats.errors.Error) as err:
        await client.close()
        raise JetStreamUnavailable(
            f"JetStream at {options.where} did not answer: {_describe(err)}"
        ) from err
    except BaseException:
        await client.close()
        raise
    return client, js


def _violation(text: str) -> str:
    """The server's error as nats-py gives it (in lower case), with the case of the subjects
    kawa uses put back: ``permissions violation for publish to "$JS.API.STREAM.INFO.KV_x"``."""
    text = text.removeprefix("nats: ")
    head, quote, subject = text.partition('"')
    if not quote:
        return text
    subject, quote, tail = subject.partition('"')
    tokens = subject.split(".")
    upper = {"$kv": 1, "_inbox": 1, "$js": 2}.get(tokens[0], 0)
    if tokens[:2] == ["$js", "api"]:
        while upper < len(tokens) and tokens[upper] in _API_WORDS:
            upper += 1
    rest = [f"KV_{t[3:]}" if upper and t.startswith("kv_") else t for t in tokens[upper:]]
    tokens = [t.upper() for t in tokens[:upper]] + rest
    return f"{head}{quote}{'.'.join(tokens)}{quote}{tail}"


async def close(client: Client) -> None:
    """Close ``client``, also while its server is gone. nats-py (2.16) flushes on close what
    it buffered while disconnected, fails half way with ``ConnectionResetError`` and leaves
    its subscriptions' tasks running; nothing buffered then can be sent any more, so it is
    dropped first."""
    if not client.is_connected:
        client._pending.clear()
        client._pending_data_size = 0
    await client.close()


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if "Authorization" in text or "authorization" in text:
        return (
            f"access refused (check --nats-user/--nats-password/--nats-token/--nats-creds): {text}"
        )
    return text


@contextlib.contextmanager
def keeping_cancellation() -> Iterator[None]:
    """Raise :class:`asyncio.CancelledError` at the end of the block if the task was
    cancelled during it and the cancel was swallowed (see the module docstring).

    A cancel requested during the block raises the task's ``cancelling()`` count; one that
    the block handled as its own (``asyncio.timeout``, a task group) is taken back with
    ``uncancel()``. So a count higher at the end than at the start, with the block finished
    or failed otherwise, is a cancel that nobody delivered: it is delivered here. A task that
    was already cancelling before the block (clean-up after a cancel) is not cancelled again.
    """
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    try:
        yield
    except asyncio.CancelledError:
        raise
    except BaseException as err:
        if task is not None and task.cancelling() > before:
            raise asyncio.CancelledError from err
        raise
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError


def keeps_cancellation(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """``method`` run under :func:`keeping_cancellation`."""

    @functools.wraps(method)
    async def keeping(*args: P.args, **kwargs: P.kwargs) -> T:
        with keeping_cancellation():
            return await method(*args, **kwargs)

    return keeping


@contextlib.asynccontextmanager
async def refusals_fail(options: NatsOptions, what: str) -> AsyncIterator[None]:
    """Fail the block with :class:`JetStreamRefused` as soon as the server refuses one of its
    operations on a connection made with ``options`` (instead of at the request's timeout);
    ``what`` (``"opening the resource store"``) names the block's work in the message."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("refusals_fail needs a task")
    watch = _Watch(task)
    cancelling = task.cancelling()
    options.refusals.watch(watch)
    try:
        yield
    except asyncio.CancelledError:
        if watch.refusal is None or task.uncancel() > cancelling:
            raise  # cancelled by someone else as well
        raise _refused(options, what, watch.refusal) from None
    except JetStreamRefused:
        raise  # a block inside this one said it, more precisely
    except BaseException as err:
        if watch.refusal is None:
            raise
        if task.cancelling() > cancelling:
            task.uncancel()  # the block turned our cancellation into another error
        raise _refused(options, what, watch.refusal) from err
    else:
        if watch.refusal is not None:  # the block swallowed our cancellation (bpo-42130)
            if task.cancelling() > cancelling:
                task.uncancel()
            raise _refused(options, what, watch.refusal)
    finally:
        options.refusals.unwatch(watch)


@contextlib.asynccontextmanager
async def failures(options: NatsOptions, what: str) -> AsyncIterator[None]:
    """:func:`refusals_fail`, and nats-py's errors in the block as a
    :class:`JetStreamUnavailable` naming the URLs and ``what``."""
    try:
        async with refusals_fail(options, what):
            yield
    except (nats.errors.Error, TimeoutError) as err:
        raise JetStreamUnavailable(
            f"JetStream at {options.where} failed while {what}: {_describe(err)}"
        ) from err


def _refused(options: NatsOptions, what: str, refusal: str) -> JetStreamRefused:
    return JetStreamRefused(
        f"NATS at {options.where} refused {options.who} while {what}: {refusal}; {NEEDS}"
    )


# -- streams kawa did not make -----------------------------------------------------------------

_UNSET: Final[dict[str, object]] = {
    "description": None,
    "subjects": [],
    "retention": api.RetentionPolicy.LIMITS,
    "storage": api.StorageType.FILE,
    "discard": api.DiscardPolicy.OLD,
    "max_msgs": -1,
    "max_bytes": -1,
    "max_age": 0.0,
    "max_msg_size": -1,
    "max_msgs_per_subject": -1,
    "max_consumers": -1,
    "num_replicas": 1,
    "duplicate_window": 120.0,
    "sealed": False,
    "deny_delete": False,
    "deny_purge": False,
    "allow_rollup_hdrs": False,
    "allow_direct": False,
}
"""What the server takes for a setting left out (``None``; a ``duplicate_window`` of 0 too)."""
_LABELS: Final = {
    "num_replicas": "replicas",
    "max_msgs_per_subject": "history (max_msgs_per_subject)",
}


async def stream_info(js: JetStreamContext, name: str) -> api.StreamInfo | None:
    """The stream ``name``, or ``None`` when there is none."""
    try:
        return await js.stream_info(name)
    except js_errors.NotFoundError:
        return None


def mismatch(
    found: api.StreamConfig, wanted: api.StreamConfig, fields: Iterable[str], what: str
) -> StreamConflict | None:
    """The error for a stream ``found`` whose ``fields`` are not ``wanted``'s (``None`` when
    they all are); ``what`` says what the stream is to kawa (``"the resource store"``)."""
    name = wanted.name
    differ = [
        (key, _setting(found, key), _setting(wanted, key))
        for key in fields
        if _setting(found, key) != _setting(wanted, key)
    ]
    if not differ:
        return None
    if differ[0][0] == "subjects":
        differ = differ[:1]  # not the same kind of stream at all: the rest says little
    if [key for key, _, _ in differ] == ["num_replicas"]:
        _, have, want = differ[0]
        return StreamConflict(
            f"JetStream stream {name} ({what}) has {have} replica(s), and kawa was started "
            f"with --nats-replicas {want}: start kawa with --nats-replicas {have}, or change "
            f"the stream's replicas first (nats stream edit {name} --replicas {want}); kawa "
            f"changes nothing in it"
        )
    said = "; ".join(
        f"{_LABELS.get(key, key)} is {_shown(have)}, kawa's is {_shown(want)}"
        for key, have, want in differ
    )
    return StreamConflict(
        f"JetStream stream {name} ({what}) exists with other settings than kawa's: {said}. "
        f"kawa changes nothing in it: if it is not kawa's, remove it (nats stream rm {name}) "
        f"or give kawa a NATS account of its own; if it is, set those settings back (nats "
        f"stream edit {name})"
    )


async def subjects_taken(
    js: JetStreamContext, name: str, subjects: Iterable[str], what: str
) -> None:
    """Refuse (:class:`StreamConflict`) when a stream other than ``name`` holds one of
    ``subjects``, which kawa's stream ``name`` needs (JetStream lets no two streams share a
    subject)."""
    for subject in subjects:
        try:
            other = await js.find_stream_name_by_subject(subject)
        except js_errors.NotFoundError:
            continue
        if other != name:
            raise taken(other, subject, name, what)


def taken(other: str, subject: str, name: str, what: str) -> StreamConflict:
    """The error for a stream ``other`` that holds ``subject``, which kawa's ``name`` needs."""
    return StreamConflict(
        f"JetStream stream {other} holds subjects of {what} ({subject}), so kawa cannot make "
        f"its stream {name} there: kawa changes nothing in {other}; narrow its subjects, "
        f"remove it (nats stream rm {other}), or give kawa a NATS account of its own"
    )


def _setting(config: api.StreamConfig, key: str) -> object:
    value = getattr(config, key)
    if value is None or (key == "duplicate_window" and not value):  # 0: the server's default
        return _UNSET.get(key)
    return value


def _shown(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}s"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return "none" if value is None else str(value)
