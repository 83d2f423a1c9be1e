"""The default channel of new Channels: ConfigMap ``knative-eventing/default-ch-webhook``.

Knative fills a Channel's empty ``spec.channelTemplate`` in its defaulting webhook from that
ConfigMap (key ``default-ch-config``: a namespace's default, else the cluster default).
kawa does the same in its mutating admission (:mod:`kawa.store.mutating`):
:func:`default_channel_template` is the mutator :mod:`kawa.runtime` installs, so that every
writer's Channels get it (a user's, a Sequence's); it also gives every new channel Knative's
``messaging.knative.dev/subscribable: v1`` annotation. A ConfigMap that is missing or does not
parse leaves the InMemoryChannel default (the problem is logged).
:func:`ensure_channel_defaults` creates the ConfigMap at startup when it is missing, never
overwriting a user's.
"""

from __future__ import annotations

import contextlib
import copy
import logging

from kawa.apis import core, messaging
from kawa.apis.messaging import channel_defaults
from kawa.errors import ConflictError, NotFoundError, ValidationError
from kawa.store.base import Obj, ResourceKey, ResourceStore
from kawa.store.mutating import Mutator

log = logging.getLogger(__name__)

CONFIG_KEY = ResourceKey(
    core.CONFIG_MAP.resource, channel_defaults.NAMESPACE, channel_defaults.CONFIG_MAP
)


async def ensure_channel_defaults(store: ResourceStore) -> None:
    """Create ``knative-eventing/default-ch-webhook`` unless it exists."""
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": channel_defaults.CONFIG_MAP,
            "namespace": channel_defaults.NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "kawa"},
        },
        "data": {channel_defaults.KEY: channel_defaults.DEFAULT_CONFIG},
    }
    with contextlib.suppress(ConflictError):
        await store.create(CONFIG_KEY, obj)


async def channel_defaults_of(store: ResourceStore) -> channel_defaults.ChannelDefaults:
    """The defaults the ConfigMap says (none when it is missing or invalid: logged)."""
    try:
        config = await store.get(CONFIG_KEY)
    except NotFoundError:
        return channel_defaults.ChannelDefaults()
    data = config.get("data")
    text = data.get(channel_defaults.KEY) if isinstance(data, dict) else None
    if not isinstance(text, str):
        return channel_defaults.ChannelDefaults()
    try:
        return channel_defaults.parse_defaults(text)
    except ValidationError as err:
        log.warning("%s; new Channels default to InMemoryChannel", err)
        return channel_defaults.ChannelDefaults()


SUBSCRIBABLE_ANNOTATION = messaging.SUBSCRIBABLE_LABEL
"""The annotation Knative's defaulting gives every channel: the Subscribable duck version."""
_CHANNEL_KINDS = frozenset({messaging.CHANNEL.resource, messaging.INMEMORYCHANNEL.resource})


def _annotated(obj: Obj) -> Obj:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return obj
    annotations = metadata.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        return obj
    if (annotations or {}).get(SUBSCRIBABLE_ANNOTATION):
        return obj
    return dict(
        obj,
        metadata=dict(metadata, annotations={**(annotations or {}), SUBSCRIBABLE_ANNOTATION: "v1"}),
    )


def default_channel_template(store: ResourceStore) -> Mutator:
    """The create hook of channels: a new Channel's missing ``spec.channelTemplate`` filled
    in, and every new channel annotated ``messaging.knative.dev/subscribable: v1`` (the
    duck version, as Knative's defaulting does)."""

    async def mutate(key: ResourceKey, obj: Obj) -> Obj:
        if key.resource not in _CHANNEL_KINDS:
            return obj
        obj = _annotated(obj)
        if key.resource != messaging.CHANNEL.resource:
            return obj
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("channelTemplate"):
            return obj
        if spec is not None and not isinstance(spec, dict):
            return obj  # not a Channel admission lets through; leave it to validation
        template = (await channel_defaults_of(store)).for_namespace(key.namespace)
        out = copy.deepcopy(obj)
        out.setdefault("spec", {})["channelTemplate"] = template.to_dict()
        return out

    return mutate
