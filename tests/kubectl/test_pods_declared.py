"""The Pod's one declaration seen through the real kubectl: ``kubectl explain`` walks the typed
probes, admission reports every problem of a Pod at once (rules across fields included),
stores the API server's defaults, merges containers by name and keeps the spec immutable but
for the image.

Serves kawa's API (no kubelet: the Pods are only stored) with the helper of
:mod:`.test_declared_once`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kawa.apis.registry import SCHEME

from .kubectl_support import KUBECTL, to_yaml
from .test_declared_once import serve


def pod(**container: Any) -> str:
    return to_yaml(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [
                    {"name": "app", "image": "busybox", "ports": [{"containerPort": 8080}]}
                    | container
                ]
            },
        }
    )


@pytest.mark.slow
def test_pods_through_kubectl(tmp_path: Path) -> None:
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    with serve(SCHEME, tmp_path) as kubectl:
        explained = kubectl.run("explain", "pod.spec.containers.readinessProbe.httpGet.port")
        assert explained.code == 0, explained.explain()
        assert "a number or the name of a container port" in explained.stdout

        misspelt = kubectl.run(
            "apply", "-f", "-", stdin=pod(readinessProbe={"tcpSocket": {"port": 8080}, "period": 1})
        )
        assert misspelt.code != 0
        assert 'unknown field "spec.containers[0].readinessProbe.period"' in misspelt.stderr, (
            misspelt.explain()
        )

        bad = kubectl.run(
            "apply",
            "-f",
            "-",
            stdin=pod(
                env=[{"value": "x"}],
                readinessProbe={"httpGet": {"port": "web"}},
                volumeMounts=[{"name": "data", "mountPath": "/data"}],
            ),
        )
        assert bad.code != 0
        assert sorted(bad.stderr.splitlines()[1:]) == [
            "* spec.containers[0].env[0].name: required field is missing",
            "* spec.containers[0].readinessProbe.httpGet.port: invalid value 'web': no container "
            "port has this name (port names: none)",
            "* spec.containers[0].volumeMounts[0].name: not found: no volume 'data'",
        ], bad.explain()  # every problem in one answer (their order is not the point)

        good = kubectl.run(
            "apply", "-f", "-", stdin=pod(readinessProbe={"tcpSocket": {"port": 8080}})
        )
        assert good.code == 0, good.explain()
        shown = kubectl.run(
            "get",
            "pod",
            "p",
            "-o",
            "jsonpath={.spec.restartPolicy} {.spec.containers[0].imagePullPolicy} "
            "{.spec.containers[0].ports[0].protocol} {.status.phase}",
        )
        assert shown.stdout == "Always Always TCP Pending", shown.explain()

        # kubectl set image patches the container found by name (a strategic merge)
        moved = kubectl.run("set", "image", "pod/p", "app=busybox:1.36")
        assert moved.code == 0, moved.explain()
        image = kubectl.run("get", "pod", "p", "-o", "jsonpath={.spec.containers[0].image}")
        assert image.stdout == "busybox:1.36", image.explain()

        changed = kubectl.run(
            "patch", "pod", "p", "-p", '{"spec":{"containers":[{"name":"app","args":["x"]}]}}'
        )
        assert changed.code != 0
        assert "spec.containers[0].args: " in changed.stderr, changed.explain()
        assert "field is immutable" in changed.stderr, changed.explain()
