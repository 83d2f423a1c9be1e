"""Resource types of kawa: pure data (types, defaults, validation, conditions, the scheme).

Resources travel through kawa as plain Kubernetes-shaped dicts (``apiVersion``, ``kind``,
``metadata``, ``spec``, ``status``); this package gives typed, validated views of them.

* :mod:`.meta` -- metadata rules (names, labels, annotations) and dict readers;
* :mod:`.conditions` -- ``status.conditions`` and the summary ``Ready`` (``ConditionSet``);
* :mod:`.duration` -- ISO 8601 durations (``PT0.2S``) to seconds;
* :mod:`.duck` -- ``Destination`` and ``DeliverySpec``;
* :mod:`.eventing` -- Broker and Trigger;
* :mod:`.registry` -- the scheme: every kind, its names and its functions;
* :mod:`.manifests` -- multi-document YAML manifests to dicts.

No I/O here; layers above (store, API server, controllers, CLI, filters) import this one.
"""
