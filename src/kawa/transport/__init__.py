"""Network I/O shared by the layers above: kawa's HTTP/1.1 client, and the bounds of its server.

* :mod:`kawa.transport.http11` -- :class:`~kawa.transport.http11.HttpClient`, the lean
  HTTP/1.1 client (keep-alive pool on asyncio protocols, ADR 0008), with its connection in
  :mod:`kawa.transport._http11_connection`.
* :mod:`kawa.transport.server` -- the listeners of kawa's aiohttp server with their header
  and idle timeouts and connection cap; :mod:`kawa.transport.bodies` -- request bodies read
  within the body timeout and the shared byte budget (docs/http-server-limits.md).
* :mod:`kawa.transport.lean` -- the lean httptools path in front of aiohttp on the plain-HTTP
  port: ingress POSTs served without aiohttp, every other request handed to it (ADR "lean
  ingress server").

The client is used by the delivery sender (:mod:`kawa.delivery.sender`) and the serving data
plane (:mod:`kawa.serving.router`, :mod:`kawa.serving.dataplane`); the server's listeners by
:mod:`kawa.runtime`, and :func:`kawa.transport.bodies.read` by every handler that reads a
body (broker ingress, API, serving). It imports nothing of kawa, and nothing below the
delivery layer may import it (the import-linter layers, ADR 0018).
"""
