"""The machinery every control loop shares: the watch -> work queue -> reconcile loop
(:mod:`.loop`, following resources with :mod:`.informer`), the one reconciler shape
(:mod:`.status`), dependency tracking (:mod:`.tracker`), Destination resolution
(:mod:`.resolver`) and the core/v1 Event recorder (:mod:`.events`).

It sits below the controllers (eventing, serving, sources) and the serving data plane so that
each of them can run reconcilers and record Events without importing the others.
"""
