"""Knative Eventing's feature flags: the ConfigMap ``knative-eventing/config-features``.

kawa creates it at startup with Knative's defaults (never overwriting a user's) and reads it
live: a change applies without a restart. The flags kawa acts on:

- ``authentication-oidc`` (``disabled`` | ``enabled``): sender identity. Enabled, every
  addressable publishes ``status.address.audience`` (:func:`audience`), senders present a
  token for it and ingress refuses requests without a valid one (see docs/security.md);
- ``default-authorization-mode`` (``allow-all`` | ``allow-same-namespace`` | ``deny-all``):
  what a receiver with no EventPolicy allows (only with OIDC enabled);
- ``transport-encryption`` (``disabled`` | ``permissive`` | ``strict``);
- ``eventtype-auto-create`` (``disabled`` | ``enabled``).

Knative's other flags are kept as given (``enabled``, ``disabled`` or ``allowed``). A value
outside a flag's choices is refused at admission with its field path (``data[<flag>]``), as
Knative's configuration webhook does, so a typo never turns a security flag off silently;
:func:`from_data` (the readers) falls back to the default for anything it cannot read.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from kawa.apis import meta
from kawa.errors import FieldError

NAMESPACE: Final = "knative-eventing"
CONFIG_MAP: Final = "config-features"

ENABLED: Final = "enabled"
DISABLED: Final = "disabled"
ALLOWED: Final = "allowed"

ALLOW_ALL: Final = "allow-all"
ALLOW_SAME_NAMESPACE: Final = "allow-same-namespace"
DENY_ALL: Final = "deny-all"

PERMISSIVE: Final = "permissive"
STRICT: Final = "strict"

AUTHENTICATION_OIDC: Final = "authentication-oidc"
DEFAULT_AUTHORIZATION_MODE: Final = "default-authorization-mode"
TRANSPORT_ENCRYPTION: Final = "transport-encryption"
EVENTTYPE_AUTO_CREATE: Final = "eventtype-auto-create"

_SWITCH: Final = (ENABLED, DISABLED, ALLOWED)
FLAGS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = MappingProxyType(
    {
        # flag: (Knative's default, the values it takes)
        "kreference-group": (DISABLED, _SWITCH),
        "delivery-retryafter": (DISABLED, _SWITCH),
        "delivery-timeout": (ENABLED, _SWITCH),
        "kreference-mapping": (DISABLED, _SWITCH),
        TRANSPORT_ENCRYPTION: (DISABLED, (DISABLED, PERMISSIVE, STRICT)),
        EVENTTYPE_AUTO_CREATE: (DISABLED, (DISABLED, ENABLED)),
        AUTHENTICATION_OIDC: (DISABLED, (DISABLED, ENABLED)),
        DEFAULT_AUTHORIZATION_MODE: (
            ALLOW_SAME_NAMESPACE,
            (ALLOW_ALL, ALLOW_SAME_NAMESPACE, DENY_ALL),
        ),
        "cross-namespace-event-links": (DISABLED, _SWITCH),
        "new-apiserversource-filters": (DISABLED, _SWITCH),
    }
)
"""Knative Eventing's flags (1.22), each with its default and the values it takes."""

DEFAULT_DATA: Final = MappingProxyType({name: default for name, (default, _) in FLAGS.items()})
"""The ConfigMap's data as kawa creates it (Knative's defaults)."""


@dataclass(frozen=True, slots=True)
class Features:
    """The flags in effect (Knative's defaults where the ConfigMap says nothing)."""

    flags: Mapping[str, str] = field(default_factory=lambda: DEFAULT_DATA)
    # read once here: the ingress asks for them on every event
    oidc: bool = field(init=False)
    """Whether ``authentication-oidc`` is enabled."""
    authorization_mode: str = field(init=False)
    transport_encryption: str = field(init=False)
    eventtype_auto_create: bool = field(init=False)

    def __post_init__(self) -> None:
        def set_(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        set_("oidc", self.value(AUTHENTICATION_OIDC) == ENABLED)
        set_("authorization_mode", self.value(DEFAULT_AUTHORIZATION_MODE))
        set_("transport_encryption", self.value(TRANSPORT_ENCRYPTION))
        set_("eventtype_auto_create", self.value(EVENTTYPE_AUTO_CREATE) == ENABLED)

    def value(self, flag: str) -> str:
        return self.flags.get(flag, FLAGS[flag][0] if flag in FLAGS else DISABLED)


DEFAULTS: Final = Features()


def errors(data: Mapping[str, str] | None) -> list[FieldError]:
    """What is wrong with the ConfigMap's ``data``: a known flag with a value outside its
    choices (values are compared as Knative does, ignoring case and surrounding blanks)."""
    problems: list[FieldError] = []
    for name, value in (data or {}).items():
        known = FLAGS.get(name)
        if known is None:
            continue
        choices = known[1]
        if value.strip().lower() not in choices:
            problems.append(
                FieldError(
                    f"data[{name}]",
                    f"unsupported value {value!r}: must be one of {', '.join(choices)}",
                )
            )
    return problems


def from_data(data: Mapping[str, str] | None) -> Features:
    """The flags the ConfigMap's ``data`` sets; a value that cannot be read keeps the flag's
    default (admission refuses such values; this only guards older stored objects)."""
    flags = dict(DEFAULT_DATA)
    for name, value in (data or {}).items():
        if not isinstance(value, str):
            continue
        normalized = value.strip().lower()
        known = FLAGS.get(name)
        if known is None:
            if normalized in _SWITCH:
                flags[name] = normalized
        elif normalized in known[1]:
            flags[name] = normalized
    return Features(MappingProxyType(flags))


def audience(api_version: str, kind: str, namespace: str, name: str) -> str:
    """The OIDC audience of an addressable, in Knative's form ``<group>/<kind>/<ns>/<name>``
    (the kind in lower case): ``eventing.knative.dev/broker/default/default``."""
    group = api_version.rpartition("/")[0]
    return f"{group}/{kind.lower()}/{namespace}/{name}"


def oidc_service_account_name(api_version: str, kind: str, name: str) -> str:
    """The ServiceAccount whose identity a sender presents (authentication-oidc), in
    Knative's form: ``<name>-oidc-<group>-<kind>``, lower case, within 63 characters
    (``display-oidc-eventing.knative.dev-trigger``)."""
    group = api_version.rpartition("/")[0]
    return meta.child_name(name, f"-oidc-{group}-{kind}").lower()


def addresses(
    http_url: str, https_url: str, ca_certs: str, mode: str, audience: str | None
) -> list[dict[str, str]] | None:
    """The addresses an addressable publishes for the ``transport-encryption`` ``mode``, as
    Knative's: ``permissive`` both (``http`` first: it stays ``status.address``), ``strict``
    only ``https``; each https one with the ``CACerts`` its certificate verifies against.
    ``None`` with the mode ``disabled`` or without an https URL (only ``status.address``)."""
    if mode not in (PERMISSIVE, STRICT) or not https_url:
        return None
    extra = {"audience": audience} if audience else {}
    secure = {"name": "https", "url": https_url, "CACerts": ca_certs, **extra}
    if mode == STRICT:
        return [secure]
    return [{"name": "http", "url": http_url, **extra}, secure]
