"""The tracker's bookkeeping: references both ways, a reconcile's references replacing the
previous ones (kept after a failure), forgetting, and new resources announced once."""

from __future__ import annotations

from kawa.reconciler.tracker import Tracker
from kawa.store.base import ResourceKey

TRIGGER = ResourceKey("triggers.eventing.knative.dev", "ns", "t")
OTHER = ResourceKey("triggers.eventing.knative.dev", "ns", "u")
SERVICE = ResourceKey("services.serving.knative.dev", "ns", "display")
BROKER = ResourceKey("brokers.eventing.knative.dev", "ns", "default")
SINK = ResourceKey("brokers.eventing.knative.dev", "ns", "dead-letters")


def test_a_tracked_reference_maps_back_to_its_keys() -> None:
    tracker = Tracker()
    tracker.track(SERVICE, TRIGGER)
    tracker.track(SERVICE, OTHER)
    tracker.track(BROKER, TRIGGER)
    assert tracker.keys_for(SERVICE) == {TRIGGER, OTHER}
    assert tracker.keys_for(BROKER) == {TRIGGER}
    assert tracker.keys_for(SINK) == frozenset()
    assert tracker.references(TRIGGER) == {SERVICE, BROKER}
    assert tracker.resources() == {SERVICE.resource, BROKER.resource}


def test_track_for_records_on_behalf_of_a_key() -> None:
    tracker = Tracker()
    track = tracker.track_for(TRIGGER)
    track(SERVICE)
    assert tracker.keys_for(SERVICE) == {TRIGGER}


def test_a_completed_reconcile_replaces_the_references() -> None:
    tracker = Tracker()
    tracker.track(SERVICE, TRIGGER)
    tracker.track(BROKER, TRIGGER)
    tracker.begin(TRIGGER)
    tracker.track(BROKER, TRIGGER)
    tracker.track(SINK, TRIGGER)
    # during the reconcile the old references still count
    assert tracker.keys_for(SERVICE) == {TRIGGER}
    tracker.end(TRIGGER)
    assert tracker.references(TRIGGER) == {BROKER, SINK}
    assert tracker.keys_for(SERVICE) == frozenset()
    assert tracker.keys_for(SINK) == {TRIGGER}


def test_a_reconcile_that_tracks_nothing_forgets_everything() -> None:
    tracker = Tracker()
    tracker.track(SERVICE, TRIGGER)
    tracker.track(SERVICE, OTHER)
    tracker.begin(TRIGGER)  # the object is gone: its reconcile resolves nothing
    tracker.end(TRIGGER)
    assert tracker.references(TRIGGER) == frozenset()
    assert tracker.keys_for(SERVICE) == {OTHER}


def test_a_failed_reconcile_keeps_old_and_new_references() -> None:
    tracker = Tracker()
    tracker.track(SERVICE, TRIGGER)
    tracker.begin(TRIGGER)
    tracker.track(SINK, TRIGGER)
    tracker.end(TRIGGER, completed=False)
    assert tracker.references(TRIGGER) == {SERVICE, SINK}


def test_forget_drops_a_key_everywhere() -> None:
    tracker = Tracker()
    tracker.track(SERVICE, TRIGGER)
    tracker.track(BROKER, TRIGGER)
    tracker.track(BROKER, OTHER)
    tracker.forget(TRIGGER)
    assert tracker.references(TRIGGER) == frozenset()
    assert tracker.keys_for(SERVICE) == frozenset()
    assert tracker.keys_for(BROKER) == {OTHER}


def test_each_new_resource_is_announced_once() -> None:
    tracker = Tracker()
    announced: list[str] = []
    tracker.subscribe(announced.append)
    tracker.track(BROKER, TRIGGER)
    tracker.track(SINK, TRIGGER)
    tracker.track(SERVICE, OTHER)
    tracker.forget(OTHER)
    tracker.track(SERVICE, TRIGGER)
    assert announced == [BROKER.resource, SERVICE.resource]
