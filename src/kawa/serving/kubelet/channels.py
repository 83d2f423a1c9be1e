"""Kubernetes' remote command protocol over WebSocket (``kubectl exec``): pure pieces.

kubectl (1.30 and later) asks for a WebSocket with the subprotocols
``v5.channel.k8s.io``, ``v4.channel.k8s.io``...; every binary message is one byte naming a
stream, then that stream's data: 0 stdin, 1 stdout, 2 stderr, 3 error (the server's last
word: a JSON ``Status``, ``Success`` or ``Failure`` with reason ``NonZeroExitCode`` and the
exit code as the cause ``ExitCode``), 4 resize (JSON ``{"Width": w, "Height": h}``). v5 adds
stream 255, *close*: ``[255, n]`` says stream ``n`` has ended (the client's stdin at EOF),
which v4 cannot say. The query: ``command`` (repeated), ``container``, ``stdin``,
``stdout``, ``stderr``, ``tty``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kawa.errors import ValidationError

V5: Final = "v5.channel.k8s.io"
V4: Final = "v4.channel.k8s.io"
PROTOCOLS: Final = (V5, V4)
"""The subprotocols served, the preferred first."""

STDIN: Final = 0
STDOUT: Final = 1
STDERR: Final = 2
ERROR: Final = 3
RESIZE: Final = 4
CLOSE: Final = 255

_TRUE: Final = ("1", "t", "T", "TRUE", "true", "True")
_FALSE: Final = ("", "0", "f", "F", "FALSE", "false", "False")


def _bad(message: str) -> ValidationError:
    return ValidationError.single("", message)


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "")
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _bad(f"invalid value {value!r} for query parameter {name}: expected true or false")


@dataclass(frozen=True, slots=True)
class ExecOptions:
    """A ``PodExecOptions`` from the query."""

    command: tuple[str, ...]
    container: str
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def parse(cls, query: Mapping[str, str], commands: Sequence[str]) -> ExecOptions:
        """``commands``: every ``command`` parameter, in order."""
        options = cls(
            command=tuple(commands),
            container=query.get("container", ""),
            stdin=_bool(query, "stdin"),
            stdout=_bool(query, "stdout"),
            stderr=_bool(query, "stderr"),
            tty=_bool(query, "tty"),
        )
        if not options.command:
            raise _bad("you must specify at least one command for the container")
        if not (options.stdin or options.stdout or options.stderr):
            raise _bad("you must specify at least one of stdin, stdout, stderr")
        if options.tty and options.stderr:
            raise _bad("stdout and stderr cannot both be requested with a tty; use stdout")
        return options


def frame(stream: int, data: bytes) -> bytes:
    """One message: the stream's byte, then the data."""
    return bytes((stream,)) + data


def split(message: bytes) -> tuple[int, bytes] | None:
    """A message's stream and data (None for an empty message)."""
    if not message:
        return None
    return message[0], message[1:]


def resize(data: bytes) -> tuple[int, int] | None:
    """A resize message's (width, height), None when malformed."""
    try:
        size = json.loads(data)
        width, height = int(size["Width"]), int(size["Height"])
    except (ValueError, TypeError, KeyError):
        return None
    if not (0 < width < 65536 and 0 < height < 65536):
        return None
    return width, height


def exit_status(code: int, command: Sequence[str]) -> dict[str, Any]:
    """The error stream's ``Status`` for a command that exited with ``code``."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str) -> dict[str, Any]:
    """The error stream's ``Status`` for an exec that failed without an exit code."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


def status_frame(status: Mapping[str, Any]) -> bytes:
    return frame(ERROR, json.dumps(status, separators=(",", ":")).encode())
