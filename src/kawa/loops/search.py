"""Finding the loops of a :class:`~kawa.loops.topology.Topology`: routes on which an event
comes back to a hop that takes it again.

For each hop (a Trigger, a Subscription, a flow) that can reach its own place again at all,
a breadth-first search follows what an event it takes can become: the same event (it must
then pass every filter it met since it last changed) or a reply of a declared type (only its
``type`` is known). Whether an event can pass a filter is decided by a witness event
(:mod:`kawa.loops.witness`) that the compiled filters of :mod:`kawa.filters` must all pass:
a loop is reported only when such an event exists, so filters that exclude each other
(``type: a`` then ``type: b``) make no loop, and a filter the witness does not pass (an
expression the analysis cannot satisfy) counts as not passed. The first loop found for a hop
is the shortest. Each search visits at most :data:`MAX_STATES` states, so the cost is bounded
whatever the namespace holds.

:func:`find_loops` returns one :class:`Loop` per hop on a loop (the same loop seen from each
of its hops once). Pure; called by the API server's apply warning, the trigger controller's
``LoopFree`` condition and the broker's TTL report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from kawa.cloudevents.event import CloudEvent
from kawa.loops.topology import Hop, ObjectKey, Out, Place, Topology
from kawa.loops.witness import Requirement, witness

MAX_STATES: Final = 2_000
"""States (a place and what is known of the event there) one search visits at most."""
MAX_SHOWN: Final = 16
"""Steps of a loop its text shows at most (a Warning header and a condition stay short)."""
MAX_WORK: Final = 100_000
"""Units of work (:class:`Budget`) one analysis of a namespace does at most."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a loop: a place, or a hop and how the event left it (``via``)."""

    kind: str
    name: str
    via: str = ""
    types: tuple[str, ...] | None = None

    def __str__(self) -> str:
        text = f"{self.kind} {self.name}"
        if self.via:
            text += f" ({self.via}"
            if self.types:
                text += ": " + ", ".join(self.types)
            text += ")"
        return text


@dataclass(frozen=True, slots=True)
class Loop:
    """A route from a place back to it on which an event (``event_type``) is taken again."""

    steps: tuple[Step, ...]
    event_type: str

    @property
    def members(self) -> frozenset[ObjectKey]:
        """The objects on the loop."""
        return frozenset((step.kind, step.name) for step in self.steps)

    @property
    def triggers(self) -> tuple[str, ...]:
        """The names of the Triggers on the loop, in order."""
        return tuple(dict.fromkeys(s.name for s in self.steps if s.kind == "Trigger"))

    def starting_at(self, kind: str, name: str) -> Loop:
        """The same loop told from the object ``kind``/``name`` (from the place before it,
        when it is a hop)."""
        cycle = list(self.steps[:-1])
        at = next((i for i, s in enumerate(cycle) if (s.kind, s.name) == (kind, name)), None)
        if at is None or not cycle:
            return self
        if cycle[at].via and at > 0 and not cycle[at - 1].via:
            at -= 1
        elif cycle[at].via and at == 0:
            return self
        rotated = cycle[at:] + cycle[:at]
        return Loop((*rotated, Step(rotated[0].kind, rotated[0].name)), self.event_type)

    def text(self) -> str:
        """``Broker default -> Trigger t (subscriber) -> Broker default`` (a long loop with
        its middle left out: at most :data:`MAX_SHOWN` steps)."""
        shown = [str(step) for step in self.steps]
        if len(shown) > MAX_SHOWN:
            head, tail = MAX_SHOWN // 2, MAX_SHOWN // 2 - 1
            left_out = len(shown) - head - tail
            shown = [*shown[:head], f"({left_out} more steps)", *shown[-tail:]]
        return " -> ".join(shown)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What is known of an event: attributes set by a declaration (its ``type``), and the
    hops whose filters it passed since it last changed."""

    known: tuple[tuple[str, str], ...]
    passed: frozenset[Hop]


@dataclass(frozen=True, slots=True)
class _State:
    place: Place
    shape: _Shape


class _Matcher:
    """Whether an event of a shape passes a hop's filter (memoised for a whole analysis, with
    the witness events it builds)."""

    def __init__(self, budget: Budget) -> None:
        self._seen: dict[tuple[_Shape, Hop], CloudEvent | None] = {}
        self._witnesses: dict[tuple[object, ...], CloudEvent | None] = {}
        self._budget = budget

    def passes(self, shape: _Shape, hop: Hop) -> CloudEvent | None:
        """The witness event when one passes ``hop`` and every filter of ``shape``."""
        key = (shape, hop)
        if key not in self._seen:
            self._seen[key] = self._decide(shape, hop)
        return self._seen[key]

    def _witness(self, shape: _Shape, required: tuple[Requirement, ...]) -> CloudEvent | None:
        key = (shape.known, required)
        if key not in self._witnesses:
            self._witnesses[key] = witness(dict(shape.known), required)
        return self._witnesses[key]

    def _decide(self, shape: _Shape, hop: Hop) -> CloudEvent | None:
        filtered = [h for h in (*shape.passed, hop) if h.filter is not None]
        if not self._budget.spend(max(1, len(filtered))):
            return None
        event = self._witness(shape, tuple(r for h in filtered for r in h.requirements))
        if event is None:
            return None
        for h in filtered:
            assert h.filter is not None
            try:
                if not h.filter(event):
                    return None
            except Exception:  # a filter that fails on the witness: not passed
                return None
        return event


def _after(shape: _Shape, hop: Hop, out: Out) -> list[_Shape]:
    """What is known of the events ``hop`` sends through ``out`` given one of ``shape``."""
    if out.types is None:
        passed = shape.passed | {hop} if hop.filter is not None else shape.passed
        return [_Shape(shape.known, passed)]
    return [_Shape((("type", type_),), frozenset()) for type_ in out.types]


def components(topology: Topology) -> dict[Place, int]:
    """The places from which some route (filters and types aside) leads back to them, each
    with the number of its strongly connected component (Tarjan's algorithm, without
    recursion)."""
    edges: dict[Place, list[Place]] = {}
    for hop in topology.all_hops():
        edges.setdefault(hop.source, []).extend(out.to for out in hop.outs)
    index: dict[Place, int] = {}
    low: dict[Place, int] = {}
    stack: list[Place] = []
    on_stack: set[Place] = set()
    cyclic: dict[Place, int] = {}
    for root in edges:
        if root in index:
            continue
        work: list[tuple[Place, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            following = edges.get(node, [])
            if i < len(following):
                work.append((node, i + 1))
                nxt = following[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # back in the caller: pass the low link up
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[Place] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    cyclic.update(dict.fromkeys(component, len(cyclic)))
    return cyclic


def _on_cycle(hop: Hop, cyclic: Mapping[Place, int]) -> bool:
    """Whether some route out of ``hop`` stays in its place's component."""
    own = cyclic.get(hop.source)
    return own is not None and any(cyclic.get(out.to) == own for out in hop.outs)


class Budget:
    """The work a whole analysis may do: each state visited and each filter run on a
    witness costs one unit; once :data:`MAX_WORK` units are spent, searches stop (the loops
    found so far are reported)."""

    def __init__(self, units: int = MAX_WORK) -> None:
        self.left = units

    def spend(self, units: int = 1) -> bool:
        """Take ``units``; ``False`` when the budget is spent."""
        self.left -= units
        return self.left >= 0


class _Index:
    """The hops leaving each place, those whose filter asks for one exact ``type`` apart: an
    event of a known type is tried only on the hops of its type and on the others."""

    def __init__(self, topology: Topology) -> None:
        self._by_type: dict[Place, dict[str, list[Hop]]] = {}
        self._others: dict[Place, list[Hop]] = {}
        self._all = topology.hops
        for place, hops in topology.hops.items():
            for hop in hops:
                types = {
                    r.value for r in hop.requirements if r.attribute == "type" and r.op == "exact"
                }
                if len(types) == 1:
                    (type_,) = types
                    self._by_type.setdefault(place, {}).setdefault(type_, []).append(hop)
                else:
                    self._others.setdefault(place, []).append(hop)

    def candidates(self, place: Place, shape: _Shape) -> Iterable[Hop]:
        known = dict(shape.known).get("type")
        if known is None:
            return self._all.get(place, ())
        return [
            *self._by_type.get(place, {}).get(known, ()),
            *self._others.get(place, ()),
        ]


def loop_of(
    topology: Topology,
    start: Hop,
    *,
    cyclic: Mapping[Place, int] | None = None,
    budget: Budget | None = None,
    index: _Index | None = None,
    matcher: _Matcher | None = None,
) -> Loop | None:
    """The shortest loop through ``start``, if there is one (see the module docstring);
    ``cyclic``: :func:`components` of the topology, when known (the other arguments are
    shared by :func:`find_loops`' searches)."""
    if not _on_cycle(start, cyclic if cyclic is not None else components(topology)):
        return None
    budget = budget if budget is not None else Budget()
    index = index if index is not None else _Index(topology)
    matcher = matcher if matcher is not None else _Matcher(budget)
    first = _Shape((), frozenset())
    parents: dict[_State, tuple[_State | None, Hop, Out]] = {}
    queue: deque[_State] = deque()
    for out in start.outs:
        for shape in _after(first, start, out):
            state = _State(out.to, shape)
            if state not in parents:
                parents[state] = (None, start, out)
                queue.append(state)
    while queue and len(parents) <= MAX_STATES and budget.spend():
        state = queue.popleft()
        if state.place == start.source:
            found = matcher.passes(state.shape, start)
            if found is not None:
                return _loop(parents, state, start.source, found)
        for hop in index.candidates(state.place, state.shape):
            if matcher.passes(state.shape, hop) is None:
                continue
            for out in hop.outs:
                for shape in _after(state.shape, hop, out):
                    following = _State(out.to, shape)
                    if following not in parents:
                        parents[following] = (state, hop, out)
                        queue.append(following)
    return None


def _loop(
    parents: dict[_State, tuple[_State | None, Hop, Out]],
    end: _State,
    origin: Place,
    event: CloudEvent,
) -> Loop:
    steps: list[Step] = []
    state: _State | None = end
    while state is not None:
        previous, hop, out = parents[state]
        steps.append(Step(out.to.kind, out.to.name))
        steps.append(Step(hop.kind, hop.name, out.via, out.types))
        state = previous
    steps.append(Step(origin.kind, origin.name))
    steps.reverse()
    # a flow is the hop out of its own place: name it once
    merged: list[Step] = []
    for step in steps:
        if merged and (merged[-1].kind, merged[-1].name) == (step.kind, step.name):
            merged[-1] = step if step.via else merged[-1]
            continue
        merged.append(step)
    return Loop(tuple(merged), str(event.attributes.get("type", "")))


def find_loops(topology: Topology) -> list[Loop]:
    """The loops of ``topology``, each once: one through every hop on a loop (a hop on a loop
    found already is not searched from again), within one :class:`Budget`."""
    cyclic = components(topology)
    budget = Budget()
    index = _Index(topology)
    matcher = _Matcher(budget)
    found: list[Loop] = []
    covered: set[ObjectKey] = set()
    for hop in topology.all_hops():
        if hop.key in covered or not _on_cycle(hop, cyclic):
            continue
        loop = loop_of(topology, hop, cyclic=cyclic, budget=budget, index=index, matcher=matcher)
        if loop is not None:
            covered |= loop.members
            found.append(loop)
        if budget.left <= 0:
            break
    return found
