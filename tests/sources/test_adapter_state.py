"""What every source's state in the resource store (:mod:`kawa.sources.adapter_state`) shares:
it is internal, so the API server serves none of it, and the garbage collector and the
namespace controller (which walk the scheme's kinds) never touch it. The contract of each
source's state runs in ``tests/sources/*/test_state.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kawa.apis.registry import SCHEME
from kawa.sources.adapter_state import ClaimedState, StateStore
from kawa.sources.apiserver.state import StateStore as ApiServerSourceStates
from kawa.sources.ping.state import TickStore

from ..apiserver.api_support import serving


@pytest.mark.parametrize("states", [ApiServerSourceStates, TickStore])
async def test_the_api_serves_no_state(
    states: type[StateStore[ClaimedState]], tmp_path: Path
) -> None:
    resource = states.kind.resource
    assert resource not in {rk.resource for rk in SCHEME.kinds}  # so no GC, no namespace sweep
    plural, _, group = resource.partition(".")
    assert group == "internal.kawa.dev"
    async with serving() as api:
        await states(api.store, tmp_path).load("default", "uid-1")  # claimed: stored
        assert await states(api.store, tmp_path).get("default", "uid-1") is not None
        status, groups = await api.call("GET", "/apis")
        assert status == 200
        assert group not in {g["name"] for g in groups["groups"]}
        path = f"/apis/{group}/v1/namespaces/default/{plural}"
        assert (await api.call("GET", path))[0] == 404
        assert (await api.call("GET", f"{path}/uid-1"))[0] == 404
