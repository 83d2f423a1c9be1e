"""Every EventTransform, its expressions compiled, kept in memory for the data plane.

:class:`LiveTransforms` follows EventTransforms with an informer (all namespaces) and keeps,
per transform, what a request needs (:class:`Transform`): the compiled expression and reply
expression, whether replies are discarded, whether it has a sink and the sink's resolved URL
and audience (its ``status.sinkUri`` / ``sinkAudience``, written by the reconciler) and the
EventPolicies that apply to it (``status.policies``). A request reads no store.

Expressions are compiled once per text (:meth:`LiveTransforms._compiled`): a status write,
which changes no expression, reuses them, and so do two transforms with the same expression.
A compiled expression no live transform uses any more is dropped. The objects were validated
at admission; one that still does not hold (an expression that does not compile, written
before kawa checked it) is kept as broken, and its requests get a 500 saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kawa import transform
from kawa.apis.eventing import EVENTTRANSFORM
from kawa.reconciler.informer import inform
from kawa.store.base import Obj, ResourceStore, WatchEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Transform:
    """One EventTransform as the data plane runs it."""

    namespace: str
    name: str
    expression: transform.Expression | None
    """``None``: the transform is broken (see ``broken``)."""
    reply: transform.Expression | None = None
    discard: bool = False
    has_sink: bool = False
    sink_url: str | None = None
    """The resolved sink (``None`` while it is not, or without a sink)."""
    sink_audience: str | None = None
    sink_ca_certs: str | None = None
    identity: str | None = None
    """The ServiceAccount its deliveries to the sink present (``status.auth``; OIDC on)."""
    policies: tuple[str, ...] = ()
    broken: str = ""
    """Why the transform cannot run (an expression that does not compile)."""


def _expression_text(part: Any) -> str | None:
    """``part.jsonata.expression`` of a spec or reply (``None`` without a jsonata block)."""
    if not isinstance(part, Mapping):
        return None
    jsonata = part.get("jsonata")
    if not isinstance(jsonata, Mapping):
        return None
    text = jsonata.get("expression")
    return text if isinstance(text, str) else ""


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class LiveTransforms:
    """See the module docstring; :meth:`run` follows the store until cancelled."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._transforms: dict[tuple[str, str], Transform] = {}
        self._expressions: dict[str, transform.Expression] = {}
        self.listed = False
        """Whether every EventTransform was listed once."""

    async def run(self) -> None:
        await inform(self._store, EVENTTRANSFORM.resource, self._seen, on_listed=self._listed)

    def get(self, namespace: str, name: str) -> Transform | None:
        return self._transforms.get((namespace, name))

    def policies_of(self, namespace: str, name: str) -> tuple[str, ...]:
        """The EventPolicies that apply to transform ``namespace/name`` (none when unknown)."""
        found = self._transforms.get((namespace, name))
        return found.policies if found is not None else ()

    def compiled_count(self) -> int:
        """How many distinct expressions are compiled (tests, diagnostics)."""
        return len(self._expressions)

    async def _seen(self, event: WatchEvent) -> None:
        metadata = event.object.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if event.type == "DELETED":
            self._transforms.pop(key, None)
        else:
            self._transforms[key] = self._transform(key, event.object)
        self._prune()

    async def _listed(self, items: list[Obj]) -> None:
        present = {
            (str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])) for o in items
        }
        for key in set(self._transforms) - present:
            del self._transforms[key]
        self._prune()
        self.listed = True

    def _transform(self, key: tuple[str, str], obj: Obj) -> Transform:
        spec = obj.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        status = obj.get("status")
        status = status if isinstance(status, Mapping) else {}
        reply = spec.get("reply")
        reply = reply if isinstance(reply, Mapping) else {}
        policies = status.get("policies")
        try:
            expression = self._compiled(_expression_text(spec) or "")
            reply_text = _expression_text(reply)
            reply_expression = None if reply_text is None else self._compiled(reply_text)
        except transform.ExpressionError as err:
            log.warning("EventTransform %s/%s cannot run: %s", *key, err)
            return Transform(*key, None, broken=f"its expression does not compile: {err}")
        return Transform(
            *key,
            expression,
            reply_expression,
            discard=reply.get("discard") is True,
            has_sink=isinstance(spec.get("sink"), Mapping),
            sink_url=_string(status.get("sinkUri")),
            sink_audience=_string(status.get("sinkAudience")),
            sink_ca_certs=_string(status.get("sinkCACerts")),
            identity=_string((status.get("auth") or {}).get("serviceAccountName")),
            policies=tuple(
                str(p["name"])
                for p in (policies if isinstance(policies, list) else ())
                if isinstance(p, Mapping) and isinstance(p.get("name"), str)
            ),
        )

    def _compiled(self, text: str) -> transform.Expression:
        found = self._expressions.get(text)
        if found is None:
            found = self._expressions[text] = transform.compile_expression(text)
        return found

    def _prune(self) -> None:
        """Drop the compiled expressions no transform uses any more."""
        used = {
            e.text
            for t in self._transforms.values()
            for e in (t.expression, t.reply)
            if e is not None
        }
        for text in set(self._expressions) - used:
            del self._expressions[text]
