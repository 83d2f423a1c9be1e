"""Which nodes are alive: the heartbeat Leases in ``kube-node-lease`` as the leader sees them.

As Kubernetes' node lifecycle controller does, :class:`Health` does not compare a Lease's
``renewTime`` with its own clock (the nodes' clocks may differ): it notes, on its own
monotonic clock, when it saw each node's ``renewTime`` change. A node is *lost* when that was
more than ``grace`` seconds ago (``kawa up --node-monitor-grace-period``). A node first heard
of (its Node, its Lease, or a Pod bound to it) counts as seen then: a new leader gives every
node a whole grace period before it gives up on it. The node the leader runs on is never
lost (it is evidently alive). Pure: the caller passes the times.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Health:
    """Lease renewals seen per node (see the module docstring)."""

    grace: float
    me: str = ""
    """The leader's own node: never lost."""
    _renewed: dict[str, tuple[str, float]] = field(default_factory=dict)

    def heard_of(self, node: str, now: float) -> None:
        """``node`` is named somewhere: it has ``grace`` from now unless seen since."""
        if node and node not in self._renewed:
            self._renewed[node] = ("", now)

    def saw_lease(self, node: str, renew_time: str, now: float) -> None:
        """The Lease of ``node`` says ``renew_time``: a change is a heartbeat."""
        previous = self._renewed.get(node)
        if previous is None or (renew_time and previous[0] != renew_time):
            self._renewed[node] = (renew_time, now)

    def forget(self, node: str) -> None:
        self._renewed.pop(node, None)

    def lost(self, node: str, now: float) -> bool:
        if node == self.me:
            return False
        seen = self._renewed.get(node)
        return seen is not None and now - seen[1] > self.grace

    def alive(self, node: str, now: float) -> bool:
        """Its Lease seen, and renewed within the grace period."""
        seen = self._renewed.get(node)
        return seen is not None and bool(seen[0]) and not self.lost(node, now)

    def nodes(self) -> list[str]:
        return sorted(self._renewed)
