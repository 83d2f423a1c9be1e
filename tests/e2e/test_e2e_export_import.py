"""``kawa export`` from one kawa and ``kawa import`` into another: what a user declared moves,
what controllers make is made again on the target, and importing twice changes nothing."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from .e2e_support import KawaProcess, kawa_up, run_cli

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: shop}
stringData: {password: s3cret}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: shop, labels: {team: orders}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all, namespace: shop}
spec:
  broker: default
  subscriber: {uri: "http://127.0.0.1:9/"}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: steps, namespace: shop}
spec:
  steps: [{uri: "http://127.0.0.1:9/a"}, {uri: "http://127.0.0.1:9/b"}]
"""


def cli(kawa: KawaProcess, *args: str, stdin: str | None = None) -> Any:
    result = run_cli(*args, "--data-dir", str(kawa.data_dir), cwd=kawa.workdir, stdin=stdin)
    assert result.code == 0, result.explain()
    return result


def test_export_then_import_moves_a_setup(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with kawa_up(tmp_path / "a") as source, kawa_up(tmp_path / "b") as target:
        cli(source, "apply", "-f", "-", stdin=MANIFESTS)
        source.wait_ready("sequences", "steps", "shop")
        out = tmp_path / "setup.yaml"
        exported = cli(source, "export", "-o", str(out))
        assert "Secret(s): keep the file private" in exported.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        objects = list(yaml.safe_load_all(out.read_text()))
        kinds = [
            (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
        ]
        assert kinds[0][0] == "Namespace"
        for wanted in [
            ("Broker", "shop", "default"),
            ("Trigger", "shop", "all"),
            ("Sequence", "shop", "steps"),
            ("Secret", "shop", "token"),
        ]:
            assert wanted in kinds, kinds
        # what the Sequence's controller made is not exported: the target makes it again
        assert not [k for k in kinds if k[0] in ("InMemoryChannel", "Subscription")], kinds
        for obj in objects:
            assert "status" not in obj
            assert not {"uid", "resourceVersion", "ownerReferences"} & set(obj["metadata"])

        first = cli(target, "import", "-f", str(out))
        assert "broker.eventing.knative.dev/default created" in first.stdout
        broker = target.wait_ready("brokers", "default", "shop")
        assert broker["metadata"]["labels"] == {"team": "orders"}
        target.wait_ready("triggers", "all", "shop")
        target.wait_ready("sequences", "steps", "shop")
        status, channels = target.request(
            "GET", "/apis/messaging.knative.dev/v1/namespaces/shop/inmemorychannels"
        )
        assert status == 200
        assert len(channels["items"]) == 2  # made by the target's Sequence controller
        status, secret = target.request("GET", "/api/v1/namespaces/shop/secrets/token")
        assert status == 200
        assert secret["data"]["password"] == "czNjcmV0"  # base64 of s3cret

        again = cli(target, "import", "-f", str(out))
        assert "broker.eventing.knative.dev/default unchanged" in again.stdout
