"""The ``--nats*`` options of ``kawa up``: NATS JetStream for the event log and the store.

:func:`nats_options` adds them to a command and hands it one ``nats`` argument, a
:class:`kawa.jetstream.NatsOptions` (``None`` without ``--nats``: the SQLite default). The
password and token may come from the environment (``KAWA_NATS_PASSWORD``,
``KAWA_NATS_TOKEN``) so they stay out of process listings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kawa.errors import PermanentError
from kawa.jetstream import NatsOptions

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--nats",
        "nats_urls",
        metavar="URL[,URL...]",
        help="Run the event log and the resource store on NATS JetStream at these servers "
        "(nats://HOST:4222); without it, SQLite in --data-dir.",
    ),
    click.option("--nats-user", metavar="NAME", help="NATS user (with --nats-password)."),
    click.option(
        "--nats-password", envvar="KAWA_NATS_PASSWORD", metavar="TEXT", help="NATS password."
    ),
    click.option("--nats-token", envvar="KAWA_NATS_TOKEN", metavar="TEXT", help="NATS token."),
    click.option(
        "--nats-creds",
        type=click.Path(dir_okay=False, exists=True),
        metavar="FILE",
        help="A NATS .creds file (JWT and NKey).",
    ),
    click.option(
        "--nats-tls-ca",
        type=click.Path(dir_okay=False, exists=True),
        metavar="FILE",
        help="PEM CA the NATS servers' certificates must verify against (tls://).",
    ),
    click.option(
        "--nats-replicas",
        type=click.IntRange(1, 5),
        default=1,
        show_default=True,
        help="Replicas of every stream and bucket kawa makes (3 on a 3-server cluster).",
    ),
    click.option(
        "--nats-ack-wait",
        type=click.FloatRange(0.5, 3600),
        default=10.0,
        show_default=True,
        metavar="SECONDS",
        help="How long JetStream waits before it sends again the events a killed or cut-off "
        "node was delivering (live nodes keep theirs with progress notes).",
    ),
)


def nats_options(command: F) -> F:
    """Add the ``--nats*`` options; the command gets ``nats: NatsOptions | None``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        urls = kwargs.pop("nats_urls")
        more = {
            "user": kwargs.pop("nats_user"),
            "password": kwargs.pop("nats_password"),
            "token": kwargs.pop("nats_token"),
            "creds_file": kwargs.pop("nats_creds"),
            "tls_ca": kwargs.pop("nats_tls_ca"),
            "replicas": kwargs.pop("nats_replicas"),
            "ack_wait": kwargs.pop("nats_ack_wait"),
        }
        nats: NatsOptions | None = None
        if urls is not None:
            try:
                nats = NatsOptions.parse(urls, **more)
            except PermanentError as err:
                raise click.BadParameter(str(err), param_hint="--nats") from None
        elif any(value for key, value in more.items() if key not in ("replicas", "ack_wait")):
            raise click.BadParameter("NATS options need --nats URL", param_hint="--nats")
        return command(*args, nats=nats, **kwargs)

    decorated: Any = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
