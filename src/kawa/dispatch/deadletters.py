"""The dead-letter store's values: an entry, its encoding in the event log, and the query.

When a trigger or subscription without a dead-letter sink gives an event up (every attempt
failed), its consumer keeps the event in the store instead of dropping it (unless the store
is off: the ``kawa.dev/dead-letter-store: "false"`` annotation, or ``kawa up
--no-dead-letter-store``). The store of a broker or channel is one more stream of the event
log, ``deadletters:<stream>`` (:mod:`kawa.dispatch.deadletter_store` reads and writes it).
Its records are of two kinds:

- an **entry** (:class:`DeadLetter`): a JSON object of facts (which trigger or subscriber,
  when, the last status and error, the attempts, the address that failed, the event's seq in
  its own stream), a newline, then the event as the consumer had it
  (:func:`kawa.dispatch.envelope.wrap`: its forwarded headers, then the event). An entry is
  named by its seq in the dead-letter stream (its ``id``);
- a **removal**: ``{"removed": [id, ...]}``, appended when entries were redriven or purged.

This module is pure: :func:`encode`, :func:`decode`, :func:`removal`, :class:`Query` (the
filters of ``kawa deadletters``) and :func:`live` (the entries not removed, folded from the
records in order). Used by the consumer (:mod:`kawa.dispatch.consumer`), the store and the
``deadletters`` subresource (:mod:`kawa.observability.deadletters`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from kawa.cloudevents.event import CloudEvent
from kawa.dispatch import envelope
from kawa.errors import FieldError, KawaError, ValidationError

ANNOTATION: Final = "kawa.dev/dead-letter-store"
"""The Trigger (or InMemoryChannel, for its subscribers) annotation that turns the store off
for it (``"false"``); on by default."""
VERSION: Final = 1


def stream_of(stream: str) -> str:
    """The dead-letter stream of a broker's or channel's stream (``deadletters:broker:<uid>``)."""
    return f"deadletters:{stream}"


def floor_cursor(stream: str) -> str:
    """The cursor that keeps the live entries of the dead-letter stream ``stream`` from the
    log's trim: it stays just below the oldest entry not removed."""
    return f"deadletters@{stream}"


def enabled(annotations: Mapping[str, Any] | None) -> bool:
    """Whether a Trigger (or an InMemoryChannel's subscribers) with these annotations keeps
    its given-up events in the store."""
    value = (annotations or {}).get(ANNOTATION)
    return not (isinstance(value, str) and value.strip().lower() in ("false", "off"))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One event a trigger or subscriber gave up, with why."""

    kind: str
    """``trigger`` or ``subscription``."""
    namespace: str
    name: str
    """The trigger's name; a subscription's uid (its Subscription's name is looked up)."""
    uid: str
    parent: str
    """The broker or channel it reads."""
    at: float
    """When it was given up (unix time)."""
    status: int | None
    """The last attempt's HTTP status (``None``: no answer)."""
    error: str
    attempts: int
    destination: str
    """The address that failed (the subscriber, or the reply's destination)."""
    seq: int
    """The event's seq in its broker's or channel's stream."""
    payload: bytes
    """The event and its forwarded headers (:func:`kawa.dispatch.envelope.wrap`)."""
    format: str | None = None
    """The delivery format it was sent in (``json``, ``binary``)."""
    id: int = 0
    """Its seq in the dead-letter stream (0 until stored)."""

    def event(self) -> tuple[CloudEvent, dict[str, str]]:
        """The event and its forwarded headers (KawaError/ValueError: unreadable)."""
        return envelope.unwrap(self.payload)

    def summary(self) -> dict[str, Any]:
        """The entry as JSON, with the event's ``id``, ``source`` and ``type``."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
            "parent": self.parent,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "attempts": self.attempts,
            "destination": self.destination,
            "seq": self.seq,
        }
        try:
            event = self.event()[0]
        except (KawaError, ValueError):
            out["event"] = None
        else:
            out["event"] = {"id": event.id, "source": event.source, "type": event.type}
        return out


def encode(entry: DeadLetter) -> bytes:
    """The record of ``entry`` (see the module docstring)."""
    facts = {
        "v": VERSION,
        "kind": entry.kind,
        "namespace": entry.namespace,
        "name": entry.name,
        "uid": entry.uid,
        "parent": entry.parent,
        "at": entry.at,
        "status": entry.status,
        "error": entry.error,
        "attempts": entry.attempts,
        "destination": entry.destination,
        "seq": entry.seq,
        "format": entry.format,
    }
    return orjson.dumps(facts) + b"\n" + entry.payload


def removal(ids: Iterable[int]) -> bytes:
    """The record that removes the entries ``ids`` (redriven or purged)."""
    return orjson.dumps({"v": VERSION, "removed": sorted(set(ids))})


def decode(seq: int, payload: bytes) -> DeadLetter | list[int] | None:
    """A record of the dead-letter stream at ``seq``: an entry, the ids a removal removes, or
    ``None`` for a record this version cannot read (skipped)."""
    head, newline, rest = payload.partition(b"\n")
    try:
        facts = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(facts, dict):
        return None
    if not newline:
        removed = facts.get("removed")
        if isinstance(removed, list):
            return [n for n in removed if isinstance(n, int)]
        return None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        status = facts["status"]
        return DeadLetter(
            kind=str(facts["kind"]),
            namespace=str(facts["namespace"]),
            name=str(facts["name"]),
            uid=str(facts["uid"]),
            parent=str(facts["parent"]),
            at=float(facts["at"]),
            status=None if status is None else int(status),
            error=str(facts["error"] or ""),
            attempts=int(facts["attempts"]),
            destination=str(facts["destination"]),
            seq=int(facts["seq"]),
            payload=rest,
            format=facts.get("format") if isinstance(facts.get("format"), str) else None,
            id=seq,
        )
    return None


def live(records: Iterable[tuple[int, bytes]]) -> dict[int, DeadLetter]:
    """The entries among ``(seq, payload)`` records (in seq order) that no later removal
    removed, by id."""
    found: dict[int, DeadLetter] = {}
    for seq, payload in records:
        decoded = decode(seq, payload)
        if isinstance(decoded, DeadLetter):
            found[seq] = decoded
        elif decoded is not None:
            for gone in decoded:
                found.pop(gone, None)
    return found


@dataclass(frozen=True, slots=True)
class Query:
    """Which entries a list, show, redrive or purge is about (every field optional)."""

    name: str | None = None
    """A trigger's name (a subscription's uid)."""
    since: float | None = None
    until: float | None = None
    status: int | None = None
    """The last status code; 0 asks for the entries that got no answer."""
    ids: frozenset[int] | None = None

    def matches(self, entry: DeadLetter) -> bool:
        if self.name is not None and entry.name != self.name:
            return False
        if self.since is not None and entry.at < self.since:
            return False
        if self.until is not None and entry.at > self.until:
            return False
        if self.status is not None and (entry.status or 0) != self.status:
            return False
        return self.ids is None or entry.id in self.ids

    def with_name(self, name: str | None) -> Query:
        return replace(self, name=name)


def parse_query(params: Mapping[str, str]) -> Query:
    """The :class:`Query` of a request's parameters ``trigger`` (or ``subscription``),
    ``since`` and ``until`` (unix seconds), ``status`` (a code, 0 for none) and ``id`` (entry
    ids, comma-separated); every bad one is a field error."""
    errors: list[FieldError] = []

    def number(key: str, kind: type[float] | type[int]) -> Any:
        raw = params.get(key)
        if raw is None or raw == "":
            return None
        try:
            return kind(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number of seconds since the epoch"
            errors.append(FieldError(key, f"expected {what}, got {raw!r}"))
            return None

    since, until = number("since", float), number("until", float)
    status = number("status", int)
    if status is not None and not 0 <= status <= 999:
        errors.append(FieldError("status", f"expected an HTTP status code or 0, got {status}"))
    if since is not None and until is not None and until < since:
        errors.append(FieldError("until", "expected a time at or after since"))
    ids: frozenset[int] | None = None
    raw_ids = params.get("id")
    if raw_ids:
        try:
            ids = frozenset(int(part) for part in raw_ids.split(","))
        except ValueError:
            errors.append(
                FieldError("id", f"expected entry ids (comma-separated), got {raw_ids!r}")
            )
    if errors:
        raise ValidationError(errors)
    name = params.get("trigger") or params.get("subscription") or None
    return Query(name=name, since=since, until=until, status=status, ids=ids)
