"""A Route's status: its URLs and its traffic resolved to Revisions (pure, no store).

``status.url`` and ``status.address.url`` are ``<base>/serving/<namespace>/<route>``; a
tagged target also gets ``<base>/serving/<namespace>/<tag>-<route>``. :func:`resolve_traffic`
turns ``spec.traffic`` into ``status.traffic``: a ``configurationName`` target (latest
revision) becomes the Configuration's ``latestReadyRevisionName``; a ``revisionName`` target
needs that Revision to be Ready. What cannot be assigned is a :class:`TrafficProblem` that
:func:`mark_traffic` reports as Knative does (``AllTrafficAssigned`` ``False``/``Unknown``,
reasons ``ConfigurationMissing``/``RevisionMissing``). Called by the Route reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kawa.apis.conditions import Clock, get_condition
from kawa.apis.serving import configuration
from kawa.apis.serving.traffic import RouteTrafficTarget

CONDITIONS: Final = configuration.ROUTE_CONDITIONS
ALL_TRAFFIC_ASSIGNED: Final = configuration.ALL_TRAFFIC_ASSIGNED
INGRESS_READY: Final = configuration.INGRESS_READY
CERTIFICATE_PROVISIONED: Final = configuration.CERTIFICATE_PROVISIONED


def route_url(base_url: str, namespace: str, name: str) -> str:
    """Where the Route is served: ``<base>/serving/<namespace>/<name>``."""
    return f"{base_url.rstrip('/')}/serving/{namespace}/{name}"


def tag_url(base_url: str, namespace: str, name: str, tag: str) -> str:
    """Where a tagged target of the Route is served: ``<base>/serving/<ns>/<tag>-<name>``."""
    return route_url(base_url, namespace, f"{tag}-{name}")


@dataclass(frozen=True, slots=True)
class TrafficProblem:
    """Why some traffic cannot be assigned: ``failed`` (``False``) or still pending
    (``Unknown``)."""

    reason: str
    message: str
    failed: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    traffic: list[dict[str, Any]]
    """``status.traffic`` (meaningful only when ``problem`` is ``None``)."""
    problem: TrafficProblem | None
    referenced_configurations: frozenset[str]
    referenced_revisions: frozenset[str]


def _ready_status(status: Mapping[str, Any] | None) -> str:
    if status is None:
        return "Unknown"
    ready = get_condition(status, "Ready")
    return ready.status if ready is not None else "Unknown"


def resolve_traffic(
    targets: Sequence[RouteTrafficTarget],
    *,
    configurations: Mapping[str, Mapping[str, Any]],
    revisions: Mapping[str, Mapping[str, Any]],
    base_url: str,
    namespace: str,
    name: str,
) -> Resolution:
    """Resolve a Route's targets. ``configurations`` and ``revisions`` map the names that
    exist in the Route's namespace to their ``status``."""
    traffic: list[dict[str, Any]] = []
    problems: list[TrafficProblem] = []
    configs: set[str] = set()
    revs: set[str] = set()
    for target in targets:
        if target.configuration_name:
            config_name = target.configuration_name
            configs.add(config_name)
            config_status = configurations.get(config_name)
            if config_status is None:
                problems.append(
                    TrafficProblem(
                        "ConfigurationMissing",
                        f'Configuration "{config_name}" referenced in traffic not found.',
                        True,
                    )
                )
                continue
            revision_name = str(config_status.get("latestReadyRevisionName") or "")
            if not revision_name:
                if _ready_status(config_status) == "False":
                    problems.append(
                        TrafficProblem(
                            "RevisionMissing",
                            f'Configuration "{config_name}" does not have any ready Revision.',
                            True,
                        )
                    )
                else:
                    problems.append(
                        TrafficProblem(
                            "RevisionMissing",
                            f'Configuration "{config_name}" is waiting for a Revision '
                            "to become ready.",
                            False,
                        )
                    )
                continue
            revs.add(revision_name)
            if revision_name not in revisions:
                problems.append(
                    TrafficProblem(
                        "RevisionMissing",
                        f'Revision "{revision_name}" referenced in traffic not found.',
                        True,
                    )
                )
                continue
        else:
            revision_name = target.revision_name
            revs.add(revision_name)
            rev_status = revisions.get(revision_name)
            if rev_status is None:
                problems.append(
                    TrafficProblem(
                        "RevisionMissing",
                        f'Revision "{revision_name}" referenced in traffic not found.',
                        True,
                    )
                )
                continue
            ready = _ready_status(rev_status)
            if ready == "False":
                problems.append(
                    TrafficProblem(
                        "RevisionMissing",
                        f'Revision "{revision_name}" failed to become ready.',
                        True,
                    )
                )
                continue
            if ready != "True":
                problems.append(
                    TrafficProblem(
                        "RevisionMissing", f'Revision "{revision_name}" is not yet ready.', False
                    )
                )
                continue
        entry: dict[str, Any] = {}
        if target.tag:
            entry["tag"] = target.tag
        entry["revisionName"] = revision_name
        entry["latestRevision"] = target.is_latest
        entry["percent"] = target.percent or 0
        if target.tag:
            entry["url"] = tag_url(base_url, namespace, name, target.tag)
        traffic.append(entry)
    failed = [p for p in problems if p.failed]
    problem = failed[0] if failed else (problems[0] if problems else None)
    return Resolution(traffic, problem, frozenset(configs), frozenset(revs))


def set_urls(status: dict[str, Any], base_url: str, namespace: str, name: str) -> None:
    """``status.url`` and ``status.address.url``."""
    url = route_url(base_url, namespace, name)
    status["url"] = url
    status["address"] = {"url": url}


def mark_traffic(status: dict[str, Any], resolution: Resolution, *, clock: Clock) -> None:
    """Write the resolution into the status: the traffic and ``AllTrafficAssigned`` and
    ``IngressReady`` (kawa's router serves a Route as soon as all its traffic is assigned);
    a Route that cannot be assigned keeps its previous ``status.traffic``, as Knative's."""
    problem = resolution.problem
    if problem is None:
        status["traffic"] = resolution.traffic
        CONDITIONS.mark_true(status, ALL_TRAFFIC_ASSIGNED, clock=clock)
        CONDITIONS.mark_true(status, INGRESS_READY, clock=clock)
    else:
        if problem.failed:
            CONDITIONS.mark_false(
                status, ALL_TRAFFIC_ASSIGNED, problem.reason, problem.message, clock=clock
            )
        else:
            CONDITIONS.mark_unknown(
                status, ALL_TRAFFIC_ASSIGNED, problem.reason, problem.message, clock=clock
            )
        ingress = get_condition(status, INGRESS_READY)
        if ingress is None or not ingress.is_true:
            CONDITIONS.mark_unknown(
                status,
                INGRESS_READY,
                "IngressNotConfigured",
                "Ingress has not yet been reconciled.",
                clock=clock,
            )
    CONDITIONS.mark_true(
        status, CERTIFICATE_PROVISIONED, "TLSNotEnabled", "autoTLS is not enabled", clock=clock
    )
