"""The default channel template: ConfigMap ``knative-eventing/default-ch-webhook``.

Knative's channel defaulting webhook reads key ``default-ch-config`` of that ConfigMap, a YAML
document::

    clusterDefault:            # for every namespace without its own default
      apiVersion: messaging.knative.dev/v1
      kind: InMemoryChannel
      spec: {...}              # optional: given to each created channel
    namespaceDefaults:
      some-namespace:
        apiVersion: messaging.knative.dev/v1
        kind: InMemoryChannel

:func:`parse_defaults` reads it into :class:`ChannelDefaults` (every problem reported with
its path), and :meth:`ChannelDefaults.for_namespace` picks the template a new Channel of a
namespace gets: the namespace's default, else the cluster default, else an InMemoryChannel
(:data:`~kawa.apis.messaging.channel.DEFAULT_CHANNEL_TEMPLATE`). :data:`DEFAULT_CONFIG` is
what kawa writes when the ConfigMap is missing. Pure; used by
:mod:`kawa.controllers.messaging.defaults`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from kawa.apis.messaging.channel import DEFAULT_CHANNEL_TEMPLATE, ChannelTemplate
from kawa.apis.model.base import Context
from kawa.apis.model.parse import validate
from kawa.errors import FieldError, ValidationError

NAMESPACE: Final = "knative-eventing"
CONFIG_MAP: Final = "default-ch-webhook"
KEY: Final = "default-ch-config"
DEFAULT_CONFIG: Final = (
    "clusterDefault:\n"
    "  apiVersion: messaging.knative.dev/v1\n"
    "  kind: InMemoryChannel\n"
    "namespaceDefaults: {}\n"
)
"""The ``default-ch-config`` kawa creates: InMemoryChannel everywhere (Knative's own)."""


@dataclass(frozen=True, slots=True)
class ChannelDefaults:
    """The cluster's default channel template and the namespaces' own ones."""

    cluster: ChannelTemplate | None = None
    namespaces: Mapping[str, ChannelTemplate] = field(default_factory=dict)

    def for_namespace(self, namespace: str) -> ChannelTemplate:
        """The template a new Channel in ``namespace`` gets."""
        found = self.namespaces.get(namespace)
        if found is not None:
            return found
        return self.cluster if self.cluster is not None else DEFAULT_CHANNEL_TEMPLATE


def _template(value: Any, path: str, errors: list[FieldError]) -> ChannelTemplate | None:
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(path, f"expected an object with apiVersion and kind, got {value!r}")
        )
        return None
    return validate(ChannelTemplate, dict(value), errors, ctx=Context(), path=path)


def parse_defaults(text: str) -> ChannelDefaults:
    """``default-ch-config`` (YAML) read; :class:`ValidationError` lists every problem."""
    subject = f"ConfigMap {NAMESPACE}/{CONFIG_MAP} key {KEY}"
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        raise ValidationError([FieldError("", f"not valid YAML: {err}")], subject=subject) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ValidationError(
            [FieldError("", "expected an object with clusterDefault and namespaceDefaults")],
            subject=subject,
        )
    errors: list[FieldError] = []
    cluster = None
    if doc.get("clusterDefault") is not None:
        cluster = _template(doc["clusterDefault"], "clusterDefault", errors)
    namespaces: dict[str, ChannelTemplate] = {}
    given = doc.get("namespaceDefaults") or {}
    if not isinstance(given, Mapping):
        errors.append(FieldError("namespaceDefaults", "expected an object of namespace names"))
        given = {}
    for namespace, value in given.items():
        template = _template(value, f"namespaceDefaults.{namespace}", errors)
        if template is not None:
            namespaces[str(namespace)] = template
    unknown = sorted(str(k) for k in doc if k not in ("clusterDefault", "namespaceDefaults"))
    errors += [
        FieldError(k, "unknown field; expected one of clusterDefault, namespaceDefaults")
        for k in unknown
    ]
    if errors:
        raise ValidationError(errors, subject=subject)
    return ChannelDefaults(cluster, namespaces)
