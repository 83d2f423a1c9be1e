"""The one error root of kawa.

Every error kawa raises on purpose derives from :class:`KawaError`. Input problems are
:class:`FieldError` values (a path such as ``spec.filter.attributes[SOURCE]`` plus what was
expected) aggregated into one :class:`ValidationError`, so that a user sees every mistake at
once. Operational errors carry their retry meaning: :class:`TemporaryError` may be retried
(optionally after ``delay`` seconds), :class:`PermanentError` may not. The API server maps
each class to an HTTP status and a Kubernetes reason in one table
(:mod:`kawa.apiserver.status`).

Nothing here imports anything from kawa: every layer may raise these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class KawaError(Exception):
    """Root of every error kawa raises deliberately."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of an input.

    ``path`` uses the Kubernetes field path notation (``spec.delivery.retry``,
    ``spec.filters[0].exact``, ``metadata.name``); ``message`` says what was expected.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def nested(self, prefix: str) -> FieldError:
        """The same error seen from a parent: ``prefix`` is put in front of the path."""
        if not self.path:
            return FieldError(prefix, self.message)
        sep = "" if self.path.startswith("[") else "."
        return FieldError(f"{prefix}{sep}{self.path}", self.message)


class ValidationError(KawaError):
    """An input is invalid; ``errors`` lists every problem found, each with its field path."""

    def __init__(self, errors: Iterable[FieldError], *, subject: str = "") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.subject = subject
        if not self.errors:
            raise ValueError("ValidationError needs at least one FieldError")
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.subject} is invalid" if self.subject else "invalid input"
        if len(self.errors) == 1:
            return f"{head}: {self.errors[0]}"
        lines = "\n".join(f"  - {e}" for e in self.errors)
        return f"{head}:\n{lines}"

    @classmethod
    def single(cls, path: str, message: str, *, subject: str = "") -> ValidationError:
        return cls([FieldError(path, message)], subject=subject)


class NotFoundError(KawaError):
    """A named thing (resource, broker, stream) does not exist."""


class UnauthorizedError(KawaError):
    """A request without valid credentials: the API's bearer token, or a kubelet hop's
    signature (HTTP 401)."""


class ForbiddenError(KawaError):
    """The request is understood but not allowed (HTTP 403)."""


class ConflictError(KawaError):
    """A write lost a race (stale resourceVersion) or would create a duplicate."""


class AlreadyExistsError(ConflictError):
    """A create names an object that exists already (Kubernetes' ``AlreadyExists``)."""


class MethodNotAllowedError(KawaError):
    """A request uses a verb its target does not serve (HTTP 405)."""


class GoneError(KawaError):
    """A resume point (such as a watch's resourceVersion) is older than the retained history."""


class TemporaryError(KawaError):
    """Something failed in a way that may succeed later; retry after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class InsufficientStorageError(TemporaryError):
    """A store is full (its disk, or its size limit): nothing was written. Writes succeed
    again once there is room, without a restart (HTTP 507)."""


class BadGatewayError(KawaError):
    """A backend this server relays the request to cannot be reached, such as the kubelet
    of the node that runs a Pod (HTTP 502, Kubernetes' ``error dialing backend``)."""


class PermanentError(KawaError):
    """Something failed in a way that retrying will not fix."""
