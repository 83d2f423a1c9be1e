"""The image catalog: which host program kawa runs for a container's ``image``.

kawa runs containers as local processes, without a container engine, so an image name is
only a hint: this module turns a container (``image``, ``command``, ``args``) into the argv
of the process. The rules follow Kubernetes' entrypoint rules (``command`` replaces the
image's entrypoint, ``args`` replace its default arguments):

- images whose last path component ends in ``event-display`` or ``event_display``
  (``event_display``, ``ghcr.io/x/my-event-display:1``) run kawa's built-in event-display
  (``python -m kawa.serving.event_display``, listening on ``$PORT``);
  their ``args`` are ignored (a ``command`` still wins);
- Knative's sample images (``<anything>/cmd/appender``, ``.../cmd/heartbeats``,
  ``.../cmd/heartbeats_receiver``, also as ``ko://knative.dev/eventing/cmd/...``, and
  ``<anything>/cloudevents-player``) run kawa's versions of them (:mod:`kawa.samples`); the
  heartbeats' ``args`` are its flags, the others ignore theirs;
- shell images (``busybox``, ``alpine``, ``debian``, ``ubuntu``...) run ``command + args`` on
  the host; ``args`` alone run as the command; neither runs ``sh``;
- any other image runs its ``command`` (+ ``args``) on the host, and has no program without
  one: :class:`ImageNotRunnable` says how to fix it.

Users map their own images in the ConfigMap ``knative-serving/config-kawa-images``
(:func:`catalog_from_configmap`): the key is the image name without tag and digest, with or
without its registry (``/`` may be written ``.``, since ConfigMap keys cannot hold ``/``):
``app``, ``team.app`` or ``example.com.team.app``; the value is ``host`` (run the
container's command on the host), ``builtin:<program>`` (``event-display``, ``appender``,
``heartbeats``, ``cloudevents-player``) or a command line (the image's entrypoint, split like a
shell would: ``python3 -m app``).

Pure (no I/O). Called by the kubelet (:mod:`kawa.serving.kubelet`: what a container runs),
the autoscaler (:mod:`kawa.serving.autoscaler`: no Pods for an image that cannot run) and
the Revision reconciler (:mod:`kawa.controllers.serving.revision`: such a Revision is not
Ready). ``kawa.serving`` and ``kawa.controllers`` may not import each other, so the catalog
sits below both, outside ``kawa.apis`` (it is no resource type): see
``docs/decisions/0017-what-lives-in-apis.md``.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from kawa.errors import KawaError

EVENT_DISPLAY: Final = "event-display"
APPENDER: Final = "appender"
HEARTBEATS: Final = "heartbeats"
CLOUDEVENTS_PLAYER: Final = "cloudevents-player"
EVENT_DISPLAY_SUFFIXES: Final = ("event-display", "event_display")
"""An image whose last path component ends with one of these is kawa's event-display."""
BUILTIN_PROGRAMS: Final[Mapping[str, tuple[str, ...]]] = {
    EVENT_DISPLAY: (sys.executable, "-m", "kawa.serving.event_display"),
    APPENDER: (sys.executable, "-m", "kawa.samples.appender"),
    HEARTBEATS: (sys.executable, "-m", "kawa.samples.heartbeats"),
    CLOUDEVENTS_PLAYER: (sys.executable, "-m", "kawa.samples.cloudevents_player"),
}
"""Programs that come with kawa, by the name a catalog entry gives them (``builtin:<name>``)."""
PROGRAMS_WITH_ARGS: Final = frozenset({HEARTBEATS})
"""Built-in programs that take the container's ``args`` (as flags); the others ignore them."""
KNATIVE_SAMPLE_COMMANDS: Final[Mapping[str, str]] = {
    "appender": APPENDER,
    "heartbeats": HEARTBEATS,
    "heartbeats_receiver": EVENT_DISPLAY,
}
"""Knative's sample images ``.../cmd/<name>`` (knative.dev/eventing/cmd/...), by ``<name>``."""
KO_PREFIX: Final = "ko://"

SHELL_IMAGES: Final = (
    "busybox",
    "alpine",
    "debian",
    "ubuntu",
    "fedora",
    "centos",
    "rockylinux",
    "almalinux",
    "archlinux",
    "amazonlinux",
    "bash",
)
CONFIG_MAP: Final = "config-kawa-images"
CONFIG_NAMESPACE: Final = "knative-serving"

RuleKind = Literal["host", "builtin", "entrypoint"]


class ImageNotRunnable(KawaError):
    """kawa has no program for a container's image; the message says how to fix it."""

    reason: Final = "ImageNotRunnable"

    def __init__(self, image: str, message: str | None = None) -> None:
        self.image = image
        self.message = message or (
            f"kawa runs containers as local processes and has no program for image "
            f'"{image}": give the container a command (command: [...]), or map the image in '
            f"ConfigMap {CONFIG_NAMESPACE}/{CONFIG_MAP}"
        )
        super().__init__(self.message)

    @classmethod
    def args_without_command(cls, image: str, args: list[str]) -> ImageNotRunnable:
        """The container gives ``args`` only: they were meant for the image's entrypoint,
        which kawa does not have (``kubectl run --image=... -- cmd`` without ``--command``)."""
        shown = shlex.join(args)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return cls(
            image,
            f'kawa runs containers as local processes and has no entrypoint for image "{image}",'
            f" so its args ({shown}) have nothing to run them: make them the command"
            f" (kubectl run NAME --image={image} --command -- {shown}; in a manifest, command:"
            f" instead of args:), or map the image to host in ConfigMap"
            f" {CONFIG_NAMESPACE}/{CONFIG_MAP} (data: {{{_key_form(normalize_image(image))}:"
            f" host}}) to run args as the command",
        )


@dataclass(frozen=True, slots=True)
class ImageRule:
    """What to run for one image.

    ``host``: the container's command and args only (``cmd`` is the default when it gives
    neither). ``builtin``: ``entrypoint`` is a kawa program; the container's args are ignored.
    ``entrypoint``: the image's entrypoint, replaced by ``command``, followed by ``args``.
    """

    kind: RuleKind
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageCatalog:
    """User entries (by lookup key, see :func:`lookup_keys`) on top of the built-in rules."""

    entries: tuple[tuple[str, ImageRule], ...] = ()
    _index: dict[str, ImageRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {_key_form(k): r for k, r in self.entries})

    def rule(self, image: str) -> ImageRule | None:
        """The rule for ``image``: a user entry first, then the built-ins, else None."""
        for key in lookup_keys(image):
            found = self._index.get(key)
            if found is not None:
                return found
        return builtin_rule(image)


DEFAULT_CATALOG: Final = ImageCatalog()

_containers = [False]
"""Whether this process' kubelet runs images in a container engine (podman)."""


def set_container_engine(available: bool) -> None:
    """Images the catalog does not map run in containers from now on (``kawa up
    --runtime podman``, or ``auto`` with podman present); see :func:`runs_in_container`."""
    _containers[0] = available


def runs_in_container(catalog: ImageCatalog, container: Mapping[str, Any]) -> bool:
    """Whether ``container`` runs from its image in the container engine: there is one and
    the catalog does not map the image (kawa's built-in programs, shell images and the
    user's entries keep running on the host)."""
    return _containers[0] and catalog.rule(str(container.get("image") or "")) is None


_SHELL_RULE: Final = ImageRule("host", cmd=("sh",))


def _strip_tag(image: str) -> str:
    name = image.strip().split("@", 1)[0]
    if name.lower().startswith(KO_PREFIX):  # ko's import-path form, as Knative's tests write
        name = name[len(KO_PREFIX) :]
    head, slash, last = name.rpartition("/")
    return f"{head}{slash}{last.split(':', 1)[0]}"


def _has_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def normalize_image(image: str) -> str:
    """The image's repository without registry, tag, digest or Docker Hub's ``library/``.

    ``gcr.io/x/event_display:latest@sha256:...`` -> ``x/event_display``;
    ``docker.io/library/busybox:1.36`` -> ``busybox``.
    """
    parts = _strip_tag(image).lower().split("/")
    if len(parts) > 1 and _has_registry(parts[0]):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def _key_form(name: str) -> str:
    return name.strip().lower().replace("/", ".")


def lookup_keys(image: str) -> Iterator[str]:
    """Catalog keys that name ``image``, most specific first (``/`` written as ``.``)."""
    full = _strip_tag(image).lower()
    normalized = normalize_image(image)
    seen: set[str] = set()
    for name in (full, normalized, normalized.rsplit("/", 1)[-1]):
        key = _key_form(name)
        if key and key not in seen:
            seen.add(key)
            yield key


def program_rule(name: str) -> ImageRule:
    """The rule running the built-in program ``name`` (a key of :data:`BUILTIN_PROGRAMS`)."""
    if name in PROGRAMS_WITH_ARGS:
        return ImageRule("entrypoint", entrypoint=BUILTIN_PROGRAMS[name])
    return ImageRule("builtin", entrypoint=BUILTIN_PROGRAMS[name])


def builtin_program(image: str) -> str | None:
    """The built-in program kawa runs for ``image`` (see the module's rules), or None."""
    parts = normalize_image(image).split("/")
    last = parts[-1]
    if last.endswith(EVENT_DISPLAY_SUFFIXES):
        return EVENT_DISPLAY
    if len(parts) > 1 and parts[-2] == "cmd" and last in KNATIVE_SAMPLE_COMMANDS:
        return KNATIVE_SAMPLE_COMMANDS[last]
    if last == CLOUDEVENTS_PLAYER:
        return CLOUDEVENTS_PLAYER
    return None


def builtin_rule(image: str) -> ImageRule | None:
    """kawa's own rule for ``image`` (its programs, shell images), or None."""
    program = builtin_program(image)
    if program is not None:
        return program_rule(program)
    if normalize_image(image) in SHELL_IMAGES:
        return _SHELL_RULE
    return None


def _str_list(container: Mapping[str, Any], key: str) -> list[str]:
    value = container.get(key)
    if not isinstance(value, list):
        return []
    return [str(v) for v in value]


def resolve_command(catalog: ImageCatalog, container: Mapping[str, Any]) -> list[str]:
    """The argv kawa runs for ``container`` (a Pod's container dict).

    Raises :class:`ImageNotRunnable` when the image has no program and the container gives
    no ``command``.
    """
    image = str(container.get("image") or "")
    command = _str_list(container, "command")
    args = _str_list(container, "args")
    if runs_in_container(catalog, container):
        return command + args  # the image's entrypoint and cmd fill in what is missing
    rule = catalog.rule(image)
    argv: list[str]
    if rule is None:
        argv = command + args if command else []
    elif rule.kind == "host":
        argv = command + args if command else (args or list(rule.cmd))
    elif rule.kind == "builtin":
        argv = command + args if command else list(rule.entrypoint)
    else:
        argv = (command or list(rule.entrypoint)) + (args if args or command else list(rule.cmd))
    if not argv or not argv[0]:
        if rule is None and args and not command:
            raise ImageNotRunnable.args_without_command(image, args)
        raise ImageNotRunnable(image)
    return argv


def is_runnable(catalog: ImageCatalog, container: Mapping[str, Any]) -> bool:
    try:
        resolve_command(catalog, container)
    except ImageNotRunnable:
        return False
    return True


def _parse_rule(value: str) -> ImageRule | str:
    """A rule from a ConfigMap value, or the problem with it."""
    text = value.strip()
    if text == "host":
        return ImageRule("host")
    if text.startswith("builtin:"):
        name = text.removeprefix("builtin:").strip()
        if name not in BUILTIN_PROGRAMS:
            known = ", ".join(f"builtin:{n}" for n in BUILTIN_PROGRAMS)
            return f"unknown built-in program {name!r} (known: {known})"
        return program_rule(name)
    try:
        argv = shlex.split(text)
    except ValueError as err:
        return f"cannot split {text!r} into a command line: {err}"
    if not argv:
        return "empty value: expected host, builtin:<program> or a command line"
    return ImageRule("entrypoint", entrypoint=tuple(argv))


def catalog_from_configmap(
    data: Mapping[str, str] | None,
) -> tuple[ImageCatalog, list[str]]:
    """The catalog from ``config-kawa-images``' ``data``, plus warnings for bad entries.

    A bad entry is skipped (the rest still applies); ``None`` (no ConfigMap) is the default.
    """
    if not data:
        return DEFAULT_CATALOG, []
    entries: list[tuple[str, ImageRule]] = []
    warnings: list[str] = []
    for key in sorted(data):
        value = data[key]
        path = f"{CONFIG_NAMESPACE}/{CONFIG_MAP} data[{key}]"
        if key.startswith("_"):
            continue  # Knative's convention: "_example" holds documentation
        if not isinstance(value, str):
            warnings.append(f"{path}: expected a string, got {type(value).__name__}")
            continue
        rule = _parse_rule(value)
        if isinstance(rule, str):
            warnings.append(f"{path}: {rule}")
            continue
        entries.append((key, rule))
    return ImageCatalog(tuple(entries)), warnings
