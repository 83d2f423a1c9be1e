"""The CronJob kind (batch/v1): schedule and time zone checks, defaults and cells."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kawa.apis import batch
from kawa.apis.batch import cronjob
from kawa.apis.conditions import format_time
from tests.apis.helpers import field_errors

CRONJOB = batch.CRONJOB


def cronjob_obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "c", "image": "busybox"}],
                            "restartPolicy": "OnFailure",
                        }
                    }
                }
            },
            **copy.deepcopy(spec),
        },
    }


def test_defaults_are_kubernetes_ones() -> None:
    spec = CRONJOB.default(cronjob_obj())["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 1
    # a Job's own defaults wait for the Job made from the template, as in Kubernetes
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    CRONJOB.validate(cronjob_obj())


@pytest.mark.parametrize("schedule", ["0 9 * * MON-FRI", "@hourly", "@every 90m", "*/1 * * * *"])
def test_good_schedules(schedule: str) -> None:
    CRONJOB.validate(cronjob_obj(schedule=schedule))


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("*/10 * * * * *", "expected exactly 5 fields, found 6"),
        ("TZ=Europe/Paris 0 9 * * *", "use timeZone field instead"),
        ("CRON_TZ=UTC 0 9 * * *", "use timeZone field instead"),
        ("61 * * * *", "minute"),
        ("0 0 30 2 *", "never fires"),
        ("@fortnightly", "unknown descriptor"),
    ],
)
def test_bad_schedules(schedule: str, message: str) -> None:
    errors = field_errors(lambda: CRONJOB.validate(cronjob_obj(schedule=schedule)))
    assert message in errors["spec.schedule"]


def test_time_zone_concurrency_and_limits() -> None:
    CRONJOB.validate(cronjob_obj(timeZone="Europe/Paris", concurrencyPolicy="Forbid"))
    errors = field_errors(
        lambda: CRONJOB.validate(
            cronjob_obj(
                timeZone="Mars/Olympus",
                concurrencyPolicy="Sometimes",
                successfulJobsHistoryLimit=-1,
                startingDeadlineSeconds=-5,
            )
        )
    )
    assert errors["spec.timeZone"] == "unknown time zone Mars/Olympus"
    assert set(errors) == {
        "spec.timeZone",
        "spec.concurrencyPolicy",
        "spec.successfulJobsHistoryLimit",
        "spec.startingDeadlineSeconds",
    }
    assert (
        "non-empty"
        in field_errors(lambda: CRONJOB.validate(cronjob_obj(timeZone="")))["spec.timeZone"]
    )


def test_the_job_template_follows_the_job_rules() -> None:
    obj = cronjob_obj()
    obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    errors = field_errors(lambda: CRONJOB.validate(obj))
    assert list(errors) == ["spec.jobTemplate.spec.template.spec.restartPolicy"]


def test_names_leave_room_for_the_job_suffix() -> None:
    obj = cronjob_obj()
    obj["metadata"]["name"] = "x" * 53
    assert (
        "no more than 52 characters" in field_errors(lambda: CRONJOB.validate(obj))["metadata.name"]
    )
    obj["metadata"]["name"] = "x" * 52
    CRONJOB.validate(obj)


def test_kubectl_cells() -> None:
    obj = CRONJOB.default(cronjob_obj())
    assert cronjob.time_zone_cell(obj) == "<none>"
    assert cronjob.active_cell(obj) == 0
    assert cronjob.last_schedule_cell(obj) == "<none>"
    obj["status"] = {
        "active": [{"kind": "Job", "name": "nightly-1", "uid": "u"}],
        "lastScheduleTime": format_time(datetime.now(UTC) - timedelta(seconds=30)),
    }
    assert cronjob.active_cell(obj) == 1
    assert cronjob.last_schedule_cell(obj) in ("30s", "31s")
    assert cronjob.containers_cell(obj) == "c"
    assert cronjob.images_cell(obj) == "busybox"
    assert [c.name for c in CRONJOB.printer_columns if c.priority == 0] == [
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
    ]
