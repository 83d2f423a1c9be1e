"""``kawa apply``, ``kawa get`` and ``kawa delete``: resource commands over the API."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from kawa.apis.manifests import load_manifests
from kawa.apis.registry import SCHEME
from kawa.cli import answers
from kawa.cli.client import (
    ApiClient,
    CliError,
    describe_failure,
    resource_path,
    unexpected_answer,
)
from kawa.cli.table import render
from kawa.errors import ValidationError

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STRICT = "?fieldValidation=Strict"
"""Like kubectl: unknown fields in a manifest are errors, not silently dropped."""
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _read_sources(filename: str) -> list[tuple[str, str]]:
    """(name, text) of each manifest file named by ``-f`` (a file, a directory or ``-``)."""
    if filename == "-":
        return [("<stdin>", sys.stdin.read())]
    path = Path(filename)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _MANIFEST_SUFFIXES)
        if not files:
            raise CliError(f"{filename}: no .yaml, .yml or .json files in this directory")
    elif path.exists():
        files = [path]
    else:
        raise CliError(f"{filename}: no such file or directory")
    out = []
    for file in files:
        try:
            out.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as err:
            raise CliError(f"{file}: cannot read: {err}") from None
    return out


def apply(client: ApiClient, filename: str, default_namespace: str) -> int:
    """Create or update every object in the manifests; returns the number of failures."""
    objects: list[tuple[str, dict[str, Any]]] = []
    for name, text in _read_sources(filename):
        try:
            objects.extend((name, obj) for obj in load_manifests(text, name))
        except ValidationError as err:
            raise CliError(str(err)) from None
    failures = 0
    for source, obj in objects:
        try:
            rk = SCHEME.for_object(obj)
        except ValidationError as err:
            click.echo(f"error: {source}: {err}", err=True)
            failures += 1
            continue
        meta = obj.setdefault("metadata", {})
        namespace = (meta.get("namespace") or default_namespace) if rk.namespaced else None
        if namespace:
            meta["namespace"] = namespace
        name = meta.get("name", "")
        label = f"{rk.singular}.{rk.group}/{name}" if rk.group else f"{rk.singular}/{name}"
        path = resource_path(rk, namespace, name)
        status, current = client.request("GET", path)
        if status == 404:
            status, payload = client.request("POST", resource_path(rk, namespace) + STRICT, obj)
            verb = "created"
        elif _ok(status):
            before = _resource_version(current, client.where("GET", path))
            merged = dict(obj)
            # No resourceVersion: apply states the desired spec, whatever the controllers wrote
            # to the status meanwhile (a stale version would only make it fail with 409).
            merged["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
            status, payload = client.request("PUT", path + STRICT, merged)
            verb = "configured"
            if _ok(status):
                after = _resource_version(payload, client.where("PUT", path + STRICT))
                if after == before:
                    verb = "unchanged"
        else:
            payload = current
        if not _ok(status):
            click.echo(f"error: {source}: {describe_failure(status, payload)}", err=True)
            failures += 1
        else:
            click.echo(f"{label} {verb}")
    return failures


def _ok(status: int) -> bool:
    return 200 <= status < 300


def _resource_version(answer: Any, where: str) -> Any:
    """The answer's metadata.resourceVersion; CliError when the answer is no object."""
    if not isinstance(answer, dict):
        raise unexpected_answer(where, "expected the object")
    return answers.metadata(answer, where).get("resourceVersion")


def get(
    client: ApiClient,
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str | None,
) -> None:
    try:
        rk = SCHEME.resolve(kind)
    except ValidationError as err:
        raise CliError(str(err)) from None
    ns = None if all_namespaces or not rk.namespaced else namespace
    path = resource_path(rk, (ns or namespace) if name and rk.namespaced else ns, name)
    if output in (None, "wide"):
        found = answers.table(
            client.checked("GET", path, accept=TABLE_ACCEPT), client.where("GET", path)
        )
        if not found["rows"]:
            where = "any namespace" if ns is None else f"{ns} namespace"
            click.echo(f"No resources found in {where}.", err=True)
            return
        wide = output == "wide"
        click.echo(render(found, all_namespaces=ns is None and rk.namespaced, wide=wide))
        return
    found = client.checked("GET", path)
    where = client.where("GET", path)
    if name:
        answers.metadata(found, where)
        items: list[Mapping[str, Any]] = [found]
    else:
        items = answers.items(found, where)
    items = [_without_managed_fields(item) for item in items]  # hidden, as kubectl does
    if output == "json":
        data: Any = items[0] if name else {"apiVersion": "v1", "kind": "List", "items": items}
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    elif output == "yaml":
        data = items[0] if name else {"apiVersion": "v1", "kind": "List", "items": items}
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    elif output == "name":
        for item in items:
            click.echo(f"{rk.singular}.{rk.group}/{item['metadata']['name']}".replace("./", "/"))


def _without_managed_fields(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def delete(client: ApiClient, kind: str, name: str, namespace: str) -> None:
    try:
        rk = SCHEME.resolve(kind)
    except ValidationError as err:
        raise CliError(str(err)) from None
    client.checked("DELETE", resource_path(rk, namespace if rk.namespaced else None, name))
    kind = f"{rk.singular}.{rk.group}" if rk.group else rk.singular
    click.echo(f'{kind} "{name}" deleted')
