"""The routes events can take through one namespace, read from its objects.

A :class:`Place` is where events wait for delivery: a Broker, a Channel or InMemoryChannel, a
Sequence or a Parallel (what a subscriber that is one of them receives gives no reply). A
:class:`Hop` leaves a place: a Trigger (with its filter) leaves its broker, a Subscription its
channel, and a Sequence or Parallel is the hop out of itself. Each hop has its :class:`Out`\\s:
the places the events it handles reach next, and whether they reach them unchanged (a
subscriber, a dead-letter sink or a flow step that is itself a place) or as new events of
known types (replies):

- a subscriber that is a place gets the event itself (so does a subscriber given by the URL of
  a place's ``status.address``);
- an EventTransform's output has the ``type`` its JSONata expression sets literally, and goes
  to the transform's ``spec.sink``, else back as the reply;
- any other subscriber's replies have the types ``kawa.dev/reply-types`` declares
  (:mod:`kawa.apis.reply_types`) on the Trigger, Subscription, Sequence or Parallel, or the
  types observed at run time (``observed``); unknown, they lead nowhere;
- a dead-letter sink that is a place gets the events whose delivery failed, unchanged.

A Trigger's replies go back into its broker; a Subscription's to its ``spec.reply``; a
Sequence's last step's to the Sequence's ``spec.reply`` (a step that is a place ends the
chain there); a Parallel branch's to the branch's reply, else the Parallel's. A Parallel
branch with a ``filter`` is left out (whether it passes an event is not known). The channels
and subscriptions a Sequence, Parallel or Channel makes for itself (their owners) are left out:
the flow is read from its own spec. Destinations in another namespace are left out. Pure;
built by :func:`topology`, walked by :mod:`kawa.loops.search`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kawa.apis import eventing, flows, messaging, reply_types
from kawa.apis.eventing import Trigger, parse_trigger
from kawa.errors import KawaError
from kawa.filters.base import Filter, match_all
from kawa.filters.compile import compile_trigger
from kawa.loops.witness import Requirement, requirements
from kawa.transform import ExpressionError, compile_expression

EVENTING: Final = "eventing.knative.dev"
MESSAGING: Final = "messaging.knative.dev"
FLOWS: Final = "flows.knative.dev"
PLACE_KINDS: Final = {
    (EVENTING, "Broker"),
    (MESSAGING, "Channel"),
    (MESSAGING, "InMemoryChannel"),
    (FLOWS, "Sequence"),
    (FLOWS, "Parallel"),
}
"""The kinds whose objects are places (``(group, kind)``)."""
RESOURCE_KINDS: Final = (
    eventing.BROKER,
    eventing.TRIGGER,
    eventing.EVENTTRANSFORM,
    messaging.CHANNEL,
    messaging.INMEMORYCHANNEL,
    messaging.SUBSCRIPTION,
    flows.SEQUENCE,
    flows.PARALLEL,
)
"""Every kind the analysis reads (what its callers list from the store)."""
KINDS: Final = frozenset((rk.group, rk.kind) for rk in RESOURCE_KINDS)
"""The same, as ``(group, kind)``."""
OWNERS: Final = {"Sequence", "Parallel", "Channel"}
"""Kinds whose own channels and subscriptions are left out (their spec says the route)."""

ObjectKey = tuple[str, str]
"""``(kind, name)`` of an object of the namespace."""


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """Where events wait for delivery."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Out:
    """Where the events a hop handles go next: ``to``, ``via`` what (for the reader), and as
    what: the same event (``types`` ``None``) or new events of those types."""

    to: Place
    via: str
    types: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Hop:
    """A route out of ``source``: the object ``kind``/``name``, its filter (``None``: every
    event) and the plain requirements of that filter, and where events go next."""

    kind: str
    name: str
    source: Place
    outs: tuple[Out, ...]
    filter: Filter | None = None
    requirements: tuple[Requirement, ...] = ()

    @property
    def key(self) -> ObjectKey:
        return (self.kind, self.name)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class Topology:
    """The hops leaving each place of one namespace."""

    hops: Mapping[Place, tuple[Hop, ...]] = field(default_factory=dict)

    def all_hops(self) -> Iterable[Hop]:
        for hops in self.hops.values():
            yield from hops


def _group(obj: Mapping[str, Any]) -> str:
    api_version = str(obj.get("apiVersion") or "")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("spec")
    return found if isinstance(found, Mapping) else {}


def _owned(obj: Mapping[str, Any]) -> bool:
    owners = _meta(obj).get("ownerReferences") or []
    return any(isinstance(o, Mapping) and o.get("kind") in OWNERS for o in owners)


@dataclass(frozen=True, slots=True)
class _Answer:
    """What a subscriber that is not a place does with an event: sends ``types`` (``None``:
    unknown) back as the reply (``sink`` ``None``) or on to ``sink`` (an EventTransform's)."""

    types: tuple[str, ...] | None
    sink: Place | None = None
    onward: bool = False


class _Reader:
    """Resolves destinations against the namespace's objects."""

    def __init__(self, namespace: str, objects: list[Mapping[str, Any]]) -> None:
        self.namespace = namespace
        self.addresses: dict[str, Place] = {}
        self.transforms: dict[str, Mapping[str, Any]] = {}
        for obj in objects:
            kind, name = str(obj.get("kind")), str(_meta(obj).get("name"))
            if (_group(obj), kind) in PLACE_KINDS:
                address = (obj.get("status") or {}).get("address") or {}
                url = address.get("url") if isinstance(address, Mapping) else None
                if isinstance(url, str) and url:
                    self.addresses[url] = Place(kind, name)
            elif kind == "EventTransform":
                self.transforms[name] = obj

    def place(self, destination: Any) -> Place | None:
        """The place ``destination`` names, if it names one."""
        if not isinstance(destination, Mapping):
            return None
        ref = destination.get("ref")
        if isinstance(ref, Mapping):
            if ref.get("namespace") not in (None, "", self.namespace):
                return None
            group = str(ref.get("apiVersion") or "").split("/", 1)[0]
            if (group, ref.get("kind")) in PLACE_KINDS and ref.get("name"):
                return Place(str(ref["kind"]), str(ref["name"]))
            return None
        uri = destination.get("uri")
        return self.addresses.get(uri) if isinstance(uri, str) else None

    def answer(self, destination: Any, declared: tuple[str, ...] | None) -> _Answer:
        """What the subscriber ``destination`` (not a place) sends on; ``declared``: the
        reply types the subscribing object declares."""
        ref = destination.get("ref") if isinstance(destination, Mapping) else None
        if isinstance(ref, Mapping) and ref.get("kind") == "EventTransform":
            transform = self.transforms.get(str(ref.get("name")))
            if transform is not None and ref.get("namespace") in (None, "", self.namespace):
                spec = _spec(transform)
                literal = _literal_type(spec.get("jsonata"))
                types = (literal,) if literal is not None else declared
                if spec.get("sink") is not None:
                    return _Answer(types, self.place(spec.get("sink")), onward=True)
                return _Answer(types)
        return _Answer(declared)


def _literal_type(jsonata: Any) -> str | None:
    expression = jsonata.get("expression") if isinstance(jsonata, Mapping) else None
    if not isinstance(expression, str):
        return None
    try:
        return compile_expression(expression).literal_field("type")
    except ExpressionError:
        return None


def _dead_letter_sink(delivery: Any) -> Any:
    return delivery.get("deadLetterSink") if isinstance(delivery, Mapping) else None


def topology(
    namespace: str,
    objects: Iterable[Mapping[str, Any]],
    *,
    observed: Mapping[ObjectKey, tuple[str, ...]] | None = None,
) -> Topology:
    """The routes of ``namespace`` given its ``objects`` (stored form; other kinds and
    namespaces are ignored). ``observed``: reply types seen at run time, by subscribing
    object, used where none is declared."""
    listed = [
        obj
        for obj in objects
        if (_group(obj), obj.get("kind")) in KINDS
        and _meta(obj).get("namespace", namespace) == namespace
        and not _meta(obj).get("deletionTimestamp")
        and not _owned(obj)
    ]
    reader = _Reader(namespace, listed)
    brokers = {str(_meta(o).get("name")): o for o in listed if o.get("kind") == "Broker"}
    hops: dict[Place, list[Hop]] = {}
    for obj in listed:
        kind = str(obj.get("kind"))
        key = (kind, str(_meta(obj).get("name")))
        declared = reply_types.reply_types_of(_meta(obj).get("annotations"))
        if declared is None and observed is not None:
            declared = observed.get(key)
        hop: Hop | None
        if kind == "Trigger":
            hop = _trigger(reader, obj, brokers, declared)
        elif kind == "Subscription":
            hop = _subscription(reader, obj, declared)
        elif kind == "Sequence":
            hop = _sequence(reader, obj, declared)
        elif kind == "Parallel":
            hop = _parallel(reader, obj, declared)
        else:
            hop = None
        if hop is not None and hop.outs:
            hops.setdefault(hop.source, []).append(hop)
    return Topology({place: tuple(found) for place, found in sorted(hops.items())})


def _subscriber_outs(
    reader: _Reader,
    subscriber: Any,
    reply_to: Place | None,
    declared: tuple[str, ...] | None,
) -> list[Out]:
    place = reader.place(subscriber)
    if place is not None:
        return [Out(place, "subscriber")]
    answer = reader.answer(subscriber, declared)
    if not answer.types:
        return []
    if answer.onward:
        return [Out(answer.sink, "sink", answer.types)] if answer.sink is not None else []
    return [Out(reply_to, "reply", answer.types)] if reply_to is not None else []


def _dead_letter_outs(reader: _Reader, delivery: Any) -> list[Out]:
    place = reader.place(_dead_letter_sink(delivery))
    return [Out(place, "dead-letter sink")] if place is not None else []


def _trigger(
    reader: _Reader,
    obj: Mapping[str, Any],
    brokers: Mapping[str, Mapping[str, Any]],
    declared: tuple[str, ...] | None,
) -> Hop | None:
    try:
        trigger: Trigger = parse_trigger(obj)
        compiled = compile_trigger(trigger)
    except (KawaError, ValueError):
        return None  # an invalid trigger delivers nothing
    broker = Place("Broker", trigger.spec.broker)
    spec = _spec(obj)
    outs = _subscriber_outs(reader, spec.get("subscriber"), broker, declared)
    delivery = spec.get("delivery")
    if delivery is None:
        delivery = _spec(brokers.get(trigger.spec.broker) or {}).get("delivery")
    outs += _dead_letter_outs(reader, delivery)
    if compiled is match_all:
        return Hop("Trigger", trigger.name, broker, tuple(outs))
    return Hop("Trigger", trigger.name, broker, tuple(outs), compiled, requirements(trigger))


def _subscription(
    reader: _Reader, obj: Mapping[str, Any], declared: tuple[str, ...] | None
) -> Hop | None:
    spec = _spec(obj)
    channel = spec.get("channel")
    if not isinstance(channel, Mapping) or not channel.get("name"):
        return None
    source = Place(str(channel.get("kind") or "Channel"), str(channel["name"]))
    reply = reader.place(spec.get("reply"))
    subscriber = spec.get("subscriber")
    if subscriber is None:
        outs = [Out(reply, "reply")] if reply is not None else []
    else:
        outs = _subscriber_outs(reader, subscriber, reply, declared)
    outs += _dead_letter_outs(reader, spec.get("delivery"))
    return Hop("Subscription", str(_meta(obj).get("name")), source, tuple(outs))


def _sequence(
    reader: _Reader, obj: Mapping[str, Any], declared: tuple[str, ...] | None
) -> Hop | None:
    name = str(_meta(obj).get("name"))
    spec = _spec(obj)
    steps = [s for s in spec.get("steps") or [] if isinstance(s, Mapping)]
    outs: list[Out] = []
    current: tuple[str, ...] | None = None  # the event itself
    known = True
    for i, step in enumerate(steps, 1):
        place = reader.place(step)
        if place is not None:
            if known:
                outs.append(Out(place, f"step {i}", current))
            break
        last = i == len(steps)
        answer = reader.answer(step, declared if last else None)
        if answer.onward:
            if answer.sink is not None and answer.types:
                outs.append(Out(answer.sink, f"step {i} sink", answer.types))
            break
        known, current = answer.types is not None, answer.types
    else:
        reply = reader.place(spec.get("reply"))
        if reply is not None and known and current != ():
            outs.append(Out(reply, "reply", current))
    return Hop("Sequence", name, Place("Sequence", name), tuple(outs))


def _parallel(
    reader: _Reader, obj: Mapping[str, Any], declared: tuple[str, ...] | None
) -> Hop | None:
    name = str(_meta(obj).get("name"))
    spec = _spec(obj)
    outs: list[Out] = []
    for i, branch in enumerate(spec.get("branches") or [], 1):
        if not isinstance(branch, Mapping) or branch.get("filter") is not None:
            continue  # a branch filter's verdict is not known
        reply = reader.place(branch.get("reply") or spec.get("reply"))
        for out in _subscriber_outs(reader, branch.get("subscriber"), reply, declared):
            outs.append(Out(out.to, f"branch {i} {out.via}", out.types))
    return Hop("Parallel", name, Place("Parallel", name), tuple(outs))
