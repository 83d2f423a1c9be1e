"""kawa: Knative Eventing in Python that runs anywhere."""

__version__ = "0.1.0"
