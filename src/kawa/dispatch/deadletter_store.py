"""The dead-letter store: the ``deadletters:<stream>`` streams of the event log.

:meth:`DeadLetterStore.keep` appends an entry (:mod:`kawa.dispatch.deadletters`) and returns
once the log has committed it, so a consumer finishes the event only when it is durable in
the store (acknowledged means durable). :meth:`DeadLetterStore.entries` folds the stream
into the entries still there; :meth:`DeadLetterStore.remove` appends a removal and moves
the stream's floor cursor to just below the oldest entry left.

The floor cursor is what keeps entries for as long as they are there: the log's trim deletes
a record only when every cursor of its stream is past it (and it is older than the
retention), so entries stay until redriven or purged, and what lies below the floor (removed
entries, removals) goes with the next trim. The cursor is saved (at 0) before the stream's
first entry, so no trim can come in between and no entry appended meanwhile is below it. Any
process sharing the log may write it (the last write wins; each is computed from a view that
is at most behind, never ahead, so the floor never passes an entry that is still there).

A broker's or channel's store is deleted with its stream (its data plane's ``_drop``). Used by
the consumers (through the data planes) and the ``deadletters`` subresource.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from kawa.dispatch import deadletters
from kawa.dispatch.deadletters import DeadLetter, Query
from kawa.eventlog.base import EventLog

READ_BATCH: Final = 512
READ_BYTES: Final = 8 * 1024 * 1024
"""Records and bytes read from the dead-letter stream at a time."""


@dataclass
class Seen:
    """One read of a store (:meth:`DeadLetterStore.scan`): its live entries by id, and the
    last seq read."""

    live: dict[int, DeadLetter]
    last: int
    _order: list[int] = field(default_factory=list)
    _low: int = 0

    def __post_init__(self) -> None:
        self._order = sorted(self.live)

    def drop(self, ids: Iterable[int]) -> None:
        for number in ids:
            self.live.pop(number, None)

    def floor(self) -> int:
        """Just below the oldest live entry (the last seq read when none is left); amortised
        O(1) over a redrive's removals, which go oldest first."""
        order, live = self._order, self.live
        while self._low < len(order) and order[self._low] not in live:
            self._low += 1
        return order[self._low] - 1 if self._low < len(order) else self.last


Append = Callable[[str, list[bytes], list[str] | None], Coroutine[Any, Any, list[int]]]


class DeadLetterStore:
    """The dead-letter streams of one event log (see the module docstring). ``append`` is the
    data plane's (:meth:`kawa.dispatch.running.Trimmer.append`: a full log asks for a trim);
    the log's own by default."""

    def __init__(self, event_log: EventLog, append: Append | None = None) -> None:
        self._log = event_log
        self._append: Append = append if append is not None else self._log_append
        self._guarded: set[str] = set()
        """Dead-letter streams whose floor cursor this process knows to exist."""
        self._locks: dict[str, asyncio.Lock] = {}

    async def _log_append(
        self, stream: str, payloads: list[bytes], ids: list[str] | None
    ) -> list[int]:
        return await self._log.append(stream, payloads, ids=ids)

    def lock(self, stream: str) -> asyncio.Lock:
        """Held while this process redrives or purges ``stream``'s store: one at a time, so
        two redrives in one process never send an entry twice."""
        return self._locks.setdefault(deadletters.stream_of(stream), asyncio.Lock())

    async def keep(self, stream: str, entry: DeadLetter, dedupe_id: str) -> int:
        """Store ``entry`` in ``stream``'s store durably; returns its id. ``dedupe_id`` names
        the given-up delivery (a backend with a duplicate window stores it once when a
        restart gives the same event up again)."""
        store = deadletters.stream_of(stream)
        if store not in self._guarded:
            cursor = deadletters.floor_cursor(store)
            if await self._log.load_cursor(cursor) is None:
                # at 0, not at the stream's last seq: keeps that another keep (of this or another
                # process) may append meanwhile stay above it; a floor saved back to 0 after a
                # removal moved it keeps more than needed for one trim, never less
                await self._log.save_cursor(cursor, store, 0)
            self._guarded.add(store)
        seqs = await self._append(store, [deadletters.encode(entry)], [dedupe_id])
        return seqs[0]

    async def entries(self, stream: str, query: Query | None = None) -> list[DeadLetter]:
        """The entries of ``stream``'s store that ``query`` matches, oldest first."""
        store = deadletters.stream_of(stream)
        found, _ = await self._scan(store)
        wanted = query if query is not None else Query()
        return [entry for entry in found.values() if wanted.matches(entry)]

    async def scan(self, stream: str, query: Query | None = None) -> tuple[list[DeadLetter], Seen]:
        """:meth:`entries`, and the read they come from, for :meth:`remove` to go on with."""
        found, last = await self._scan(deadletters.stream_of(stream))
        wanted = query if query is not None else Query()
        return [entry for entry in found.values() if wanted.matches(entry)], Seen(found, last)

    async def remove(self, stream: str, ids: Iterable[int], seen: Seen | None = None) -> None:
        """Remove entries (redriven or purged) from ``stream``'s store, durably. ``seen``, a
        :meth:`scan` of the store, spares reading it again (one redrive removes entries one by
        one): entries kept since are above its last seq, so the floor stays below them."""
        gone = sorted(set(ids))
        if not gone:
            return
        store = deadletters.stream_of(stream)
        await self._append(store, [deadletters.removal(gone)], None)
        if seen is None:
            found, last = await self._scan(store)
            floor = min(found) - 1 if found else last
        else:
            seen.drop(gone)
            floor = seen.floor()
        await self._log.save_cursor(deadletters.floor_cursor(store), store, floor)
        self._guarded.add(store)

    async def _scan(self, store: str) -> tuple[dict[int, DeadLetter], int]:
        """The live entries of ``store`` and the last seq read."""
        after = await self._log.load_cursor(deadletters.floor_cursor(store)) or 0
        end = await self._log.last_seq(store)
        records: list[tuple[int, bytes]] = []
        while after < end:
            batch = await self._log.read(store, after, READ_BATCH, max_bytes=READ_BYTES)
            if not batch:
                break
            records.extend((record.seq, record.payload) for record in batch)
            after = batch[-1].seq
        return deadletters.live(records), after
