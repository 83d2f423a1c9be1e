"""Knative's sample programs, as kawa runs them for Knative's sample images.

Knative's documentation uses a few small programs published as images:
``.../eventing/cmd/appender`` (every Sequence and Parallel example),
``.../eventing/cmd/heartbeats`` (ContainerSource, SinkBinding and CronJob examples) and the
getting-started ``cloudevents-player``. kawa runs containers as host processes, so each has a
Python counterpart here, written from the upstream documentation and behaviour
(``docs/knative-samples.md`` lists the differences):

* :mod:`~kawa.samples.appender`: a CloudEvents receiver that appends ``$MESSAGE`` to the
  ``message`` of the event's JSON data and replies with the event;
* :mod:`~kawa.samples.heartbeats`: sends a heartbeat event to ``$K_SINK`` every ``--period``;
* :mod:`~kawa.samples.cloudevents_player`: a web page that sends events to a broker and lists
  the events it sends and receives.

The image catalog (:mod:`kawa.images`) names each image form and runs
``python -m kawa.samples.<program>``. The programs know CloudEvents (:mod:`kawa.cloudevents`)
and HTTP (aiohttp) only: nothing of kawa's store, controllers or data plane.
"""
