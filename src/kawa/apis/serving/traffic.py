"""Traffic targets of Services and Routes (serving.knative.dev/v1 ``spec.traffic[]``).

A target sends ``percent`` (0-100) of the requests to a revision: a named one
(``revisionName``) or the latest ready one of a configuration (``latestRevision: true``; in a
Route with ``configurationName``, in a Service its own). Percents sum to 100; ``tag`` (a DNS
label, unique) gives the target its own URL. Defaults: ``latestRevision`` is true exactly when
no ``revisionName`` is given, and a single target without ``percent`` gets 100. Called by
:mod:`.service` and :mod:`.route`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis import kn_common, kn_schema, meta
from kawa.errors import FieldError

_FIELDS: Final = ("tag", "revisionName", "configurationName", "latestRevision", "percent", "url")


@dataclass(frozen=True, slots=True)
class TrafficTarget:
    tag: str
    revision_name: str
    configuration_name: str
    latest_revision: bool
    percent: int


def default_traffic(traffic: Any) -> None:
    """Knative's defaults on a ``traffic`` list, in place."""
    if not isinstance(traffic, list):
        return
    for target in traffic:
        if isinstance(target, dict) and target.get("latestRevision") is None:
            target["latestRevision"] = not target.get("revisionName")
    if len(traffic) == 1 and isinstance(traffic[0], dict) and traffic[0].get("percent") is None:
        traffic[0]["percent"] = 100


def read_traffic(
    spec: Mapping[str, Any], errors: list[FieldError], *, in_service: bool
) -> tuple[TrafficTarget, ...]:
    out: list[TrafficTarget] = []
    total = 0
    tags: set[str] = set()
    first_error = len(errors)
    raw_list = kn_common.read_list(spec, "traffic", "spec.traffic", errors)
    for i, raw in enumerate(raw_list):
        path = f"spec.traffic[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(path, f"expected a mapping, got {meta.type_name(raw)}"))
            continue
        before = len(errors)
        allowed = tuple(f for f in _FIELDS if not (in_service and f == "configurationName"))
        kn_common.unknown_fields(raw, allowed, path, errors)
        tag = meta.read_str(raw, "tag", f"{path}.tag", errors) or ""
        if tag:
            errors.extend(
                FieldError(f"{path}.tag", f"invalid value {tag!r}: {p}")
                for p in meta.dns1123_label_errors(tag)
            )
            if tag in tags:
                errors.append(FieldError(f"{path}.tag", f"duplicate tag {tag!r}"))
            tags.add(tag)
        revision = meta.read_str(raw, "revisionName", f"{path}.revisionName", errors) or ""
        configuration = (
            ""
            if in_service
            else (
                meta.read_str(raw, "configurationName", f"{path}.configurationName", errors) or ""
            )
        )
        latest = kn_common.read_bool(raw, "latestRevision", f"{path}.latestRevision", errors)
        latest = not revision if latest is None else latest
        percent = kn_common.read_int(
            raw, "percent", f"{path}.percent", errors, minimum=0, maximum=100
        )
        total += percent or 0
        if latest and revision:
            errors.append(
                FieldError(f"{path}.revisionName", "may not be set when latestRevision is true")
            )
        if not latest and not revision:
            errors.append(
                FieldError(f"{path}.revisionName", "required when latestRevision is false")
            )
        if not in_service:
            if revision and configuration:
                errors.append(
                    FieldError(
                        path, "expected exactly one of revisionName or configurationName, got both"
                    )
                )
            elif latest and not configuration:
                errors.append(
                    FieldError(f"{path}.configurationName", "required when latestRevision is true")
                )
        if len(errors) == before:
            out.append(TrafficTarget(tag, revision, configuration, latest, percent or 0))
    if raw_list and total != 100 and len(errors) == first_error:
        errors.append(
            FieldError("spec.traffic", f"the percents of the targets sum to {total}, want 100")
        )
    return tuple(out)


def traffic_schema(description: str, *, in_service: bool) -> kn_schema.Schema:
    properties: dict[str, kn_schema.Schema] = {
        "tag": kn_schema.string("Gives the target its own URL (tag-<name>...)."),
        "revisionName": kn_schema.string("The revision that gets the traffic."),
        "latestRevision": kn_schema.boolean(
            "Whether the latest ready revision gets the traffic (instead of revisionName)."
        ),
        "percent": kn_schema.integer("The share of requests.", minimum=0, maximum=100),
        "url": kn_schema.string("The target's URL (status only, for tagged targets)."),
    }
    if not in_service:
        properties["configurationName"] = kn_schema.string(
            "The configuration whose latest ready revision gets the traffic."
        )
    return kn_schema.array(description, kn_schema.obj("A traffic target.", properties))
