"""Outbound network I/O shared by the layers above: kawa's HTTP/1.1 client.

* :mod:`kawa.transport.http11` -- :class:`~kawa.transport.http11.HttpClient`, the lean
  HTTP/1.1 client (keep-alive pool on asyncio protocols, ADR 0008), with its connection in
  :mod:`kawa.transport._http11_connection`.

Used by the delivery sender (:mod:`kawa.delivery.sender`) and the serving data plane
(:mod:`kawa.serving.router`, :mod:`kawa.serving.dataplane`). It imports nothing of kawa, and
nothing below the delivery layer may import it (the import-linter layers, ADR 0018).
"""
