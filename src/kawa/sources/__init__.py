"""Knative's event sources, run inside kawa: ApiServerSource, PingSource, ContainerSource and
SinkBinding (issue #6). Each source kind has a reconciler (status, sink resolution,
permissions) and an adapter (the part that produces events and sends them to the sink)."""
