"""What a JobSink makes of one event: the Secret holding it and the Job that reads it (pure).

As Knative's JobSink (``cmd/jobsink``) does:

* both are named after the JobSink and the event's ``source`` and ``id`` (:func:`job_name`):
  the same event sent again names a Job that exists, and no second Job is made. Knative
  hashes ``<source>-<id>`` with MD5 and keeps the characters of the raw digest that may
  appear in a name (on average about 2 of the 16 bytes: distinct events often get the same
  name, one in thirteen none at all); kawa keeps 20 hex digits of a SHA-256 of the pair
  (``source`` and ``id`` told apart), so only the same event names the same Job;
* the Secret (:func:`event_secret`) holds the event in the JSON format under the key
  ``event``, is immutable and labelled with the sink's name and the event's hash;
* the Job (:func:`event_job`) is ``spec.job`` with that name, the same labels added to its
  own, the volume ``jobsink-event`` (the Secret) and, in each container that does not mount
  that volume itself, its mount at ``/etc/jobsink-event`` (read-only): the event is the file
  ``/etc/jobsink-event/event``. Every container and init container also gets
  ``K_EXECUTION_MODE=batch`` (next to Knative's ``KNATIVE_EXECUTION_MODE``, defaulted into
  the JobSink at admission) unless it sets it;
* both are controlled by the JobSink (deleted with it), without blocking its deletion.

:func:`location` is the status URL a POST answers with (``Location``); :func:`parse_location`
reads it back. Used by :mod:`kawa.jobsink.handler`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

from kawa.apis import core, meta
from kawa.apis.batch import job as job_api
from kawa.apis.sinks import jobsink as api
from kawa.cloudevents import jsonformat
from kawa.cloudevents.event import CloudEvent

PREFIX: Final = "/jobsinks/"
"""Where kawa's data plane serves JobSinks: ``/jobsinks/<namespace>/<name>``."""
EXECUTION_MODE_ENV: Final = "K_EXECUTION_MODE"
"""The execution-mode variable every container of a JobSink's Job gets (besides Knative's)."""
HASH_DIGITS: Final = 20
"""Hex digits of the event's hash in names and labels (80 bits)."""

_LOCATION: Final = re.compile(r"^/jobsinks/([^/]+)/([^/]+)/sources/([^/]+)/ids/([^/]+)/?$")


def event_hash(source: str, event_id: str) -> str:
    """The label value that tells one event (``source`` and ``id``) from every other."""
    pair = json.dumps([source, event_id], ensure_ascii=False).encode()
    return hashlib.sha256(pair).hexdigest()[:HASH_DIGITS]


def job_name(sink: str, source: str, event_id: str) -> str:
    """The name of the Job (and Secret) JobSink ``sink`` makes for the event ``source`` and
    ``event_id``: ``<sink>-<hash>``, kept within 63 characters."""
    return meta.child_name(sink, f"-{event_hash(source, event_id)}")


def location(namespace: str, name: str, source: str, event_id: str) -> str:
    """The path of the status of the event's Job (what the POST answers in ``Location``);
    ``source`` and ``id`` percent-encoded whole (a source is often a path)."""
    return (
        f"{PREFIX}{quote(namespace, safe='')}/{quote(name, safe='')}"
        f"/sources/{quote(source, safe='')}/ids/{quote(event_id, safe='')}"
    )


def parse_location(raw_path: str) -> tuple[str, str, str, str] | None:
    """``(namespace, name, source, id)`` of a :func:`location` path as it came (encoded);
    ``None`` when the path is not one."""
    found = _LOCATION.match(raw_path.split("?", 1)[0])
    if found is None:
        return None
    namespace, name, source, event_id = (unquote(part) for part in found.groups())
    return namespace, name, source, event_id


def _labels(sink: Mapping[str, Any], event: CloudEvent) -> dict[str, str]:
    return {
        api.ID_LABEL: event_hash(event.source, event.id),
        api.NAME_LABEL: str(meta.metadata_of(sink).get("name") or ""),
    }


def _owner(sink: Mapping[str, Any]) -> dict[str, Any]:
    reference = meta.controller_reference(sink)
    reference["blockOwnerDeletion"] = False  # as Knative's: the sink's deletion never waits
    return reference


def event_secret(
    sink: Mapping[str, Any], event: CloudEvent, job: Mapping[str, Any] | None = None
) -> meta.Object:
    """The Secret holding ``event`` for JobSink ``sink`` (a stored object, with its uid),
    owned by the event's ``job`` when given (the garbage collector deletes it with the Job,
    a Job ``ttlSecondsAfterFinished`` removed included), else by the JobSink."""
    name = job_name(str(meta.metadata_of(sink).get("name") or ""), event.source, event.id)
    owner = _owner(sink)
    if job is not None:
        job_meta = meta.metadata_of(job)
        owner = {
            "apiVersion": str(job.get("apiVersion") or "batch/v1"),
            "kind": str(job.get("kind") or "Job"),
            "name": str(job_meta.get("name") or name),
            "uid": str(job_meta.get("uid") or ""),
        }
    return {
        "apiVersion": "v1",
        "kind": core.SECRET.kind,
        "metadata": {
            "name": name,
            "namespace": meta.namespace_of(sink),
            "labels": _labels(sink, event),
            "ownerReferences": [owner],
        },
        "immutable": True,
        "type": "Opaque",
        "data": {api.EVENT_KEY: base64.b64encode(jsonformat.encode_structured(event)).decode()},
    }


def event_job(sink: Mapping[str, Any], event: CloudEvent) -> meta.Object:
    """The Job JobSink ``sink`` runs for ``event``, as written (before the API server's
    defaults): ``spec.job`` named, labelled, owned and given the event's volume."""
    name = job_name(str(meta.metadata_of(sink).get("name") or ""), event.source, event.id)
    spec = sink.get("spec")
    written = spec.get("job") if isinstance(spec, Mapping) else None
    template: dict[str, Any] = copy.deepcopy(dict(written)) if isinstance(written, Mapping) else {}
    given = template.get("metadata")
    given = given if isinstance(given, Mapping) else {}
    labels = dict(given.get("labels") or {})
    labels.update(_labels(sink, event))
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": meta.namespace_of(sink),
        "labels": labels,
        "ownerReferences": [_owner(sink)],
    }
    if given.get("annotations"):
        metadata["annotations"] = dict(given["annotations"])
    job_spec = template.get("spec")
    job_spec = job_spec if isinstance(job_spec, dict) else {}
    pod_template = job_spec.setdefault("template", {})
    pod = pod_template.setdefault("spec", {}) if isinstance(pod_template, dict) else {}
    if isinstance(pod, dict):
        _mount_event(pod, name)
        api.add_execution_mode(pod, EXECUTION_MODE_ENV)
    return {
        "apiVersion": job_api.API_VERSION,
        "kind": job_api.KIND,
        "metadata": metadata,
        "spec": job_spec,
    }


def _mount_event(pod: dict[str, Any], secret: str) -> None:
    """The volume ``jobsink-event`` (Secret ``secret``) in ``pod``, mounted at
    ``/etc/jobsink-event`` in each container that does not mount it itself."""
    for container in pod.get("containers") or ():
        if not isinstance(container, dict):
            continue
        mounts = container.setdefault("volumeMounts", [])
        if isinstance(mounts, list) and not any(
            isinstance(m, Mapping) and m.get("name") == api.EVENT_VOLUME for m in mounts
        ):
            mounts.append(
                {"name": api.EVENT_VOLUME, "readOnly": True, "mountPath": api.EVENT_MOUNT_PATH}
            )
    volumes = pod.setdefault("volumes", [])
    if isinstance(volumes, list) and not any(
        isinstance(v, Mapping) and v.get("name") == api.EVENT_VOLUME for v in volumes
    ):
        volumes.append({"name": api.EVENT_VOLUME, "secret": {"secretName": secret}})
