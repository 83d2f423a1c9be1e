"""Delivery of one event to one subscriber: retry policy, headers, HTTP sender, dead letters.

* :mod:`kawa.delivery.policy` -- :class:`~kawa.delivery.policy.RetryPolicy` (pure): attempts,
  which statuses are retried, backoff and ``Retry-After``; built from a ``delivery`` spec by
  :func:`~kawa.delivery.policy.policy_from_delivery`.
* :mod:`kawa.delivery.headers` -- (pure) the headers forwarded to subscribers and dead-letter
  sinks, and the ``knativeerror*`` dead-letter extensions.
* :mod:`kawa.delivery.sender` -- :class:`~kawa.delivery.sender.Dispatcher`, the one place that
  POSTs events (a shared keep-alive pool), returning a
  :class:`~kawa.delivery.sender.DeliveryResult` with the subscriber's reply, if any.

The Dispatcher sends with :class:`kawa.transport.http11.HttpClient`, the lean HTTP/1.1 client
(ADR 0008) that the serving router uses too.

Called by the broker's per-trigger consumers, the channel dispatchers and the sources. Nothing
is imported here so that the pure modules load without the network code.
"""
