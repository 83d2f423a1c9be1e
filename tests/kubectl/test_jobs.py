"""Jobs and CronJobs through the real kubectl against a running kawa (its kubelet runs the
Pods as processes): ``kubectl create job``, ``wait --for=condition=complete``, ``logs
job/NAME``, a Job failing at its backoffLimit, parallel completions, and a CronJob with
``kubectl create job --from=cronjob/NAME``. Everything lives in its own namespace."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .kubectl_support import Kubectl, header

pytestmark = pytest.mark.slow

NS = "batch-test"


@pytest.fixture
def k(kawa: KawaProcess, kubectl: Kubectl) -> Kubectl:
    if kubectl.run("get", "namespace", NS).code != 0:
        kubectl.ok("create", "namespace", NS)
    return kubectl


def job(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    restart = spec.pop("restartPolicy", "Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "main", "image": "busybox", "command": command}],
                    "restartPolicy": restart,
                }
            },
            **spec,
        },
    }


def test_create_wait_and_logs(k: Kubectl) -> None:
    created = k.run("create", "job", "hello", "-n", NS, "--image=busybox", "--", "echo", "hi")
    assert created.code == 0, created.explain()
    assert "job.batch/hello created" in created.stdout
    k.ok("wait", "-n", NS, "--for=condition=complete", "job/hello", "--timeout=30s")
    assert k.ok("logs", "-n", NS, "job/hello").strip() == "hi"
    table = k.ok("get", "jobs", "-n", NS, "hello")
    assert header(table) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table.splitlines()[1].split()[:3] == ["hello", "Complete", "1/1"]
    stored = k.json("get", "job", "-n", NS, "hello")
    uid = stored["metadata"]["uid"]
    assert stored["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": uid}
    }
    assert stored["spec"]["template"]["metadata"]["labels"]["controller-uid"] == uid
    pods = k.json("get", "pods", "-n", NS, "-l", "job-name=hello")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "Job"
    wide = k.ok("get", "jobs", "-n", NS, "hello", "-o", "wide")
    assert header(wide)[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "batch.kubernetes.io/controller-uid=" in wide
    assert "Forbid" in k.ok("explain", "cronjob.spec.concurrencyPolicy")
    described = k.ok("describe", "job", "-n", NS, "hello")
    assert "SuccessfulCreate" in described
    assert "Completed" in described


def test_a_failing_job_stops_at_its_backoff_limit(k: Kubectl) -> None:
    # OnFailure: the kubelet restarts the container at once, and the restart counts
    k.apply(job("fails", ["sh", "-c", "exit 3"], backoffLimit=1, restartPolicy="OnFailure"))
    k.ok("wait", "-n", NS, "--for=condition=failed", "job/fails", "--timeout=30s")
    failed = k.json("get", "job", "-n", NS, "fails")
    condition = next(c for c in failed["status"]["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "BackoffLimitExceeded"
    assert k.ok("get", "job", "-n", NS, "fails", "--no-headers").split()[1] == "Failed"
    events = k.ok("get", "events", "-n", NS, "--field-selector", "involvedObject.name=fails")
    assert "BackoffLimitExceeded" in events


def test_parallel_completions(k: Kubectl) -> None:
    k.apply(job("many", ["echo", "done"], completions=4, parallelism=2))
    k.ok("wait", "-n", NS, "--for=condition=complete", "job/many", "--timeout=40s")
    done = k.json("get", "job", "-n", NS, "many")
    assert done["status"]["succeeded"] == 4
    pods = k.json("get", "pods", "-n", NS, "-l", "batch.kubernetes.io/job-name=many")["items"]
    assert len(pods) == 4
    assert {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert k.ok("get", "job", "-n", NS, "many", "--no-headers").split()[2] == "4/4"


def test_a_cronjob_and_a_job_made_from_it(k: Kubectl) -> None:
    created = k.run(
        "create",
        "cronjob",
        "nightly",
        "-n",
        NS,
        "--image=busybox",
        "--schedule=0 3 * * *",
        "--",
        "echo",
        "from the cronjob",
    )
    assert created.code == 0, created.explain()
    table = k.ok("get", "cj", "-n", NS)
    assert header(table) == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "AGE",
    ]
    assert table.splitlines()[1].split()[:7] == [
        "nightly",
        "0",
        "3",
        "*",
        "*",
        "*",
        "<none>",
    ]
    made = k.run("create", "job", "manual-run", "-n", NS, "--from=cronjob/nightly")
    assert made.code == 0, made.explain()
    k.ok("wait", "-n", NS, "--for=condition=complete", "job/manual-run", "--timeout=30s")
    assert k.ok("logs", "-n", NS, "job/manual-run").strip() == "from the cronjob"
    manual = k.json("get", "job", "-n", NS, "manual-run")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    [owner] = manual["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("CronJob", "nightly")
    bad = k.run("create", "cronjob", "bad", "-n", NS, "--image=busybox", "--schedule=61 * * * *")
    assert bad.code != 0
    assert "spec.schedule" in bad.stderr, bad.explain()


def test_a_job_from_a_rich_cronjob_template_keeps_it_whole(k: Kubectl) -> None:
    # kubectl sends the Job in protobuf: everything the template says must survive
    template = {
        "metadata": {"labels": {"app": "rich"}, "annotations": {"note": "kept"}},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "conf", "configMap": {"name": "rich-conf", "optional": True}},
            ],
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["sh", "-c"],
                    "args": ["echo $GREETING $POD"],
                    "workingDir": "/tmp",
                    "env": [
                        {"name": "GREETING", "value": "hello"},
                        {
                            "name": "POD",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                    ],
                    "ports": [{"containerPort": 18080, "name": "http"}],
                    "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "100m"}},
                    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                    "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                }
            ],
        },
    }
    k.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "rich", "namespace": NS},
            "spec": {
                "schedule": "@yearly",
                "suspend": True,
                "jobTemplate": {"spec": {"backoffLimit": 2, "template": template}},
            },
        }
    )
    k.ok("create", "job", "rich-now", "-n", NS, "--from=cronjob/rich")
    cronjob = k.json("get", "cronjob", "-n", NS, "rich")
    made = k.json("get", "job", "-n", NS, "rich-now")
    want = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert made["spec"]["template"]["spec"] == want
    assert made["spec"]["backoffLimit"] == 2
    labels = made["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == "rich"
    assert labels["job-name"] == "rich-now"
    assert made["spec"]["template"]["metadata"]["annotations"] == {"note": "kept"}


def test_ttl_after_finished_removes_the_job(k: Kubectl) -> None:
    k.apply(job("brief", ["true"], ttlSecondsAfterFinished=0))

    def gone() -> bool:
        return k.run("get", "job", "-n", NS, "brief").code != 0

    wait_until(gone, 30, "the Job outlived its ttlSecondsAfterFinished")
    assert k.json("get", "pods", "-n", NS, "-l", "job-name=brief")["items"] == []


def test_a_cronjob_runs_on_its_schedule(k: Kubectl) -> None:
    # @every 1s fires a second after creation (Jobs are named by the minute, so one per minute)
    k.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "often", "namespace": NS},
            "spec": {
                "schedule": "@every 1s",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "c", "image": "busybox", "command": ["echo", "tick"]}
                                ],
                                "restartPolicy": "OnFailure",
                            }
                        }
                    }
                },
            },
        }
    )

    def scheduled() -> dict[str, Any] | None:
        cj = k.json("get", "cronjob", "-n", NS, "often")
        return cj if cj.get("status", {}).get("lastScheduleTime") else None

    cj = wait_until(scheduled, 30, "the CronJob never scheduled a Job")
    jobs = [
        j
        for j in k.json("get", "jobs", "-n", NS)["items"]
        if j["metadata"]["name"].startswith("often-")
    ]
    assert jobs, cj
    annotations = jobs[0]["metadata"]["annotations"]
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in annotations
    name = jobs[0]["metadata"]["name"]
    k.ok("wait", "-n", NS, "--for=condition=complete", f"job/{name}", "--timeout=30s")
    assert k.ok("logs", "-n", NS, f"job/{name}").strip() == "tick"
    k.ok("patch", "cronjob", "often", "-n", NS, "-p", '{"spec":{"suspend":true}}')


def test_the_python_clients_batch_api(k: Kubectl, kawa: KawaProcess) -> None:
    client: Any = kubernetes
    api_client = client.config.new_client_from_config(config_file=str(kawa.data_dir / "kubeconfig"))
    try:
        batch = client.client.BatchV1Api(api_client)
        batch.create_namespaced_job(NS, job("from-python", ["echo", "py"]))

        def complete() -> Any:
            found = batch.read_namespaced_job_status("from-python", NS)
            conditions = (found.status and found.status.conditions) or []
            return found if any(c.type == "Complete" for c in conditions) else None

        done = wait_until(complete, 30, "the Job made by the Python client never completed")
        assert done.status.succeeded == 1
        assert done.spec.backoff_limit == 6
        names = [j.metadata.name for j in batch.list_namespaced_job(NS).items]
        assert "from-python" in names
        assert isinstance(batch.list_namespaced_cron_job(NS).items, list)
    finally:
        api_client.close()


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_delete_with_each_propagation_policy(k: Kubectl, cascade: str) -> None:
    name = f"sleepy-{cascade}"
    k.apply(job(name, ["sleep", "60"]))

    def pods() -> list[dict[str, Any]]:
        found = k.json("get", "pods", "-n", NS, "-l", f"batch.kubernetes.io/job-name={name}")
        return list(found["items"])

    (pod,) = wait_until(lambda: pods() or None, 20, f"{name} never made its Pod")
    k.ok("delete", "job", name, "-n", NS, f"--cascade={cascade}", "--timeout=40s")
    assert k.run("get", "job", name, "-n", NS).code != 0
    if cascade == "orphan":
        (kept,) = pods()
        assert kept["metadata"]["uid"] == pod["metadata"]["uid"]
        assert not kept["metadata"].get("ownerReferences")  # the Job let go of it
        k.ok("delete", "pod", kept["metadata"]["name"], "-n", NS, "--grace-period=0", "--force")
    elif cascade == "foreground":
        assert pods() == []  # kubectl returned once the Pod was gone
    wait_until(lambda: pods() == [], 40, f"{name}'s Pod never went")
