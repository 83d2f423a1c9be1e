"""The real kubectl drives every kind kawa serves: apply, get (table, yaml, json, -w),
describe, label, annotate, patch (merge, strategic, json), delete, explain, api-resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kawa.apis.registry import SCHEME
from kawa.apiserver import crds

from ..e2e.e2e_support import KawaProcess
from ..waiting import wait_until
from .cases import BROKER, CASES, CHANNEL, NS, KindCase, get_at
from .kubectl_support import Kubectl, condition, header

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def namespace(kawa: KawaProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    kubectl = Kubectl(kawa.data_dir / "kubeconfig", tmp_path_factory.mktemp("cache"))
    kubectl.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Broker",
                "metadata": {"name": BROKER, "namespace": NS},
            },
            {
                "apiVersion": "messaging.knative.dev/v1",
                "kind": "InMemoryChannel",
                "metadata": {"name": CHANNEL, "namespace": NS},
            },
        ]
    )
    return NS


def test_cases_cover_every_kind() -> None:
    """Every kind clients may write has a lifecycle case (read-only kinds: test_api_surface)."""
    writable = [rk.kind for rk in SCHEME.kinds if rk.resource not in crds.READ_ONLY]
    assert sorted(c.kind for c in CASES) == sorted(writable)


def _ready(kubectl: Kubectl, case: KindCase) -> dict[str, Any]:
    """The object once its Ready condition has the expected status (a Service needs its
    process started, a source its sink resolved)."""
    want = (case.ready or "").split("/")[0]
    last: dict[str, Any] = {}

    def seen() -> dict[str, Any] | None:
        nonlocal last
        last = kubectl.json("get", case.resource, case.name, *case.scope())
        ready = condition(last)
        return last if ready is not None and ready["status"] == want else None

    try:
        obj: dict[str, Any] = wait_until(seen, 30, f"{case.kind} never reported Ready={want}")
    except AssertionError:
        return last  # the caller's assertion shows what it reported instead
    return obj


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
def test_kubectl_lifecycle(
    case: KindCase, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    name, scope = case.name, case.scope()
    ref = (case.resource, name, *scope)

    # apply: created, unchanged, configured
    assert "created" in kubectl.apply(case.manifest)
    assert "unchanged" in kubectl.apply(case.manifest)
    changed = case.changed()
    out = kubectl.apply(changed)
    assert f"{name} configured" in out, out
    obj = kubectl.json("get", *ref)
    assert get_at(obj, case.path) == case.values[0]
    assert obj["kind"] == case.kind
    assert obj["apiVersion"] == case.manifest["apiVersion"]
    assert obj["metadata"]["resourceVersion"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]

    # honest status: Ready is True only where kawa really does the work
    if case.ready is not None:
        ready = condition(_ready(kubectl, case))
        assert ready is not None
        if case.ready == "True":
            assert ready["status"] == "True", ready
        else:
            status, reason = case.ready.split("/")
            assert (ready["status"], ready.get("reason")) == (status, reason), ready
            assert ready.get("message")

    # get: the table's columns, yaml and json
    table = kubectl.ok("get", case.resource, *scope)
    assert header(table) == case.columns, table
    assert any(case.row in line.split() for line in table.splitlines()[1:]), table
    one = kubectl.ok("get", *ref, "--no-headers")
    assert len(one.splitlines()) == 1, one
    as_yaml = yaml.safe_load(kubectl.ok("get", *ref, "-o", "yaml"))
    assert get_at(as_yaml, case.path) == case.values[0]
    assert as_yaml["metadata"]["name"] == name
    listed = kubectl.json("get", case.resource, *scope)
    assert name in [i["metadata"]["name"] for i in listed["items"]]
    group = case.manifest["apiVersion"].rpartition("/")[0]
    qualified = f"{case.kind.lower()}.{group}" if group else case.kind.lower()
    assert kubectl.ok("get", *ref, "-o", "name").strip() == f"{qualified}/{name}"

    # get -w while labelling, annotating (and overwriting, removing)
    watch_args = ("get", case.resource, *scope, "-w", "--output-watch-events")
    with kubectl.watch(tmp_path / "watch.out", *watch_args) as watch:
        watch.wait_for(
            lambda lines: any(line.startswith("ADDED") and case.row in line for line in lines),
            "no ADDED line",
        )
        assert "labeled" in kubectl.ok("label", *ref, "tier=one")
        watch.wait_for(
            lambda lines: any(line.startswith("MODIFIED") and case.row in line for line in lines),
            "no MODIFIED line after the label",
        )
    assert header("\n".join(watch.lines())) == ["EVENT", *case.columns]
    kubectl.fails("label", *ref, "tier=two")  # needs --overwrite
    kubectl.ok("label", *ref, "tier=two", "--overwrite")
    kubectl.ok("annotate", *ref, "note=first")
    assert "already has a value" in kubectl.fails("annotate", *ref, "note=again").stderr
    kubectl.ok("annotate", *ref, "note=second", "--overwrite")
    meta = kubectl.json("get", *ref)["metadata"]
    assert meta["labels"]["tier"] == "two"
    assert meta["annotations"]["note"] == "second"
    selected = kubectl.ok("get", case.resource, *scope, "-l", "tier=two", "-o", "name")
    assert selected.strip().endswith(f"/{name}")
    kubectl.ok("label", *ref, "tier-")
    kubectl.ok("annotate", *ref, "note-")
    meta = kubectl.json("get", *ref)["metadata"]
    assert "tier" not in (meta.get("labels") or {})
    assert "note" not in (meta.get("annotations") or {})
    assert not kubectl.ok("get", case.resource, *scope, "-l", "tier=two", "-o", "name").strip()

    # describe
    described = kubectl.ok("describe", *ref)
    assert name in described.splitlines()[0], described
    if case.ready is not None:
        assert "Conditions:" in described, described
        assert "Ready" in described, described

    # patch: strategic (built-in default) or merge, then json
    patch = orjson.dumps(case.patch_body()).decode()
    if case.builtin:
        assert "patched" in kubectl.ok("patch", *ref, "-p", patch)
    else:
        refused = kubectl.fails("patch", *ref, "-p", patch)  # strategic: not for custom kinds
        assert "merge" in refused.stderr, refused.explain()
        assert "patched" in kubectl.ok("patch", *ref, "--type", "merge", "-p", patch)
    obj = kubectl.json("get", *ref)
    assert get_at(obj, case.path) == case.values[1]
    if "merged" in case.extra:
        path, value = case.extra["merged"]
        assert get_at(obj, path) == value, obj
    json_patch = orjson.dumps(case.json_patch()).decode()
    assert "patched" in kubectl.ok("patch", *ref, "--type", "json", "-p", json_patch)
    assert get_at(kubectl.json("get", *ref), case.path) == case.values[2]
    # a failing JSON patch test changes nothing
    failed = kubectl.fails("patch", *ref, "--type", "json", "-p", json_patch)
    assert "test failed" in failed.stderr, failed.explain()
    assert get_at(kubectl.json("get", *ref), case.path) == case.values[2]

    # delete, then NotFound
    assert "deleted" in kubectl.ok("delete", *ref)
    missing = kubectl.fails("get", *ref)
    assert "NotFound" in missing.stderr, missing.explain()
    assert name in missing.stderr, missing.explain()


def test_pods_wide_columns(namespace: str, kubectl: Kubectl) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wide", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "60"]}]},
    }
    kubectl.apply(pod)

    def running() -> str | None:
        table = kubectl.ok("get", "pods", "wide", "-n", NS, "-o", "wide")
        return table if "Running" in table else None

    table = wait_until(running, 30, "the Pod never ran")
    assert header(table) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    # the kubelet ran it on node kawa, on the Pod's own loopback address
    pod_ip = kubectl.json("get", "pod", "wide", "-n", NS)["status"]["podIP"]
    assert pod_ip.startswith("127.")
    assert table.splitlines()[1].split()[:8] == [
        "wide",
        "1/1",
        "Running",
        "0",
        *table.splitlines()[1].split()[4:5],
        pod_ip,
        "kawa",
        "<none>",
    ]
    kubectl.ok("delete", "pod", "wide", "-n", NS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
def test_explain_spec(case: KindCase, kubectl: Kubectl) -> None:
    rk = next(rk for rk in SCHEME.kinds if rk.kind == case.kind)
    assert rk.schema is not None, f"{case.kind} has no schema"
    field = next(
        f
        for f in ("spec", "data", "rules", "subjects", "message", "secrets", "subsets", "endpoints")
        if f in rk.schema["properties"]
    )
    out = kubectl.ok("explain", f"{case.resource}.{field}")
    assert f"KIND:       {case.kind}" in out, out
    assert "FIELDS:" in out or "DESCRIPTION:" in out, out
    recursive = kubectl.ok("explain", case.resource, "--recursive")
    assert "metadata" in recursive, recursive
    assert field in recursive, recursive


def test_api_resources_lists_every_kind(kubectl: Kubectl) -> None:
    out = kubectl.ok("api-resources")
    assert header(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = set()
    for line in out.splitlines()[1:]:
        cells = line.split()
        short = cells[1] if len(cells) == 5 else ""
        rows.add((cells[0], short, cells[-3], cells[-2], cells[-1]))
    for rk in SCHEME.kinds:
        for api_version in (rk.storage_api_version, *rk.extra_api_versions):
            wanted = (
                rk.plural,
                ",".join(rk.short_names),
                api_version,
                str(rk.namespaced).lower(),
                rk.kind,
            )
            assert wanted in rows, f"{wanted} missing:\n{out}"
    wide = kubectl.ok("api-resources", "-o", "wide")
    assert "VERBS" in wide
    assert "CATEGORIES" in wide
    knative = kubectl.ok("api-resources", "--categories", "knative", "-o", "name")
    assert "brokers.eventing.knative.dev" in knative.split()
    everything = kubectl.ok("get", "all", "-A", "-o", "name")
    assert len(everything.split()) == len(set(everything.split())), everything
