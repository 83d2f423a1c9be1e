"""Traffic targets of Services and Routes (serving.knative.dev/v1 ``spec.traffic[]``).

A target sends ``percent`` (0-100) of the requests to a revision: a named one
(``revisionName``) or the latest ready one of a configuration (``latestRevision: true``; in a
Route with ``configurationName``, in a Service its own). Percents sum to 100; ``tag`` (a DNS
label, unique) gives the target its own URL. Defaults: ``latestRevision`` is true exactly when
no ``revisionName`` is given, and a single target without ``percent`` gets 100.

:class:`TrafficTarget` is a Service's target (no ``configurationName``: the Service's own
Configuration is meant), :class:`RouteTrafficTarget` a Route's; both are the entries of
``status.traffic`` too. :func:`default_traffic` and :func:`traffic_errors` are the rules of
the whole list, called by the Service's and Route's specs (:mod:`.service`,
:mod:`.configuration`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator

from kawa.apis import meta
from kawa.apis.model.base import Context, Model, doc
from kawa.errors import FieldError


def _tag(tag: str) -> str:
    problems = meta.dns1123_label_errors(tag) if tag else []
    if problems:
        raise ValueError(f"invalid value {tag!r}: {'; '.join(problems)}")
    return tag


class TrafficTarget(Model):
    """A traffic target: a share of the requests and the revision that gets it."""

    tag: Annotated[
        str, AfterValidator(_tag), doc("Gives the target its own URL (tag-<name>...).")
    ] = ""
    revision_name: Annotated[str, doc("The revision that gets the traffic.")] = ""
    latest_revision: Annotated[
        bool | None,
        doc("Whether the latest ready revision gets the traffic (instead of revisionName)."),
    ] = None
    percent: Annotated[int | None, doc("The share of requests.", ge=0, le=100)] = None
    url: Annotated[str | None, doc("The target's URL (status only, for tagged targets).")] = None

    @property
    def is_latest(self) -> bool:
        """``latestRevision``, or its default: true when no revision is named."""
        return not self.revision_name if self.latest_revision is None else self.latest_revision

    @classmethod
    def set_defaults(cls, data: dict[str, Any], ctx: Context) -> None:
        if data.get("latestRevision") is None:
            data["latestRevision"] = not data.get("revisionName")

    def check(self, ctx: Context) -> Iterable[FieldError]:
        if self.is_latest and self.revision_name:
            yield FieldError("revisionName", "may not be set when latestRevision is true")
        if not self.is_latest and not self.revision_name:
            yield FieldError("revisionName", "required when latestRevision is false")


class RouteTrafficTarget(TrafficTarget):
    """A traffic target of a Route: a named revision, or the latest ready revision of a
    configuration."""

    configuration_name: Annotated[
        str, doc("The configuration whose latest ready revision gets the traffic.")
    ] = ""

    def check(self, ctx: Context) -> Iterable[FieldError]:
        yield from super().check(ctx)
        if self.revision_name and self.configuration_name:
            yield FieldError(
                "", "expected exactly one of revisionName or configurationName, got both"
            )
        elif self.is_latest and not self.configuration_name:
            yield FieldError("configurationName", "required when latestRevision is true")


def default_traffic(spec: dict[str, Any]) -> None:
    """A single target of ``spec.traffic`` without ``percent`` gets 100 (in place)."""
    traffic = spec.get("traffic")
    if not isinstance(traffic, list) or len(traffic) != 1 or not isinstance(traffic[0], dict):
        return
    if traffic[0].get("percent") is None:
        traffic[0]["percent"] = 100


def traffic_errors(targets: Sequence[TrafficTarget], ctx: Context) -> Iterator[FieldError]:
    """The rules of the whole list (paths relative to the spec): tags unique, and percents
    summing to 100 once every target is valid."""
    tags: set[str] = set()
    valid = True
    for i, target in enumerate(targets):
        if target.tag:
            if target.tag in tags:
                valid = False
                yield FieldError(f"traffic[{i}].tag", f"duplicate tag {target.tag!r}")
            tags.add(target.tag)
        valid = valid and not any(True for _ in target.check(ctx))
    total = sum(target.percent or 0 for target in targets)
    if targets and valid and total != 100:
        yield FieldError("traffic", f"the percents of the targets sum to {total}, want 100")
