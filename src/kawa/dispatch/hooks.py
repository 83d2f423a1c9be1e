"""What differs between the consumers of a broker, a channel and a replay: the hooks they give
:class:`kawa.dispatch.consumer.Consumer` (what becomes of an event before it is sent, where a
reply goes, who hears of a loop's end) and the error a reply hook raises when the reply could
not be delivered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kawa.cloudevents.event import CloudEvent
from kawa.delivery import tracing
from kawa.delivery.sender import DeliveryResult
from kawa.errors import KawaError

ReplyPublisher = Callable[
    [CloudEvent, CloudEvent, dict[str, str], tracing.Span | None], Awaitable[None]
]
"""Where a subscriber's reply goes: called with the reply, the event it answered, that
event's forwarded headers (with tracing on, their trace context the reply span's) and the
reply span (``None``: tracing is off); raises
ValidationError to drop the reply (a loop guard), another KawaError when it could not be
stored or sent (the original event then goes to the dead-letter sink)."""
Prepare = Callable[[CloudEvent], CloudEvent]
"""What becomes of an event just before it is sent (the broker strips its TTL, or keeps it
for a subscriber that is a broker); raises ValidationError to end the event there (a loop
guard)."""
LoopEnded = Callable[[CloudEvent, bool], Awaitable[None]]
"""Told of an event whose loop a loop guard ended at this consumer: the event (the reply,
when ``True`` says the reply was refused; else the event the consumer took)."""


class ReplyFailed(KawaError):
    """A reply could not be delivered to ``url``: ``result`` says how (the dead letter of the
    original event describes the reply's attempt, as Knative's dispatcher does)."""

    def __init__(self, url: str, result: DeliveryResult) -> None:
        super().__init__(
            f"the reply could not be delivered to {url}: {result.error or result.status}"
        )
        self.url = url
        self.result = result
