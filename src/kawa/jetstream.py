"""Connecting to NATS JetStream: the options of ``kawa up --nats`` and one checked connection.

Both JetStream backends (the event log, :mod:`kawa.eventlog.jetstream`, and the resource
store, :mod:`kawa.store.jetstream`) share one connection made here with ``nats-py``: the
server URLs (several for a cluster), credentials (user and password, a token, or a ``.creds``
file) and a TLS CA, as nats-py takes them. :func:`connect` fails with a
:class:`JetStreamUnavailable` that names the URLs when no server answers, when the account
has JetStream disabled, or when the credentials are refused, instead of nats-py's retries
and tracebacks. ``replicas`` is what the backends ask of every stream and bucket they make
(``--nats-replicas``: 1, or 3 on a three-server cluster).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Final

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js import errors as js_errors

from kawa.errors import PermanentError

CONNECT_TIMEOUT: Final = 5.0
"""Seconds the first connection may take (each server)."""


class JetStreamUnavailable(PermanentError):
    """NATS cannot be used: no server answered, JetStream is off, or access was refused."""


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
        return ", ".join(self.servers)


async def connect(options: NatsOptions) -> tuple[Client, JetStreamContext]:
    """A connection and its JetStream context, checked (see the module docstring)."""
    kwargs: dict[str, object] = {
        "servers": list(options.servers),
        "connect_timeout": CONNECT_TIMEOUT,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
    }
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
        if not first_error:
            first_error.append(err)

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
    return client, js


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
