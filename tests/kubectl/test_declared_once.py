"""One declaration, two faces: what ``kubectl explain`` shows and what admission accepts come
from the same model, so a field added to the model appears in both at once.

Serves kawa's API for a scheme with a made-up kind (in a thread, plain HTTP) and drives it
with the real kubectl: first the kind as declared, then with one more field.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import pytest
from aiohttp import web

from kawa.apis.kinds import ResourceKind
from kawa.apis.model import KubeObject, Model, doc
from kawa.apis.registry import SCHEME, Scheme
from kawa.apiserver.server import ApiServer
from kawa.store.base import ResourceKey
from kawa.store.sqlite import SqliteResourceStore

from .kubectl_support import KUBECTL, Kubectl, to_yaml


class GadgetSpec(Model):
    """The desired state of the Gadget."""

    size: Annotated[int, doc("How big the gadget is.", ge=1)] = 1


class Gadget(KubeObject):
    """A Gadget: a kind made up for this test."""

    spec: Annotated[GadgetSpec, doc("The desired state of the Gadget.")] = GadgetSpec()


class ColouredGadgetSpec(GadgetSpec):
    """The desired state of the Gadget."""

    colour: Annotated[
        Literal["red", "blue"] | None, doc("The colour the gadget is painted in.")
    ] = None


class ColouredGadget(Gadget):
    """A Gadget: a kind made up for this test."""

    spec: Annotated[ColouredGadgetSpec, doc("The desired state of the Gadget.")] = (
        ColouredGadgetSpec()
    )


def gadget_kind(model: type[Gadget]) -> ResourceKind:
    return ResourceKind(
        group="example.kawa.dev",
        versions=("v1",),
        kind="Gadget",
        plural="gadgets",
        singular="gadget",
        namespaced=True,
        model=model,
    )


@contextmanager
def serve(scheme: Scheme, tmp_path: Path) -> Iterator[Kubectl]:
    """kawa's API for ``scheme`` on a loopback port, run by a thread; kubectl pointed at it."""
    loop = asyncio.new_event_loop()
    store = SqliteResourceStore(":memory:")
    app = web.Application()
    ApiServer(store, scheme).install(app)
    runner = web.AppRunner(app)

    async def start() -> int:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        kind = scheme.for_object(namespace)
        await store.create(ResourceKey(kind.resource, "", "default"), kind.default(namespace))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    port = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        tmp_path.mkdir(parents=True, exist_ok=True)
        kubeconfig = tmp_path / "kubeconfig"
        cluster = {"server": f"http://127.0.0.1:{port}"}
        kubeconfig.write_text(
            to_yaml(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "t", "cluster": cluster}],
                    "contexts": [{"name": "t", "context": {"cluster": "t"}}],
                    "current-context": "t",
                    "users": [],
                }
            )
        )
        yield Kubectl(kubeconfig, tmp_path / "cache")
    finally:

        async def stop() -> None:
            await runner.cleanup()
            await store.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def gadget(**spec: object) -> str:
    return to_yaml(
        {
            "apiVersion": "example.kawa.dev/v1",
            "kind": "Gadget",
            "metadata": {"name": "g"},
            "spec": spec,
        }
    )


@pytest.mark.slow
def test_a_field_added_to_the_model_is_explained_and_admitted(tmp_path: Path) -> None:
    if not Path(KUBECTL).exists():
        pytest.skip(f"{KUBECTL} is not installed")
    with serve(Scheme([*SCHEME.kinds, gadget_kind(Gadget)]), tmp_path / "before") as kubectl:
        explained = kubectl.run("explain", "gadgets.spec")
        assert explained.code == 0, explained.explain()
        assert "How big the gadget is." in explained.stdout
        assert "colour" not in explained.stdout
        refused = kubectl.run("apply", "-f", "-", stdin=gadget(colour="red"))
        assert refused.code != 0
        assert 'unknown field "spec.colour"' in refused.stderr, refused.explain()
        too_small = kubectl.run("apply", "-f", "-", stdin=gadget(size=0))
        assert "spec.size: invalid value 0: must be greater than or equal to 1" in (
            too_small.stderr
        ), too_small.explain()

    with serve(Scheme([*SCHEME.kinds, gadget_kind(ColouredGadget)]), tmp_path / "after") as kubectl:
        explained = kubectl.run("explain", "gadgets.spec.colour")
        assert explained.code == 0, explained.explain()
        assert "The colour the gadget is painted in." in explained.stdout
        wrong = kubectl.run("apply", "-f", "-", stdin=gadget(colour="green"))
        assert wrong.code != 0
        assert "must be one of red, blue, got 'green'" in wrong.stderr, wrong.explain()
        applied = kubectl.run("apply", "-f", "-", stdin=gadget(colour="red"))
        assert applied.code == 0, applied.explain()
        shown = kubectl.run("get", "gadget", "g", "-o", "jsonpath={.spec.colour}")
        assert shown.stdout == "red", shown.explain()
