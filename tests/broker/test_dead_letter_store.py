"""The dead-letter store in a running kawa, on SQLite and on JetStream: a given-up event is
kept (and listed by the Broker's ``deadletters`` subresource) unless ``kawa up
--no-dead-letter-store`` turned the store off, where it is dropped as before. The CLI and the
redrive are tested end to end in ``tests/e2e/test_e2e_deadletters.py``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kawa.apis.replay.replay import EXTENSION
from kawa.apis.retention import ANNOTATION

from ..waiting import eventually
from .broker_support import Kawa, broker, event, respond, running_kawa, subscriber, trigger
from .test_replay import REPLAYS, rfc3339

pytestmark = pytest.mark.usefixtures("each_backend")

DEADLETTERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers/default/deadletters"


async def _listed(kawa: Kawa) -> dict[str, Any]:
    async with kawa.session.get(kawa.url + DEADLETTERS) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


@pytest.mark.parametrize("store", [True, False])
async def test_given_up_events_are_kept_unless_the_store_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store: bool
) -> None:
    async with running_kawa(tmp_path, dead_letter_store=store) as kawa, subscriber() as sub:
        sub.default = respond(500)
        await kawa.apply(broker())
        failing = await kawa.apply(trigger("failing", sub.url, delivery={"retry": 0}))
        await kawa.wait_ready("Trigger", "failing")
        assert await kawa.send(event("x")) == 202
        await kawa.cursor_reaches(failing, 1)  # finished: kept, or dropped
        listed = await _listed(kawa)
        if not store:
            assert listed["deadLetters"] == []
            assert any("event x dropped after 1 attempt" in r.getMessage() for r in caplog.records)
            return
        (kept,) = listed["deadLetters"]
        assert (kept["name"], kept["event"]["id"], kept["status"]) == ("failing", "x", 500)

        async with kawa.session.delete(kawa.url + DEADLETTERS + "?trigger=failing") as resp:
            assert (await resp.json())["purged"] == 1
        assert (await _listed(kawa))["deadLetters"] == []


async def test_what_a_replay_gives_up_is_kept_as_its_triggers(tmp_path: Path) -> None:
    """A Replay run while the subscriber still fails: the replayed event it gives up is kept
    in the store under the Trigger's name (so a redrive finds the Trigger's route)."""
    async with running_kawa(tmp_path) as kawa, subscriber() as sub:
        archive = broker()
        archive["metadata"]["annotations"] = {ANNOTATION: "PT1H"}
        await kawa.apply(archive)
        failing = await kawa.apply(trigger("failing", sub.url, delivery={"retry": 0}))
        await kawa.wait_ready("Trigger", "failing")
        start = time.time()
        assert await kawa.send(event("x")) == 202
        await sub.wait_for(1)  # delivered the first time
        await kawa.cursor_reaches(failing, 1)
        sub.default = respond(500)
        replay = {
            "apiVersion": "kawa.dev/v1alpha1",
            "kind": "Replay",
            "metadata": {"name": "again", "namespace": "default"},
            "spec": {"broker": "default", "trigger": "failing", "from": rfc3339(start - 1)},
        }
        async with kawa.session.post(kawa.url + REPLAYS, json=replay) as resp:
            assert resp.status == 201, await resp.text()

        async def kept() -> list[dict[str, Any]] | None:
            found: list[dict[str, Any]] = (await _listed(kawa))["deadLetters"]
            return found or None

        (entry,) = await eventually(kept, timeout=20)
        assert (entry["kind"], entry["name"], entry["event"]["id"]) == ("trigger", "failing", "x")
        assert EXTENSION not in entry["event"]  # the event as the Broker took it: a redrive
        # sends it as the Trigger's own deliveries do


async def test_a_redrive_never_goes_to_a_new_trigger_of_the_old_name(tmp_path: Path) -> None:
    """The Trigger that gave an event up is deleted and another is made under its name: the
    entry is not the new one's to deliver (redrive it with a URL instead)."""
    async with running_kawa(tmp_path) as kawa, subscriber() as old, subscriber() as new:
        old.default = respond(500)
        await kawa.apply(broker())
        failing = await kawa.apply(trigger("failing", old.url, delivery={"retry": 0}))
        await kawa.wait_ready("Trigger", "failing")
        assert await kawa.send(event("x")) == 202
        await kawa.cursor_reaches(failing, 1)
        assert len((await _listed(kawa))["deadLetters"]) == 1
        await kawa.delete("Trigger", "failing")
        await kawa.apply(trigger("failing", new.url))
        await kawa.wait_ready("Trigger", "failing")
        async with kawa.session.post(kawa.url + DEADLETTERS, json={}) as resp:
            answer = await resp.json()
        assert (answer["delivered"], answer["failed"]) == (0, 1), answer
        assert "gone or not Ready" in answer["redriven"][0]["error"]
        assert new.events == []
