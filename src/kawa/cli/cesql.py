"""``kawa cesql EXPRESSION``: evaluate a CloudEvents SQL expression against one event.

A debugging aid for Trigger ``cesql`` filters: it prints the value, every evaluation error
(the spec's "value plus errors" result), and whether a Trigger would let the event through.
The event comes from ``--event FILE`` (a structured-mode JSON CloudEvent) or from flags.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from kawa.cesql import CesqlError, compile_expression
from kawa.cli.client import CliError
from kawa.cloudevents import jsonformat, validation
from kawa.cloudevents.event import AttributeValue, CloudEvent
from kawa.errors import ValidationError

_INTEGER = re.compile(r"-?[0-9]+")


def _value(text: str) -> AttributeValue:
    """Extension values from the command line: integers and booleans keep their type."""
    if _INTEGER.fullmatch(text) and -(2**31) <= int(text) < 2**31:
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def build_event(
    event_file: Path | None,
    type_: str,
    source: str,
    id_: str,
    subject: str | None,
    extensions: tuple[str, ...],
) -> CloudEvent:
    if event_file is not None:
        try:
            return jsonformat.decode_structured(event_file.read_bytes())
        except OSError as err:
            raise CliError(f"--event: cannot read {event_file}: {err.strerror or err}") from None
        except ValidationError as err:
            raise CliError(f"--event: {err}") from None
    attributes: dict[str, AttributeValue] = {
        "specversion": "1.0",
        "id": id_,
        "source": source,
        "type": type_,
    }
    if subject is not None:
        attributes["subject"] = subject
    for item in extensions:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--extension {item!r}: expected NAME=VALUE")
        attributes[name] = _value(value)
    problems = validation.validate(attributes)
    if problems:
        raise CliError("invalid event:\n" + "\n".join(f"  - {p}" for p in problems))
    return CloudEvent(attributes)


@click.command()
@click.argument("expression")
@click.option(
    "--event",
    "event_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A structured-mode JSON CloudEvent to evaluate against.",
)
@click.option("--type", "type_", default="com.example.test", show_default=True)
@click.option("--source", default="/kawa/cesql", show_default=True)
@click.option("--id", "id_", default="1", show_default=True)
@click.option("--subject")
@click.option(
    "--extension",
    "-e",
    multiple=True,
    metavar="NAME=VALUE",
    help="Repeatable; integers and true/false keep their type.",
)
def cesql(
    expression: str,
    event_file: Path | None,
    type_: str,
    source: str,
    id_: str,
    subject: str | None,
    extension: tuple[str, ...],
) -> None:
    """Evaluate a CloudEvents SQL EXPRESSION against an event."""
    try:
        compiled = compile_expression(expression)
    except CesqlError as err:
        raise CliError(f"invalid expression: {err}") from None
    event = build_event(event_file, type_, source, id_, subject, extension)
    result = compiled.evaluate(event)
    value = result.value
    shown = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    click.echo(f"value: {shown}")
    for error in result.errors:
        click.echo(f"error ({error.kind}): {error.message}")
    passes = compiled.matches(event)
    click.echo(f"a Trigger with this filter would {'deliver' if passes else 'skip'} the event")
