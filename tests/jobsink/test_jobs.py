"""What a JobSink makes of an event (kawa.jobsink.jobs, pure): the names, the Location, the
Secret holding the event and the Job made from ``spec.job``; and the JobSink's own defaults
and rules (kawa.apis.sinks.jobsink)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from kawa.apis.batch import job as job_api
from kawa.apis.sinks import jobsink as api
from kawa.cloudevents.event import CloudEvent
from kawa.errors import ValidationError
from kawa.jobsink import jobs

EVENT = CloudEvent(
    {
        "specversion": "1.0",
        "id": "123",
        "source": "my/curl/command",
        "type": "my.demo.event",
        "datacontenttype": "application/json",
    },
    b'{"details":"JobSinkDemo"}',
)

SINK: dict[str, Any] = {
    "apiVersion": "sinks.knative.dev/v1alpha1",
    "kind": "JobSink",
    "metadata": {"name": "logger", "namespace": "ns", "uid": "u-1"},
    "spec": {
        "job": {
            "metadata": {"labels": {"my-label": "my-value"}, "annotations": {"a": "b"}},
            "spec": {
                "backoffLimit": 2,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "initContainers": [{"name": "init", "image": "busybox"}],
                        "containers": [
                            {"name": "main", "image": "bash", "command": ["cat"]},
                            {
                                "name": "own",
                                "image": "bash",
                                "env": [{"name": "K_EXECUTION_MODE", "value": "mine"}],
                                "volumeMounts": [
                                    {"name": "jobsink-event", "mountPath": "/etc/custom"}
                                ],
                            },
                        ],
                    }
                },
            },
        }
    },
}


def test_names_tell_events_apart_and_stay_within_63_characters() -> None:
    name = jobs.job_name("logger", "my/curl/command", "123")
    assert name == jobs.job_name("logger", "my/curl/command", "123")
    assert name.startswith("logger-")
    assert len(name) == len("logger-") + jobs.HASH_DIGITS
    assert name != jobs.job_name("logger", "my/curl/command", "124")
    # Knative hashes "<source>-<id>": these two would be one event there
    assert jobs.job_name("s", "a-b", "c") != jobs.job_name("s", "a", "b-c")
    long = jobs.job_name("x" * 80, "src", "id")
    assert len(long) == 63
    assert long != jobs.job_name("x" * 79 + "y", "src", "id")
    assert jobs.event_hash("src", "id") == jobs.job_name("s", "src", "id").removeprefix("s-")


def test_the_location_names_the_event_and_reads_back() -> None:
    where = jobs.location("ns", "logger", "my/curl/command", "a b/1")
    assert where == "/jobsinks/ns/logger/sources/my%2Fcurl%2Fcommand/ids/a%20b%2F1"
    assert jobs.parse_location(where) == ("ns", "logger", "my/curl/command", "a b/1")
    assert jobs.parse_location(where + "?x=1") == ("ns", "logger", "my/curl/command", "a b/1")
    assert jobs.parse_location("/jobsinks/ns/logger/sources/a/b/ids/1") is None
    assert jobs.parse_location("/jobsinks/ns/logger") is None


def test_the_secret_holds_the_event_in_the_json_format() -> None:
    secret = jobs.event_secret(SINK, EVENT)
    name = jobs.job_name("logger", EVENT.source, EVENT.id)
    assert secret["metadata"] == {
        "name": name,
        "namespace": "ns",
        "labels": {
            api.ID_LABEL: jobs.event_hash(EVENT.source, EVENT.id),
            api.NAME_LABEL: "logger",
        },
        "ownerReferences": [
            {
                "apiVersion": "sinks.knative.dev/v1alpha1",
                "kind": "JobSink",
                "name": "logger",
                "uid": "u-1",
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ],
    }
    assert (secret["immutable"], secret["type"]) == (True, "Opaque")
    assert json.loads(base64.b64decode(secret["data"]["event"])) == {
        "specversion": "1.0",
        "id": "123",
        "source": "my/curl/command",
        "type": "my.demo.event",
        "datacontenttype": "application/json",
        "data": {"details": "JobSinkDemo"},
    }


def test_the_job_is_the_spec_named_labelled_owned_and_given_the_event() -> None:
    before = copy.deepcopy(SINK)
    job = jobs.event_job(SINK, EVENT)
    assert before == SINK  # the sink is not changed
    name = jobs.job_name("logger", EVENT.source, EVENT.id)
    metadata = job["metadata"]
    assert (metadata["name"], metadata["namespace"]) == (name, "ns")
    assert metadata["labels"] == {
        "my-label": "my-value",
        api.ID_LABEL: jobs.event_hash(EVENT.source, EVENT.id),
        api.NAME_LABEL: "logger",
    }
    assert metadata["annotations"] == {"a": "b"}
    assert (
        metadata["ownerReferences"] == jobs.event_secret(SINK, EVENT)["metadata"]["ownerReferences"]
    )
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["backoffLimit"] == 2
    assert pod["volumes"] == [{"name": "jobsink-event", "secret": {"secretName": name}}]
    main, own = pod["containers"]
    assert main["volumeMounts"] == [
        {"name": "jobsink-event", "readOnly": True, "mountPath": "/etc/jobsink-event"}
    ]
    assert own["volumeMounts"] == [{"name": "jobsink-event", "mountPath": "/etc/custom"}]
    assert main["env"] == [{"name": "K_EXECUTION_MODE", "value": "batch"}]
    assert own["env"] == [{"name": "K_EXECUTION_MODE", "value": "mine"}]
    (init,) = pod["initContainers"]
    assert init["env"] == [{"name": "K_EXECUTION_MODE", "value": "batch"}]
    assert "volumeMounts" not in init  # as Knative's: containers only
    stored = job_api.default_job(job)
    assert job_api.parse_job(stored).spec.selector is not None  # a Job the API takes


def test_the_jobsink_defaults_knatives_execution_mode_and_checks_the_job() -> None:
    parsed = api.parse_jobsink(SINK)
    main, own = parsed.spec.job.spec.template.spec.containers
    assert [(e.name, e.value) for e in main.env] == [("KNATIVE_EXECUTION_MODE", "batch")]
    assert [(e.name, e.value) for e in own.env] == [
        ("K_EXECUTION_MODE", "mine"),
        ("KNATIVE_EXECUTION_MODE", "batch"),
    ]
    bad = copy.deepcopy(SINK)
    bad["spec"]["job"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "nope", "mountPath": "/x"}
    ]
    del bad["spec"]["job"]["spec"]["template"]["spec"]["restartPolicy"]
    with pytest.raises(ValidationError) as raised:
        api.parse_jobsink(bad)
    assert sorted(e.path for e in raised.value.errors) == [
        "spec.job.spec.template.spec.containers[0].volumeMounts[0].name",
        "spec.job.spec.template.spec.restartPolicy",
    ]
