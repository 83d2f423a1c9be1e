"""``kawa replay``: deliver a Broker's archived events again to one Trigger, watching it.

``kawa replay --broker B --trigger T --from TIME [--to TIME] [--filter CESQL]`` checks its
flags (a bad one is a one-line message and exit code 2), checks that the Broker and the
Trigger exist, creates a kawa.dev ``Replay`` (:mod:`kawa.apis.replay.replay`) and shows its
progress with a progress bar until it succeeds (exit 0) or fails (exit 1). Ctrl-C leaves the
Replay running (``--cancel-on-exit`` cancels it); ``kawa replay cancel NAME`` cancels one;
``--detach`` only creates it.

A TIME is an RFC 3339 time (``2026-12-07T09:30:00Z``), ``now``, or a duration before now:
``-90m``, ``-2h``, ``-1h30m`` (Go's form) or ``-PT2H`` (ISO 8601).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import click

from kawa.apis import duration
from kawa.apis.conditions import get_condition
from kawa.apis.registry import SCHEME
from kawa.apis.replay import REPLAY
from kawa.apis.replay.replay import API_VERSION, SUCCEEDED
from kawa.cesql import CesqlError, compile_expression
from kawa.cli.client import ApiClient, CliError, resource_path
from kawa.cli.main import _ca_option, _client, _namespace_option, _server_option
from kawa.cli.options import data_dir_option
from kawa.cloudevents.timestamp import is_timestamp, parse_timestamp
from kawa.errors import ValidationError

POLL: Final = 0.25
"""Seconds between two looks at the Replay's status."""
CANCEL_PATIENCE: Final = 5.0
"""Seconds ``kawa replay cancel`` waits for kawa to report the Replay stopped."""
TIME_HELP: Final = "RFC 3339, 'now', or a duration before now (-90m, -2h, -PT2H)"


def resolve_time(text: str, now: datetime) -> str:
    """``text`` (a TIME, see the module docstring) as an RFC 3339 time; ValueError says what
    was expected."""
    value = text.strip()
    if value == "now":
        return _rfc3339(now)
    if is_timestamp(value):
        return value
    if value.startswith("-") and len(value) > 1:
        ago = value[1:]
        try:
            if ago.startswith("P"):
                seconds = duration.parse_duration(ago)
            else:
                seconds = duration.parse_go_duration(ago)
        except ValidationError as err:
            raise ValueError(f"{value!r}: {err.errors[0].message}") from None
        except (ValueError, OverflowError) as err:
            raise ValueError(f"{value!r}: {err}") from None
        try:
            return _rfc3339(now - timedelta(seconds=seconds))
        except (ValueError, OverflowError):  # before year 1, or beyond timedelta's range
            raise ValueError(f"{value!r}: expected a time within 10,000 years of now") from None
    raise ValueError(f"expected {TIME_HELP}, got {text!r}")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifest(
    name: str,
    namespace: str,
    broker: str,
    trigger: str,
    start: str,
    end: str | None,
    filter_: str | None,
) -> dict[str, Any]:
    """The Replay to create."""
    spec: dict[str, Any] = {"broker": broker, "trigger": trigger, "from": start}
    if end is not None:
        spec["to"] = end
    if filter_ is not None:
        spec["filter"] = filter_
    return {
        "apiVersion": API_VERSION,
        "kind": REPLAY.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def replay_name(trigger: str) -> str:
    """``<trigger>-replay-<5 random characters>`` (a DNS label)."""
    return f"{trigger[:45].rstrip('-')}-replay-{secrets.token_hex(3)[:5]}"


@dataclass(frozen=True, slots=True)
class Progress:
    """What the bar shows of a Replay's status."""

    records: int | None
    """Events in the window (``None`` until the window is fixed)."""
    done: int
    counts: str
    state: str
    """Why it waits, how it stands."""
    succeeded: bool | None
    """``None`` while it runs."""


def progress_of(obj: dict[str, Any]) -> Progress:
    status = obj.get("status") or {}
    progress = status.get("progress") or {}
    records = progress.get("records") if "window" in status else None
    counts = ", ".join(
        f"{progress.get(key, 0)} {label}"
        for key, label in (
            ("delivered", "delivered"),
            ("filteredOut", "filtered out"),
            ("deadLettered", "dead-lettered"),
            ("dropped", "dropped"),
            ("missed", "missed"),
        )
        if key == "delivered" or progress.get(key)
    )
    ready = get_condition(status, "Ready")
    succeeded = get_condition(status, SUCCEEDED)
    outcome = None
    state = ""
    if succeeded is not None:
        outcome = True if succeeded.is_true else False if succeeded.is_false else None
        state = succeeded.message or succeeded.reason
    if outcome is None and ready is not None and not ready.is_true and ready.message:
        state = ready.message
    return Progress(
        records if isinstance(records, int) else None,
        int(progress.get("done") or 0),
        counts,
        state,
        outcome,
    )


def _path(namespace: str, name: str | None = None) -> str:
    return resource_path(REPLAY, namespace, name)


def _check_exists(client: ApiClient, kind: str, namespace: str, name: str) -> None:
    status, _ = client.request("GET", resource_path(SCHEME.resolve(kind), namespace, name))
    if status == 404:
        raise CliError(f"{kind} {name} does not exist in namespace {namespace}")


def _watch(client: ApiClient, namespace: str, name: str, cancel_on_exit: bool) -> int:
    """Show the Replay's progress until it ends; the exit code."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    err = Console(stderr=True)
    seen = Progress(None, 0, "", "", None)
    try:
        with Bar(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[counts]}"),
            console=err,
            transient=False,
        ) as bar:
            task = bar.add_task(f"replay {name}", total=None, counts="")
            while True:
                seen = progress_of(client.checked("GET", _path(namespace, name)))
                bar.update(
                    task,
                    total=seen.records,
                    completed=seen.done,
                    counts=seen.counts if seen.records is not None else seen.state,
                )
                if seen.succeeded is not None:
                    break
                time.sleep(POLL)
    except KeyboardInterrupt:
        if cancel_on_exit:
            cancel(client, namespace, name)
            err.print(f"replay {name} cancelled")
        else:
            err.print(
                f"replay {name} keeps running: `kubectl get replay {name} -n {namespace}` "
                f"shows it, `kawa replay cancel {name} -n {namespace}` stops it"
            )
        return 130
    verdict = "succeeded" if seen.succeeded else "failed"
    click.echo(f"replay {name} {verdict}: {seen.state} ({seen.counts})")
    return 0 if seen.succeeded else 1


def cancel(client: ApiClient, namespace: str, name: str) -> None:
    """Set ``spec.cancelled`` (again on a conflict)."""
    path = _path(namespace, name)
    for _ in range(5):
        obj = client.checked("GET", path)
        obj.setdefault("spec", {})["cancelled"] = True
        status, _ = client.request("PUT", path, obj)
        if 200 <= status < 300:
            return
        if status != 409:
            client.checked("PUT", path, obj)  # raises with the server's message
    raise CliError(f"replay {namespace}/{name} changed too often to be cancelled; try again")


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return resolve_time(value, datetime.now(UTC))
    except ValueError as err:
        raise click.BadParameter(str(err), ctx, param) from None


def _cesql(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        compile_expression(value)
    except CesqlError as err:
        message = f"invalid CloudEvents SQL expression: {err.message}"
        raise click.BadParameter(message, ctx, param) from None
    return value


@click.group(invoke_without_command=True)
@click.option("--broker", metavar="NAME", help="The broker whose archived events are replayed.")
@click.option("--trigger", metavar="NAME", help="The one trigger (of that broker) they go to.")
@click.option(
    "--from", "start", metavar="TIME", callback=_when, help=f"The window's start: {TIME_HELP}."
)
@click.option(
    "--to", "end", metavar="TIME", callback=_when, help="The window's end (default: now)."
)
@click.option(
    "--filter", "filter_", metavar="CESQL", callback=_cesql, help="A CloudEvents SQL condition too."
)
@click.option("--name", help="The Replay's name (default: <trigger>-replay-<random>).")
@click.option("--cancel-on-exit", is_flag=True, help="Ctrl-C cancels the replay too.")
@click.option("--detach", is_flag=True, help="Create the Replay and return at once.")
@_namespace_option
@data_dir_option
@_server_option
@_ca_option
@click.pass_context
def replay(
    ctx: click.Context,
    broker: str | None,
    trigger: str | None,
    start: str | None,
    end: str | None,
    filter_: str | None,
    name: str | None,
    cancel_on_exit: bool,
    detach: bool,
    namespace: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Deliver a broker's archived events again to one of its triggers."""
    if ctx.invoked_subcommand is not None:
        return
    if broker is None or trigger is None or start is None:
        given = (("--broker", broker), ("--trigger", trigger), ("--from", start))
        raise click.UsageError(f"missing {', '.join(flag for flag, v in given if v is None)}")
    if end is not None and parse_timestamp(end) < parse_timestamp(start):
        raise click.UsageError(f"--from ({start}) is after --to ({end})")
    client = _client(server, data_dir, certificate_authority)
    _check_exists(client, "broker", namespace, broker)
    _check_exists(client, "trigger", namespace, trigger)
    name = name or replay_name(trigger)
    client.checked(
        "POST",
        _path(namespace),
        manifest(name, namespace, broker, trigger, start, end, filter_),
    )
    if detach:
        click.echo(f"replay.kawa.dev/{name} created")
        return
    code = _watch(client, namespace, name, cancel_on_exit)
    if code:
        ctx.exit(code)


@replay.command("cancel")
@click.argument("name")
@_namespace_option
@data_dir_option
@_server_option
@_ca_option
def cancel_command(
    name: str,
    namespace: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Stop a replay for good (what it delivered stays delivered)."""
    client = _client(server, data_dir, certificate_authority)
    cancel(client, namespace, name)
    seen = progress_of(client.checked("GET", _path(namespace, name)))
    for _ in range(int(CANCEL_PATIENCE / POLL)):  # until kawa says it stopped
        if seen.succeeded is not None:
            break
        time.sleep(POLL)
        seen = progress_of(client.checked("GET", _path(namespace, name)))
    click.echo(f"replay.kawa.dev/{name} cancelled: {seen.state or 'stopping'}")
