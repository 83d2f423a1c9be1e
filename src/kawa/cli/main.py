"""The ``kawa`` command.

``kawa up`` runs everything in the foreground; ``apply``, ``get``, ``describe``, ``delete``,
``send --broker``, ``why`` and ``trace`` talk to its API over verified TLS (found through
``--data-dir``'s ``server.json`` or ``--server URL``, see :mod:`kawa.cli.target`);
``event-display`` runs the built-in event printer; ``demo`` is the Quickstart. Every failure
is a one-line (or one-line-per-field) message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import ssl
from pathlib import Path
from typing import Any, Final

import click
import orjson

from kawa import __version__
from kawa.apiserver import access
from kawa.cli import answers, target
from kawa.cli.client import (
    ApiClient,
    CliError,
    check_url,
    resource_path,
    startup_error,
    unexpected_answer,
)
from kawa.cli.options import ARGS_KEY
from kawa.cli.options import data_dir_option as _data_dir_option
from kawa.cli.runner import run_async
from kawa.errors import KawaError, ValidationError

LAZY_COMMANDS: Final = {
    "up": (
        "kawa.cli.up:up",
        "Run kawa in the foreground (API, brokers, triggers, delivery).",
    ),
    "demo": (
        "kawa.cli.demo:demo",
        "Run the seed tutorial: an ApiServerSource, a Broker, a Trigger and an event-display "
        "Service, with busybox's Kubernetes Events flowing through them.",
    ),
    "cesql": (
        "kawa.cli.cesql:cesql",
        "Evaluate a CloudEvents SQL EXPRESSION against an event.",
    ),
    "deadletters": (
        "kawa.cli.deadletters:deadletters",
        "See, redrive and purge the events triggers and subscriptions gave up (the dead-letter"
        " store).",
    ),
    "replay": (
        "kawa.cli.replay:replay",
        "Deliver a broker's archived events again to one of its triggers.",
    ),
}
"""Commands imported when they run (``kawa up`` imports the whole server; a client command
such as ``kawa get`` or a ``kawa event-display`` child does not pay for it), with the short
help ``kawa --help`` lists them with (checked against their docstrings by a test)."""

_server_option = click.option(
    "--server",
    metavar="URL",
    help="kawa's https:// API URL (overrides --data-dir's server.json; plain http is refused).",
)
_ca_option = click.option(
    "--certificate-authority",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="PEM certificate(s) the server's must verify against (default: --data-dir's "
    "tls/server.crt; with --server and no such file, the system's).",
)
_namespace_option = click.option(
    "-n", "--namespace", default="default", show_default=True, help="The namespace."
)


def _client(server: str | None, data_dir: Path, ca: Path | None) -> ApiClient:
    return ApiClient(target.find(server, data_dir, ca), access.read_token(data_dir))


def broker_url(client: ApiClient, namespace: str, name: str) -> str:
    """The broker's ingress URL (``status.address.url``), or CliError when it has none."""
    from kawa.apis.registry import SCHEME

    path = resource_path(SCHEME.resolve("broker"), namespace, name)
    url = answers.dig(client.checked("GET", path), "status", "address", "url")
    if not url:
        raise CliError(f"broker {namespace}/{name} has no address yet (is it Ready?)")
    if not isinstance(url, str):
        raise unexpected_answer(client.where("GET", path), "status.address.url: expected a URL")
    return check_url(f"broker {namespace}/{name} status.address.url", url)


class KawaGroup(click.Group):
    """Turns kawa's errors into clean messages and exit code 1; keeps the command line's
    arguments for ``kawa up --workers`` (which starts its workers with them)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGS_KEY] = tuple(args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    listing = False
    """True while ``--help`` lists the commands: a lazy one is then only its short help."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self.listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = LAZY_COMMANDS.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        where, short_help = lazy
        if self.listing:
            return click.Command(cmd_name, help=short_help)
        module, _, attr = where.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KawaError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(1)


@click.group(cls=KawaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kawa")
def main() -> None:
    """kawa: Knative Eventing that runs anywhere."""


@main.command()
@click.option("-f", "--filename", required=True, help="A manifest file, a directory, or -.")
@_namespace_option
@_data_dir_option
@_server_option
@_ca_option
def apply(
    filename: str,
    namespace: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Create or update the resources in manifests (like kubectl apply)."""
    from kawa.cli import resources

    client = _client(server, data_dir, certificate_authority)
    failures = resources.apply(client, filename, namespace)
    if failures:
        raise SystemExit(1)


@main.command()
@click.option(
    "-o", "--output", default="-", show_default=True, help="The file to write (- for stdout)."
)
@_data_dir_option
@_server_option
@_ca_option
def export(
    output: str, data_dir: Path, server: str | None, certificate_authority: Path | None
) -> None:
    """Write every resource as a YAML stream for ``kawa import`` (docs/distributed.md)."""
    from kawa.cli import migrate

    migrate.export(_client(server, data_dir, certificate_authority), output)


@main.command("import")
@click.option("-f", "--filename", required=True, help="A file written by kawa export, or -.")
@_data_dir_option
@_server_option
@_ca_option
def import_command(
    filename: str, data_dir: Path, server: str | None, certificate_authority: Path | None
) -> None:
    """Create or update the resources of a ``kawa export`` (in its order)."""
    from kawa.cli import resources

    client = _client(server, data_dir, certificate_authority)
    failures = resources.apply(client, filename, "default")
    if failures:
        raise SystemExit(1)


@main.command()
@click.argument("kind")
@click.argument("name", required=False)
@_namespace_option
@click.option("-A", "--all-namespaces", is_flag=True, help="List across namespaces.")
@click.option(
    "-o", "--output", type=click.Choice(["json", "yaml", "wide", "name"]), help="Output format."
)
@_data_dir_option
@_server_option
@_ca_option
def get(
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str | None,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Show resources (brokers, triggers ...)."""
    from kawa.cli import resources

    client = _client(server, data_dir, certificate_authority)
    resources.get(client, kind, name, namespace, all_namespaces, output)


@main.command("describe")
@click.argument("kind")
@click.argument("name")
@_namespace_option
@_data_dir_option
@_server_option
@_ca_option
def describe_command(
    kind: str,
    name: str,
    namespace: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Show an object in detail, with its Events."""
    from kawa.apis.registry import SCHEME
    from kawa.cli.describe import describe

    try:
        rk = SCHEME.resolve(kind)
    except ValidationError as err:
        raise CliError(str(err)) from None
    click.echo(describe(_client(server, data_dir, certificate_authority), rk, namespace, name))


@main.command()
@click.argument("kind")
@click.argument("name")
@_namespace_option
@_data_dir_option
@_server_option
@_ca_option
def delete(
    kind: str,
    name: str,
    namespace: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Delete a resource."""
    from kawa.cli import resources

    resources.delete(_client(server, data_dir, certificate_authority), kind, name, namespace)


@main.command()
@click.option("--to", "url", metavar="URL", help="Send to this URL.")
@click.option("--broker", metavar="NAME", help="Send to this broker (in -n NAMESPACE).")
@_namespace_option
@click.option("--type", "type_", required=True, help="The event's type.")
@click.option("--source", default="/kawa/cli", show_default=True, help="The event's source.")
@click.option("--id", "id_", help="The event's id (default: a fresh UUID).")
@click.option("--subject", help="The event's subject.")
@click.option("--data", help="The data: TEXT, or @FILE to read it from a file.")
@click.option(
    "--content-type",
    help="datacontenttype (default: application/json if --data is JSON, else text/plain).",
)
@click.option("--extension", "-e", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option(
    "--mode", type=click.Choice(["binary", "structured"]), default="binary", show_default=True
)
@_data_dir_option
@_server_option
@_ca_option
def send(
    url: str | None,
    broker: str | None,
    namespace: str,
    type_: str,
    source: str,
    id_: str | None,
    subject: str | None,
    data: str | None,
    content_type: str | None,
    extension: tuple[str, ...],
    mode: str,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Build a CloudEvent and send it (no token: the broker ingress needs none); prints the
    response status."""
    if (url is None) == (broker is None):
        raise CliError("give exactly one of --to URL or --broker NAME")
    from kawa.cli import send as send_cmd

    event = send_cmd.build_event(
        type_=type_,
        source=source,
        id_=id_,
        subject=subject,
        data=send_cmd.read_data(data),
        content_type=content_type,
        extensions=extension,
    )
    if url is not None:
        check_url("--to", url)
    context = None
    if broker is not None:
        client = _client(server, data_dir, certificate_authority)
        url = broker_url(client, namespace, broker)
        if url.startswith("https://"):  # transport-encryption: kawa's own certificate too
            context = ssl.create_default_context()
            ca = certificate_authority or data_dir / access.CERT_FILE
            if ca.exists():
                context.load_verify_locations(cafile=str(ca))
    status, reason, body = send_cmd.post(str(url), event, mode, context=context)
    click.echo(f"{status} {reason}")
    if body:
        click.echo(body.decode("utf-8", "replace").rstrip())
    if status >= 300:
        raise SystemExit(1)


@main.command()
@click.option("--broker", required=True, metavar="NAME", help="The broker (in -n NAMESPACE).")
@_namespace_option
@click.option(
    "--event",
    "event_file",
    required=True,
    metavar="FILE",
    help="A structured-mode JSON CloudEvent, or - to read it from stdin.",
)
@click.option("-o", "--output", type=click.Choice(["json"]), help="Print kawa's answer as JSON.")
@_data_dir_option
@_server_option
@_ca_option
def why(
    broker: str,
    namespace: str,
    event_file: str,
    output: str | None,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """Which of a broker's triggers an event would reach, and why not (nothing is sent)."""
    from kawa.cli import why as why_cmd

    event = why_cmd.read_event(event_file)
    client = _client(server, data_dir, certificate_authority)
    path = why_cmd.path(namespace, broker)
    answer = client.checked("POST", path, event)
    if output == "json":
        click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(why_cmd.render(answer, client.where("POST", path)))


@main.command()
@click.option("--broker", metavar="NAME", help="The broker (in -n NAMESPACE).")
@click.option("--channel", metavar="NAME", help="Or the channel (a Channel or an InMemoryChannel).")
@_namespace_option
@click.option("--id", "event_id", required=True, metavar="ID", help="The event's id.")
@click.option("--source", metavar="S", help="The event's source (when ids repeat).")
@click.option("-o", "--output", type=click.Choice(["json"]), help="Print kawa's answer as JSON.")
@_data_dir_option
@_server_option
@_ca_option
def trace(
    broker: str | None,
    channel: str | None,
    namespace: str,
    event_id: str,
    source: str | None,
    output: str | None,
    data_dir: Path,
    server: str | None,
    certificate_authority: Path | None,
) -> None:
    """What happened to an event a broker (or channel) kept: accepted, each trigger's
    decision, attempts, outcome."""
    if (broker is None) == (channel is None):
        raise CliError("give one of --broker NAME or --channel NAME")
    from kawa.cli import trace as trace_cmd

    client = _client(server, data_dir, certificate_authority)
    if channel is not None:
        path = trace_cmd.path(namespace, channel, event_id, source, channel=True)
    else:
        path = trace_cmd.path(namespace, str(broker), event_id, source)
    answer = client.checked("GET", path)
    if output == "json":
        click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(trace_cmd.render(answer, client.where("GET", path)))


@main.command()
@_data_dir_option
def kubeconfig(data_dir: Path) -> None:
    """Print the kubeconfig of the kawa that uses --data-dir (for kubectl)."""
    path = data_dir / access.KUBECONFIG_FILE
    try:
        click.echo(path.read_text(encoding="utf-8"), nl=False)
    except FileNotFoundError:
        raise CliError(
            f"{path} does not exist yet: start kawa first (`kawa up --data-dir {data_dir}`)"
        ) from None


@main.command()
@click.option(
    "--browser/--no-browser",
    default=True,
    show_default=True,
    help="Open it in a browser when there is a display.",
)
@_data_dir_option
@_server_option
@_ca_option
def console(
    browser: bool, data_dir: Path, server: str | None, certificate_authority: Path | None
) -> None:
    """Print the web console's URL (it logs in with the token it carries) and open it."""
    from kawa.cli import console as console_cmd

    console_cmd.run(server, data_dir, certificate_authority, browser)


@main.command("event-display")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def event_display(port: int, host: str) -> None:
    """Print every CloudEvent received (Knative's event_display), answering 202."""
    from kawa.serving.event_display import start

    async def run() -> None:
        server = await start(port, host)
        click.echo(f"event-display listening on http://{host}:{port}/", err=True)
        async with server:
            await server.serve_forever()

    try:
        run_async(run())
    except OSError as err:
        raise startup_error(err, host, port) from None
