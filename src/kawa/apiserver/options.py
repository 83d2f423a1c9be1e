"""The options of a request (Kubernetes' ``CreateOptions``, ``UpdateOptions``,
``PatchOptions`` and ``DeleteOptions``), read from the query and checked before anything else.

As Kubernetes' ``ValidateCreateOptions`` (and its siblings) do, a value outside what the API
defines is refused with ``422 Invalid`` naming the options kind, not ignored:
``dryRun`` may only hold ``All``; ``fieldValidation`` only ``Ignore``, ``Warn`` (the default)
or ``Strict``; ``propagationPolicy`` only ``Foreground``, ``Background`` or ``Orphan``
(:mod:`kawa.apiserver.deletes` reads DeleteOptions, which also come in the body). Called by
:mod:`kawa.apiserver.writes` and :mod:`kawa.apiserver.deletes`; pure but for reading the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from kawa.errors import FieldError, ValidationError

GROUP: Final = "meta.k8s.io"
DRY_RUN_ALL: Final = "All"
FIELD_VALIDATIONS: Final = ("Ignore", "Strict", "Warn")
DEFAULT_FIELD_VALIDATION: Final = "Warn"
PROPAGATION_POLICIES: Final = ("Background", "Foreground", "Orphan")


class InvalidOptionsError(ValidationError):
    """Options outside what the API defines (422 ``Invalid``, about ``kind``, e.g.
    ``CreateOptions``, in group ``meta.k8s.io``)."""

    def __init__(self, errors: Iterable[FieldError], *, kind: str) -> None:
        self.kind = kind
        super().__init__(errors, subject=f'{kind}.{GROUP} ""')


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def unsupported(path: str, value: Any, supported: Sequence[str]) -> FieldError:
    """Kubernetes' ``field.NotSupported`` wording."""
    shown = f"[{_quoted(value)}]" if isinstance(value, list) else f'"{value}"'
    return FieldError(path, f"Unsupported value: {shown}: supported values: {_quoted(supported)}")


def dry_run_errors(values: list[Any]) -> list[FieldError]:
    """``dryRun`` holds nothing but ``All`` (Kubernetes' ``ValidateDryRun``)."""
    if all(v == DRY_RUN_ALL for v in values):
        return []
    return [unsupported("dryRun", [str(v) for v in values], (DRY_RUN_ALL,))]


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """What a create, replace or patch asked for."""

    dry_run: bool = False
    """``dryRun=All``: check the write, store nothing."""
    field_validation: str = DEFAULT_FIELD_VALIDATION
    """What unknown fields are: ``Strict`` errors, ``Warn`` warnings, ``Ignore`` nothing."""


def write_options(request: web.Request, kind: str) -> WriteOptions:
    """The checked options of a write (``kind``: ``CreateOptions``, ``UpdateOptions`` or
    ``PatchOptions``); :class:`InvalidOptionsError` for values the API does not define."""
    dry_run = request.query.getall("dryRun", [])
    validation = request.query.get("fieldValidation", "")
    errors = dry_run_errors(dry_run)
    if validation not in ("", *FIELD_VALIDATIONS):
        errors.append(unsupported("fieldValidation", validation, ("", *FIELD_VALIDATIONS)))
    if errors:
        raise InvalidOptionsError(errors, kind=kind)
    return WriteOptions(bool(dry_run), validation or DEFAULT_FIELD_VALIDATION)
