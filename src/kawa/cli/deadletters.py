"""``kawa deadletters list|show|redrive|purge``: the dead-letter store of brokers and channels.

Each command asks the ``deadletters`` subresource of a Broker (``--broker``; without it,
of every Broker in the namespace) or of an InMemoryChannel (``--channel``)
(:mod:`kawa.observability.deadletters`) over the API's verified TLS with the CLI token, as
``why`` and ``trace`` do. The filters are the same for every command: ``--trigger`` (or
``--subscription``), ``--since`` and ``--until`` (an RFC 3339 time, or an age such as
``30m``, ``2h``, ``7d``), ``--status`` (the last status code; 0 for no answer) and ``--id``.
Tables as ``kawa get`` prints them; ``-o json`` prints kawa's answers. A bad flag value is a
one-line error and exit code 2; a redrive with an entry not delivered exits 1.

:func:`parse_time` and :func:`rows` are pure (tested alone). Registered lazily by
:mod:`kawa.cli.main`.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import click
import orjson

from kawa.apiserver import access
from kawa.cli import target
from kawa.cli.client import ApiClient, CliError, check_url, unexpected_answer
from kawa.cli.options import data_dir_option

AGE: Final = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ERROR_WIDTH: Final = 60
"""Characters of an error shown in a table cell (``show`` and ``-o json`` give it whole)."""


class BadFlag(click.UsageError):
    """A flag kawa cannot use: one line on stderr, exit code 2."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class DeadLettersGroup(click.Group):
    """Makes click's own usage errors one line too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            raise BadFlag(err.format_message(), ctx) from None


def parse_time(flag: str, value: str | None, now: float) -> float | None:
    """Unix seconds of ``value``: an RFC 3339 time (a zone is required: ``Z`` or an offset) or
    an age (``90s``, ``30m``, ``2h``, ``7d``: that long before ``now``); BadFlag otherwise."""
    if value is None or value == "":
        return None
    age = AGE.match(value)
    if age is not None:
        return now - float(age.group(1)) * UNITS[age.group(2)]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadFlag(
            f"{flag}: expected an RFC 3339 time with a zone (2026-12-07T10:00:00Z) or an age"
            f" (90s, 30m, 2h, 7d), got {value!r}"
        )
    return parsed.timestamp()


def filters(
    trigger: str | None,
    subscription: str | None,
    since: str | None,
    until: str | None,
    status: int | None,
    ids: Sequence[int],
    now: float,
) -> dict[str, str]:
    """The query parameters of the filter flags (BadFlag for a value kawa cannot use)."""
    if trigger is not None and subscription is not None:
        raise BadFlag("give --trigger or --subscription, not both")
    start, end = parse_time("--since", since, now), parse_time("--until", until, now)
    if start is not None and end is not None and end < start:
        raise BadFlag("--until: expected a time at or after --since")
    if status is not None and not 0 <= status <= 999:
        raise BadFlag(f"--status: expected an HTTP status code (0: no answer), got {status}")
    out: dict[str, str] = {}
    if trigger is not None:
        out["trigger"] = trigger
    if subscription is not None:
        out["subscription"] = subscription
    if start is not None:
        out["since"] = repr(start)
    if end is not None:
        out["until"] = repr(end)
    if status is not None:
        out["status"] = str(status)
    if ids:
        out["id"] = ",".join(str(n) for n in ids)
    return out


def rows(answers: Sequence[Mapping[str, Any]], now: float) -> list[list[str]]:
    """The table of ``list``: a header, then one row per entry of each answer."""
    out = [["BROKER", "ID", "TRIGGER", "EVENT ID", "TYPE", "STATUS", "ATTEMPTS", "AGE", "ERROR"]]
    for answer in answers:
        if answer.get("kind") == "InMemoryChannel":
            out[0][0], out[0][2] = "CHANNEL", "SUBSCRIPTION"
        for entry in answer.get("deadLetters") or []:
            event = entry.get("event") or {}
            status = entry.get("status")
            out.append(
                [
                    str(answer.get("name", "")),
                    str(entry.get("id", "")),
                    str(entry.get("name", "")),
                    str(event.get("id", "")),
                    str(event.get("type", "")),
                    "-" if status is None else str(status),
                    str(entry.get("attempts", "")),
                    _age(now - float(entry.get("at") or now)),
                    _clip(str(entry.get("error") or "")),
                ]
            )
    return out


def table(lines: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns three spaces apart, as ``kawa get`` prints."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 3] + "..."


def _path(namespace: str, name: str, *, channel: bool, query: Mapping[str, str]) -> str:
    owner = (
        f"messaging.knative.dev/v1/namespaces/{namespace}/inmemorychannels"
        if channel
        else f"eventing.knative.dev/v1/namespaces/{namespace}/brokers"
    )
    quoted = urllib.parse.quote(name, safe="")
    path = f"/apis/{owner}/{quoted}/deadletters"
    return f"{path}?{urllib.parse.urlencode(query)}" if query else path


def _owners(
    client: ApiClient, namespace: str, broker: str | None, channel: str | None
) -> list[str]:
    """The brokers (or the one channel) asked about."""
    if channel is not None:
        return [channel]
    if broker is not None:
        return [broker]
    path = f"/apis/eventing.knative.dev/v1/namespaces/{namespace}/brokers"
    items = client.checked("GET", path).get("items")
    if not isinstance(items, list):
        raise unexpected_answer(client.where("GET", path), "expected a list of brokers")
    return [str((item.get("metadata") or {}).get("name")) for item in items]


def _client(server: str | None, data_dir: Path, ca: Path | None) -> ApiClient:
    return ApiClient(target.find(server, data_dir, ca), access.read_token(data_dir), timeout=300)


def _common(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--broker", metavar="NAME", help="The broker (default: every one)."),
            click.option("--channel", metavar="NAME", help="Or an InMemoryChannel."),
            click.option("-n", "--namespace", default="default", show_default=True),
            click.option("--trigger", metavar="NAME", help="Only this trigger's entries."),
            click.option("--subscription", metavar="NAME", help="Only this subscription's."),
            click.option("--since", metavar="TIME", help="Given up at or after (RFC 3339, 2h)."),
            click.option("--until", metavar="TIME", help="Given up at or before."),
            click.option("--status", type=int, help="The last status code (0: no answer)."),
            click.option("--id", "ids", type=int, multiple=True, help="An entry id (repeat)."),
            click.option("-o", "--output", type=click.Choice(["json"]), help="kawa's answers."),
            data_dir_option,
            click.option("--server", metavar="URL", help="kawa's https:// API URL."),
            click.option(
                "--certificate-authority",
                type=click.Path(dir_okay=False, path_type=Path),
                metavar="FILE",
                help="PEM certificate(s) the server's must verify against.",
            ),
        ]
    ):
        func = option(func)
    return func


class Asked:
    """What one command's flags ask (the filters checked before anything is sent)."""

    def __init__(self, flags: Mapping[str, Any]) -> None:
        if flags["broker"] is not None and flags["channel"] is not None:
            raise BadFlag("give --broker or --channel, not both")
        if flags["channel"] is None and flags["subscription"] is not None:
            raise BadFlag("--subscription: only with --channel (a trigger's is --trigger)")
        self.query = filters(
            flags["trigger"],
            flags["subscription"],
            flags["since"],
            flags["until"],
            flags["status"],
            flags["ids"],
            time.time(),
        )
        self.namespace: str = flags["namespace"]
        self.channel: bool = flags["channel"] is not None
        self.json = flags["output"] == "json"
        self.client = _client(flags["server"], flags["data_dir"], flags["certificate_authority"])
        self.owners = _owners(self.client, self.namespace, flags["broker"], flags["channel"])

    def paths(self, extra: Mapping[str, str] | None = None) -> list[str]:
        query = dict(self.query) | dict(extra or {})
        return [_path(self.namespace, o, channel=self.channel, query=query) for o in self.owners]


def _echo_json(answers: list[dict[str, Any]]) -> None:
    click.echo(orjson.dumps(answers, option=orjson.OPT_INDENT_2).decode())


@click.group(cls=DeadLettersGroup)
def deadletters() -> None:
    """See, redrive and purge the events triggers and subscriptions gave up (the dead-letter
    store)."""


@deadletters.command("list")
@_common
def list_command(**flags: Any) -> None:
    """The stored dead letters, oldest first."""
    asked = Asked(flags)
    answers = [asked.client.checked("GET", path) for path in asked.paths()]
    if asked.json:
        _echo_json(answers)
        return
    lines = rows(answers, time.time())
    click.echo(table(lines) if len(lines) > 1 else "No dead letters.")


@deadletters.command("show")
@click.argument("entry", type=int)
@_common
def show_command(entry: int, **flags: Any) -> None:
    """One entry whole: why it was given up, the event and its headers."""
    flags["ids"] = (entry,)
    asked = Asked(flags)
    for path in asked.paths({"full": "true"}):
        answer = asked.client.checked("GET", path)
        for found in answer.get("deadLetters") or []:
            if asked.json:
                _echo_json([found])
            else:
                click.echo(_detail(answer, found))
            return
    raise CliError(f"no dead letter {entry} in {', '.join(asked.owners) or 'no broker'}")


def _detail(answer: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    at = datetime.fromtimestamp(float(found.get("at") or 0), UTC).isoformat()
    what = "Subscription" if found.get("kind") == "subscription" else "Trigger"
    lines = [
        f"Entry:        {found.get('id')} of {answer.get('kind')} {answer.get('name')}",
        f"{what + ':':<14}{found.get('name')}",
        f"Given up:     {at}",
        f"Attempts:     {found.get('attempts')}",
        f"Last status:  {found.get('status') if found.get('status') is not None else '-'}",
        f"Error:        {found.get('error')}",
        f"Destination:  {found.get('destination')}",
        f"Event seq:    {found.get('seq')}",
        "Event:",
        orjson.dumps(found.get("cloudEvent"), option=orjson.OPT_INDENT_2).decode(),
    ]
    if found.get("headers"):
        lines += ["Headers:", orjson.dumps(found["headers"], option=orjson.OPT_INDENT_2).decode()]
    return "\n".join(lines)


@deadletters.command("redrive")
@click.option("--to", metavar="URL", help="Send there instead of the entry's own subscriber.")
@_common
def redrive_command(to: str | None, **flags: Any) -> None:
    """Send the matching entries again, once each, to their own trigger's subscriber (or --to
    URL); each leaves the store once delivered."""
    if to is not None:
        try:
            check_url("--to", to)
        except CliError as err:
            raise BadFlag(str(err)) from None
    asked = Asked(flags)
    body: dict[str, Any] = dict(asked.query) | ({"to": to} if to else {})
    answers = []
    for path in asked.paths():
        bare = path.partition("?")[0]
        answers.append(asked.client.checked("POST", bare, body))
    failed = sum(int(answer.get("failed") or 0) for answer in answers)
    if asked.json:
        _echo_json(answers)
    else:
        lines = [["BROKER", "ID", "NAME", "DELIVERED", "STATUS", "ERROR"]]
        for answer in answers:
            for outcome in answer.get("redriven") or []:
                status = outcome.get("status")
                lines.append(
                    [
                        str(answer.get("name", "")),
                        str(outcome.get("id")),
                        str(outcome.get("name", "")),
                        "yes" if outcome.get("delivered") else "no",
                        "-" if status is None else str(status),
                        _clip(str(outcome.get("error") or outcome.get("replyError") or "")),
                    ]
                )
        click.echo(table(lines) if len(lines) > 1 else "No dead letters matched.")
    if failed:
        raise CliError(f"{failed} dead letter(s) not delivered (they stay in the store)")


@deadletters.command("purge")
@click.option("--all", "everything", is_flag=True, help="Purge every entry (no filter given).")
@_common
def purge_command(everything: bool, **flags: Any) -> None:
    """Remove the matching entries from the store (for good)."""
    asked = Asked(flags)
    if not asked.query and not everything:
        raise BadFlag("purge needs a filter (--trigger, --since, --until, --status, --id) or --all")
    answers = [asked.client.checked("DELETE", path) for path in asked.paths()]
    if asked.json:
        _echo_json(answers)
        return
    for answer in answers:
        click.echo(f"{answer.get('kind')} {answer.get('name')}: {answer.get('purged')} purged")
