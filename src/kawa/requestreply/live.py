"""Every RequestReply and its signing keys, kept in memory for the data plane.

:class:`LiveRequestReplies` follows RequestReplies (all namespaces) and the Secret
``knative-eventing/request-reply-keys`` their controller keeps the keys in
(:data:`kawa.apis.eventing.requestreply.KEYS_SECRET`), each with an informer, and keeps per
RequestReply what a request needs (:class:`Endpoint`): its Broker, correlation and reply
attributes, timeout, keys (the newest first: it signs; all verify) and the EventPolicies that
apply to it (``status.policies``). A request reads no store. Every kawa process follows the
same objects, so each signs and verifies with the same keys.

Objects were validated at admission; a field that still does not hold is read as its
default, never raised on.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kawa.apis import core, duration
from kawa.apis.eventing import REQUESTREPLY
from kawa.apis.eventing import requestreply as rr_api
from kawa.errors import ValidationError
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One RequestReply as the data plane serves it."""

    namespace: str
    name: str
    broker: str
    correlation_attribute: str = rr_api.DEFAULT_CORRELATION_ATTRIBUTE
    reply_attribute: str = rr_api.DEFAULT_REPLY_ATTRIBUTE
    timeout: float = 30.0
    policies: tuple[str, ...] = ()


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _timeout(value: Any) -> float:
    try:
        seconds = duration.parse_duration(value)
    except ValidationError:
        return duration.parse_duration(rr_api.DEFAULT_TIMEOUT)
    return seconds if seconds > 0 else duration.parse_duration(rr_api.DEFAULT_TIMEOUT)


def endpoint_of(obj: Mapping[str, Any]) -> Endpoint:
    """What the data plane needs of a stored RequestReply."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    broker = spec.get("brokerRef")
    broker = broker if isinstance(broker, Mapping) else {}
    status = obj.get("status")
    status = status if isinstance(status, Mapping) else {}
    policies = status.get("policies")
    return Endpoint(
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
        _text(broker.get("name"), ""),
        _text(spec.get("correlationAttribute"), rr_api.DEFAULT_CORRELATION_ATTRIBUTE),
        _text(spec.get("replyAttribute"), rr_api.DEFAULT_REPLY_ATTRIBUTE),
        _timeout(spec.get("timeout", rr_api.DEFAULT_TIMEOUT)),
        tuple(
            str(p["name"])
            for p in (policies if isinstance(policies, list) else ())
            if isinstance(p, Mapping) and isinstance(p.get("name"), str)
        ),
    )


def decoded_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A stored Secret's ``data``, decoded (an entry that is not base64 is left out)."""
    data = secret.get("data")
    out: dict[str, bytes] = {}
    for entry, value in data.items() if isinstance(data, Mapping) else ():
        if isinstance(value, str):
            try:
                out[str(entry)] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                log.warning("ignored entry %s of Secret %s: not base64", entry, rr_api.KEYS_SECRET)
    return out


class LiveRequestReplies:
    """See the module docstring; :meth:`run_requestreplies` and :meth:`run_keys` follow the
    store until cancelled."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._keys: dict[str, bytes] = {}

    async def run_requestreplies(self) -> None:
        await inform(self._store, REQUESTREPLY.resource, self._seen, on_listed=self._listed)

    async def run_keys(self) -> None:
        await inform(
            self._store,
            core.SECRET.resource,
            self._secret_seen,
            namespace=rr_api.KEYS_NAMESPACE,
            on_listed=self._secrets_listed,
        )

    def get(self, namespace: str, name: str) -> Endpoint | None:
        return self._endpoints.get((namespace, name))

    def keys(self, namespace: str, name: str) -> list[bytes]:
        """The keys of RequestReply ``namespace/name``, the newest first (none yet: ``[]``)."""
        return rr_api.keys_of(namespace, name, self._keys)

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to RequestReply ``namespace/name``."""
        found = self._endpoints.get((namespace, name))
        return found.policies if found is not None else ()

    async def _seen(self, event: WatchEvent) -> None:
        found = endpoint_of(event.object)
        key = (found.namespace, found.name)
        if event.type == "DELETED":
            self._endpoints.pop(key, None)
        else:
            self._endpoints[key] = found

    async def _listed(self, items: list[Obj]) -> None:
        present = {(endpoint_of(o).namespace, endpoint_of(o).name) for o in items}
        for key in set(self._endpoints) - present:
            del self._endpoints[key]

    async def _secrets_listed(self, items: list[Obj]) -> None:
        """After a full list: the keys Secret gone meanwhile takes its keys with it."""
        if not any((o.get("metadata") or {}).get("name") == rr_api.KEYS_SECRET for o in items):
            self._keys = {}

    async def _secret_seen(self, event: WatchEvent) -> None:
        metadata = event.object.get("metadata") or {}
        if metadata.get("name") != rr_api.KEYS_SECRET:
            return
        self._keys = {} if event.type == "DELETED" else decoded_data(event.object)
