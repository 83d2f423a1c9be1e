"""What a consumer delivers to and what it counts: :class:`Target` (a trigger's or a
subscription's, resolved by the control plane) and :class:`ConsumerStats`. Used by
:mod:`kawa.dispatch.consumer` and the data planes that build targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from kawa.apis.duck import DeliveryFormat
from kawa.apis.limits import NO_LIMITS, Limits
from kawa.delivery.policy import RetryPolicy
from kawa.filters.base import Filter, match_all


@dataclass(frozen=True, slots=True)
class Target:
    """Everything a consumer needs to know about its trigger or subscription, resolved by the
    control plane. Two targets that compare equal need no restart of their consumer."""

    kind: str
    """``trigger``, ``subscription`` or ``replay`` (for logs)."""
    namespace: str
    name: str
    uid: str
    stream: str
    cursor: str
    """The name of the consumer's cursor in the event log (one per consumer and stream)."""
    subscriber_uri: str
    dead_letter_uri: str | None
    policy: RetryPolicy
    format: DeliveryFormat | None
    """``json`` (structured), ``binary``, or ``None``: the way the event came in."""
    parent: str = ""
    """The broker or channel whose stream it reads (for metrics)."""
    filter: Filter = field(default=match_all, compare=False)
    filter_spec: str = ""
    filter_type: str = ""
    """The ``type`` a trigger's ``filter.attributes`` asks for (a metrics label; "": any)."""
    ordered: bool = False
    reply_uri: str | None = None
    lineage: bool = False
    """Whether the consumer notes the lineage of its events (the broker keeps it)."""
    audience: str | None = None
    """The subscriber's OIDC audience (authentication-oidc; ``None``: it names none)."""
    reply_audience: str | None = None
    dead_letter_audience: str | None = None
    ca_certs: str | None = None
    """The PEM certificates the subscriber's https certificate verifies against, besides the
    trust bundles (its ``CACerts``; ``None``: the trust bundles alone)."""
    reply_ca_certs: str | None = None
    dead_letter_ca_certs: str | None = None
    identity: str = ""
    """The ServiceAccount the deliveries are sent as (authentication-oidc; "": none)."""
    limits: Limits = NO_LIMITS
    """Deliveries started per second and at once at most (``kawa.dev/max-rate``,
    ``kawa.dev/max-in-flight``, and what a Knative Service subscriber can take)."""
    dead_letter_store: bool = False
    """Whether an event given up without a dead-letter sink goes to the dead-letter store
    (:mod:`kawa.dispatch.deadletter_store`) rather than being dropped."""
    replay_of: tuple[str, str] | None = None
    """For a Replay's deliveries: the name and uid of the Trigger they are for (what it gives
    up is stored as that Trigger's, so a redrive finds its route)."""
    ready_since: float | None = field(default=None, compare=False)
    """When the trigger or subscriber became Ready (unix time): a new consumer delivers the
    events appended since then, even those that arrived before it started."""

    @property
    def consumer_id(self) -> str:
        """The name of this consumer's cursor in the event log."""
        return self.cursor

    @property
    def label(self) -> str:
        """``trigger ns/name`` (for logs)."""
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(slots=True)
class ConsumerStats:
    """Counters a consumer keeps (read by metrics and tests)."""

    matched: int = 0
    filtered_out: int = 0
    delivered: int = 0
    replies: int = 0
    dead_lettered: int = 0
    dead_letter_failures: int = 0
    """Times an event's delivery and then its dead-letter send failed (it is tried again)."""
    dropped: int = 0
    failed: int = 0
    """Deliveries whose every attempt failed (the event was then dead-lettered, dropped or
    kept to be tried again)."""
    retries: int = 0
    """Attempts after the first of each delivery (a delivery that succeeded at its third
    attempt counts two)."""
    last_error: str = ""

    def counts(self) -> dict[str, int]:
        """The counters by their names in the console's JSON."""
        return {
            "matched": self.matched,
            "filteredOut": self.filtered_out,
            "delivered": self.delivered,
            "failed": self.failed,
            "retries": self.retries,
            "deadLettered": self.dead_lettered,
            "dropped": self.dropped,
            "replies": self.replies,
        }
