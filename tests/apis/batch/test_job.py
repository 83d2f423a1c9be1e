"""The Job kind (batch/v1): Kubernetes' defaults, generated selector, rules and cells."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from kawa.apis import batch
from kawa.apis.batch import job
from kawa.apis.conditions import format_time
from kawa.apis.registry import SCHEME
from tests.apis.helpers import field_errors

JOB = batch.JOB


def job_obj(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    template = {
        "spec": {
            "containers": [{"name": "c", "image": "busybox", "command": ["echo", "hi"]}],
            "restartPolicy": "Never",
        }
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "hello", "namespace": "default", "uid": "uid-1", **metadata},
        "spec": copy.deepcopy(spec) if spec is not None else {"template": template},
    }


def test_defaults_are_kubernetes_ones() -> None:
    spec = JOB.default(job_obj())["spec"]
    assert spec["completions"] == 1
    assert spec["parallelism"] == 1
    assert spec["backoffLimit"] == 6
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec
    # the pod template is defaulted as a Pod is
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    JOB.validate(JOB.default(job_obj()), defaulted=True)


def test_parallelism_alone_leaves_completions_unset() -> None:
    obj = job_obj()
    obj["spec"]["parallelism"] = 3
    spec = JOB.default(obj)["spec"]
    assert spec["parallelism"] == 3
    assert "completions" not in spec
    obj = job_obj()
    obj["spec"]["completions"] = 5
    spec = JOB.default(obj)["spec"]
    assert (spec["completions"], spec["parallelism"]) == (5, 1)


def test_the_selector_is_generated_from_the_uid_and_name() -> None:
    spec = JOB.default(job_obj())["spec"]
    assert spec["selector"] == {"matchLabels": {job.CONTROLLER_UID_LABEL: "uid-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "uid-1",
        "controller-uid": "uid-1",
        "batch.kubernetes.io/job-name": "hello",
        "job-name": "hello",
    }


def test_the_api_server_gives_a_new_job_a_uid_before_admission() -> None:
    # default_job (what controllers use) chooses the uid when there is none
    made = job.default_job({**job_obj(), "metadata": {"name": "x", "namespace": "default"}})
    uid = made["metadata"]["uid"]
    assert made["spec"]["selector"]["matchLabels"][job.CONTROLLER_UID_LABEL] == uid


def test_restart_policy_must_be_never_or_on_failure() -> None:
    obj = job_obj()
    del obj["spec"]["template"]["spec"]["restartPolicy"]
    assert field_errors(lambda: JOB.validate(obj)) == {
        "spec.template.spec.restartPolicy": (
            'Unsupported value: "Always": supported values: "OnFailure", "Never"'
        )
    }
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    JOB.validate(obj)


def test_types_and_rules_are_reported_together() -> None:
    obj = job_obj()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    obj["spec"]["backoffLimit"] = -1
    obj["spec"]["parallelism"] = "2"
    errors = field_errors(lambda: JOB.validate(obj))
    assert set(errors) == {
        "spec.backoffLimit",
        "spec.parallelism",
        "spec.template.spec.restartPolicy",
    }
    obj["spec"]["backoffLimit"] = 1
    obj["spec"]["parallelism"] = 2
    obj["spec"]["activeDeadlineSeconds"] = 0
    assert set(field_errors(lambda: JOB.validate(obj))) == {
        "spec.activeDeadlineSeconds",
        "spec.template.spec.restartPolicy",
    }


def test_a_manual_selector_must_match_the_template() -> None:
    obj = job_obj()
    obj["spec"]["manualSelector"] = True
    assert field_errors(lambda: JOB.validate(obj)) == {"spec.selector": "Required value"}
    obj["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    errors = field_errors(lambda: JOB.validate(obj))
    assert "does not match template `labels`" in errors["spec.template.metadata.labels"]
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    JOB.validate(obj)


def test_a_selector_without_manual_selector_is_refused() -> None:
    obj = job_obj()
    obj["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    errors = field_errors(lambda: JOB.validate(obj))
    assert "`selector` not auto-generated" in errors["spec.selector"]


def test_indexed_jobs_are_refused_with_a_reason() -> None:
    obj = job_obj()
    obj["spec"]["completionMode"] = "Indexed"
    assert "NonIndexed Jobs only" in field_errors(lambda: JOB.validate(obj))["spec.completionMode"]


def test_the_template_and_completions_are_immutable_parallelism_is_not() -> None:
    old = JOB.default(job_obj())
    new = copy.deepcopy(old)
    new["spec"]["parallelism"] = 4
    new["spec"]["backoffLimit"] = 1
    JOB.validate_update(old, new)
    new["spec"]["template"]["spec"]["containers"][0]["command"] = ["echo", "bye"]
    new["spec"]["completions"] = 3
    errors = field_errors(lambda: JOB.validate_update(old, new))
    assert set(errors) == {"spec.template", "spec.completions"}


def test_registered_with_kubectl_names() -> None:
    assert SCHEME.resolve("jobs") is JOB
    assert SCHEME.resolve("jobs.batch") is JOB
    assert SCHEME.resolve("cj") is batch.CRONJOB
    assert JOB.storage_api_version == "batch/v1"
    assert "all" in JOB.categories


def _status(**status: Any) -> dict[str, Any]:
    obj = JOB.default(job_obj())
    obj["status"] = status
    return obj


def test_kubectl_cells() -> None:
    now = datetime.now(UTC)
    running = _status(startTime=format_time(now - timedelta(seconds=5)), active=1)
    assert job.status_cell(running) == "Running"
    assert job.completions_cell(running) == "0/1"
    assert job.duration_cell(running) in ("5s", "6s")
    done = _status(
        startTime=format_time(now - timedelta(minutes=10)),
        completionTime=format_time(now - timedelta(minutes=10) + timedelta(seconds=42)),
        succeeded=1,
        conditions=[{"type": "Complete", "status": "True"}],
    )
    assert (job.status_cell(done), job.completions_cell(done)) == ("Complete", "1/1")
    assert job.duration_cell(done) == "42s"
    failed = _status(conditions=[{"type": "Failed", "status": "True"}])
    assert job.status_cell(failed) == "Failed"
    assert job.duration_cell(failed) == ""
    queue = job_obj()
    queue["spec"]["parallelism"] = 3
    queue = JOB.default(queue)
    assert job.completions_cell(queue) == "0/1 of 3"
    assert job.containers_cell(done) == "c"
    assert job.images_cell(done) == "busybox"
    assert job.selector_cell(done) == "batch.kubernetes.io/controller-uid=uid-1"
    assert [c.name for c in JOB.printer_columns if c.priority == 0] == [
        "Status",
        "Completions",
        "Duration",
        "Age",
    ]


def test_human_durations_are_kubectl_ones() -> None:
    assert [job.human_duration(s) for s in (0, 119, 150, 600, 3 * 3600 + 60, 50 * 3600)] == [
        "0s",
        "119s",
        "2m30s",
        "10m",
        "3h1m",
        "2d2h",
    ]


def test_a_name_too_long_for_the_job_name_label_is_refused() -> None:
    obj = job_obj()
    obj["metadata"]["name"] = "j" * 64
    errors = field_errors(lambda: JOB.validate(obj))
    assert set(errors) == {
        "spec.template.metadata.labels[job-name]",
        "spec.template.metadata.labels[batch.kubernetes.io/job-name]",
    }
    obj["metadata"]["name"] = "j" * 63
    JOB.validate(obj)
