"""What becomes of an event its consumer gives up (:mod:`kawa.dispatch.consumer`): the
delivery and its retries failed, or its reply could not be handed on.

:meth:`GivingUp.give_up` sends it to the target's dead-letter sink when it has one; else keeps
it in kawa's dead-letter store (:mod:`kawa.dispatch.deadletter_store`) when the target keeps
one; else drops it. It answers ``False`` when the event must stay in the log and be tried
again (the sink or the store could not take it): an event is never finished before it is
delivered, dead-lettered durably, or dropped on purpose. :meth:`GivingUp.dropped` notes a drop
(stats, metrics, span, lineage), which the consumer's loop guards share.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kawa.apis.duck import DeliveryFormat
from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.sender import Attempt, DeliveryResult, Dispatcher, Identity
from kawa.dispatch import envelope, stats
from kawa.dispatch.deadletter_store import DeadLetterStore
from kawa.dispatch.deadletters import DeadLetter
from kawa.dispatch.hooks import Prepare
from kawa.dispatch.lineage import TriggerLineage
from kawa.dispatch.spans import ConsumerSpans, note, note_result
from kawa.dispatch.target import ConsumerStats, Target
from kawa.errors import KawaError

log = logging.getLogger(__name__)


class GivingUp:
    """One consumer's way of giving events up (see the module docstring); it shares the
    consumer's stats, report and lineage."""

    def __init__(
        self,
        target: Target,
        dispatcher: Dispatcher,
        prepare: Prepare,
        identity: Identity | None,
        dead_letters: DeadLetterStore | None,
        stats_: ConsumerStats,
        report: stats.ConsumerReport,
        lineage: TriggerLineage | None,
    ) -> None:
        self._target = target
        self._dispatcher = dispatcher
        self._prepare = prepare
        self._identity = identity
        self._dead_letters = dead_letters if target.dead_letter_store else None
        self._stats = stats_
        self._report = report
        self._lineage = lineage

    def dropped(self, seq: int, span: tracing.Span | None, error: str | None) -> bool:
        """Note a dropped event; ``True`` (it is finished)."""
        self._stats.dropped += 1
        self._report.dropped()
        note(span, "dropped")
        if self._lineage is not None:
            self._lineage.outcome(seq, "dropped", error)
        return True

    async def give_up(
        self,
        seq: int,
        event: CloudEvent,
        headers: dict[str, str],
        structured: bool,
        format: DeliveryFormat,
        result: DeliveryResult,
        failed_url: str,
        span: tracing.Span | None,
    ) -> bool:
        """Dead-letter, keep or drop ``event``, whose delivery (or reply, at ``failed_url``)
        ended with ``result``; ``False`` when it must be tried again."""
        target = self._target
        self._stats.last_error = result.error or f"status {result.status}"
        if target.dead_letter_uri:
            return await self._dead_letter(seq, event, headers, format, result, failed_url, span)
        if self._dead_letters is not None:
            return await self._store(seq, event, headers, structured, result, failed_url, span)
        log.warning(
            "%s: event %s dropped after %d attempt(s): %s (no dead-letter sink)",
            target.label,
            event.id,
            result.attempts,
            self._stats.last_error,
        )
        return self.dropped(seq, span, self._stats.last_error)

    async def _dead_letter(
        self,
        seq: int,
        event: CloudEvent,
        headers: dict[str, str],
        format: DeliveryFormat,
        result: DeliveryResult,
        failed_url: str,
        span: tracing.Span | None,
    ) -> bool:
        target, lineage = self._target, self._lineage
        assert target.dead_letter_uri
        dls_span = None if span is None else ConsumerSpans.dead_letter(span, result)
        dls_trail: list[Attempt] | None = None if lineage is None else []
        try:
            dls = await self._dispatcher.dead_letter(
                self._prepare(event),
                target.dead_letter_uri,
                result,
                failed_url,
                policy=target.policy,
                format=format,
                headers=headers,
                namespace=target.namespace,
                span=dls_span,
                trail=dls_trail,
                identity=self._identity,
                audience=target.dead_letter_audience,
                ca_certs=target.dead_letter_ca_certs,
            )
        except asyncio.CancelledError:
            if dls_span is not None:
                dls_span.end()
            raise
        except Exception as err:
            log.exception("%s: dead-lettering event %d failed", target.label, seq)
            dls = DeliveryResult(ok=False, status=None, attempts=1, error=repr(err))
        if dls_span is not None:
            note_result(dls_span, dls)
            dls_span.end()
        if lineage is not None and dls_trail is not None:
            lineage.attempts(seq, "dead-letter", target.dead_letter_uri, dls_trail)
            lineage.outcome(seq, "dead-lettered" if dls.ok else "kept", self._stats.last_error)
        if dls.ok:
            self._stats.dead_lettered += 1
            self._report.dead_lettered()
            note(span, "dead-lettered")
            return True
        self._stats.dead_letter_failures += 1
        note(span, "kept")
        log.warning(
            "%s: event %s kept: delivery failed (%s) and so did the dead-letter sink (%s);"
            " it is tried again",
            target.label,
            event.id,
            self._stats.last_error,
            dls.error or dls.status,
        )
        return False

    async def _store(
        self,
        seq: int,
        event: CloudEvent,
        headers: dict[str, str],
        structured: bool,
        result: DeliveryResult,
        failed_url: str,
        span: tracing.Span | None,
    ) -> bool:
        """Keep the given-up event in the dead-letter store; ``False`` when the store could
        not take it (it stays in the log and is tried again, as with a failing sink)."""
        assert self._dead_letters is not None
        target = self._target
        kept = headers | {envelope.STRUCTURED_KEY: "1"} if structured else headers
        kind, name, uid = target.kind, target.name, target.uid
        if target.replay_of is not None:  # a Replay's: kept as its Trigger's
            kind, (name, uid) = "trigger", target.replay_of
        entry = DeadLetter(
            kind=kind,
            namespace=target.namespace,
            name=name if kind == "trigger" else uid,
            uid=uid,
            parent=target.parent,
            at=time.time(),
            status=result.status,
            error=self._stats.last_error,
            attempts=result.attempts,
            destination=failed_url,
            seq=seq,
            payload=envelope.wrap(event, kept),
            format=target.format,
        )
        try:
            await self._dead_letters.keep(target.stream, entry, f"{target.cursor}#{seq}")
        except KawaError as err:
            self._stats.dead_letter_failures += 1
            note(span, "kept")
            log.warning(
                "%s: event %s kept: delivery failed (%s) and the dead-letter store could not"
                " take it (%s); it is tried again",
                target.label,
                event.id,
                self._stats.last_error,
                err,
            )
            return False
        self._stats.dead_lettered += 1
        self._report.dead_lettered()
        note(span, "stored")
        if self._lineage is not None:
            self._lineage.outcome(seq, "stored", self._stats.last_error)
        return True
