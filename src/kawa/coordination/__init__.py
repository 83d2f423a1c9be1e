"""Coordination between kawa nodes sharing one store: leader election over a Lease
(:mod:`.election`), each node's heartbeat Lease (:mod:`.node_lease`), and the pure rules
both follow (:mod:`.leases`). They speak only the resource store protocol, so they work on
every backend (SQLite in one process, JetStream shared by many)."""
