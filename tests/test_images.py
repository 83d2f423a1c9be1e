from __future__ import annotations

import sys
from typing import Any

import pytest

from kawa import images
from kawa.errors import KawaError

EVENT_DISPLAY = [sys.executable, "-m", "kawa.serving.event_display"]


def container(image: str, **fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": image, **fields}


def resolve(image: str, catalog: images.ImageCatalog = images.DEFAULT_CATALOG, **f: Any) -> Any:
    return images.resolve_command(catalog, container(image, **f))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("gcr.io/x/event_display:latest@sha256:abc", "x/event_display"),
        ("gcr.io/knative-releases/knative.dev/eventing/cmd/event_display", None),
        ("busybox", "busybox"),
        ("busybox:1.36", "busybox"),
        ("docker.io/library/busybox:1.36", "busybox"),
        ("library/alpine", "alpine"),
        ("localhost:5000/team/app:v1", "team/app"),
        ("localhost/app", "app"),
        ("team/app@sha256:0123", "team/app"),
        ("Example.COM/Team/App", "team/app"),
    ],
)
def test_normalize_image(image: str, expected: str | None) -> None:
    got = images.normalize_image(image)
    if expected is None:
        assert got == "knative-releases/knative.dev/eventing/cmd/event_display"
    else:
        assert got == expected


@pytest.mark.parametrize(
    "image",
    [
        "event-display",
        "event_display",
        "gcr.io/knative-releases/knative.dev/eventing/cmd/event_display:latest",
        "ghcr.io/someone/event-display@sha256:1234",
        "docker.io/example/event_display:v1.2",
        "ghcr.io/x/my-event-display:1",
        "registry.example.com:5000/team/knative_event_display@sha256:1234",
    ],
)
def test_event_display_images_run_the_builtin_and_ignore_args(image: str) -> None:
    assert resolve(image) == EVENT_DISPLAY
    assert resolve(image, args=["--verbose"]) == EVENT_DISPLAY


@pytest.mark.parametrize(
    "image", ["ghcr.io/x/event-display-tools:1", "event-display/server", "my-event-displayer"]
)
def test_only_the_last_path_component_ending_names_the_event_display(image: str) -> None:
    with pytest.raises(images.ImageNotRunnable):
        resolve(image)


def test_event_display_with_a_command_runs_the_command() -> None:
    assert resolve("event-display", command=["my-display"], args=["-v"]) == ["my-display", "-v"]


@pytest.mark.parametrize(
    "image", ["busybox", "alpine:3.20", "ubuntu", "docker.io/library/debian:12", "bash"]
)
def test_shell_images_follow_kubernetes_entrypoint_rules(image: str) -> None:
    assert resolve(image) == ["sh"]
    assert resolve(image, args=["ls", "-l"]) == ["ls", "-l"]
    assert resolve(image, command=["sh", "-c"], args=["echo hi"]) == ["sh", "-c", "echo hi"]
    assert resolve(image, command=["date"]) == ["date"]


def test_other_images_need_a_command() -> None:
    assert resolve("example.com/team/app", command=["./run"], args=["x"]) == ["./run", "x"]
    with pytest.raises(images.ImageNotRunnable) as info:
        resolve("example.com/team/app:v1")
    err = info.value
    assert isinstance(err, KawaError)
    assert err.reason == "ImageNotRunnable"
    assert 'no program for image "example.com/team/app:v1"' in err.message
    assert "command: [...]" in err.message
    assert "knative-serving/config-kawa-images" in err.message
    assert not images.is_runnable(images.DEFAULT_CATALOG, container("nginx"))
    assert images.is_runnable(images.DEFAULT_CATALOG, container("busybox"))


def test_catalog_from_configmap_maps_images() -> None:
    catalog, warnings = images.catalog_from_configmap(
        {
            "app": "python3 -m app --port $PORT",
            "team.web": "host",
            "example.com.team.display": "builtin:event-display",
            "nginx": "'unterminated",
            "bad": "builtin:nope",
            "empty": "  ",
            "_example": "documentation, ignored",
        }
    )
    assert len(warnings) == 3
    assert any("data[nginx]" in w and "cannot split" in w for w in warnings)
    assert any("data[bad]" in w and "builtin:event-display" in w for w in warnings)
    assert any("data[empty]" in w for w in warnings)
    # a command line is the entrypoint: command replaces it, args are appended
    assert resolve("registry.io/org/app:1", catalog) == ["python3", "-m", "app", "--port", "$PORT"]
    assert resolve("app", catalog, args=["-v"]) == ["python3", "-m", "app", "--port", "$PORT", "-v"]
    assert resolve("app", catalog, command=["other"]) == ["other"]
    # host: the container's own command; nothing to run without one
    assert resolve("team/web", catalog, command=["./web"]) == ["./web"]
    with pytest.raises(images.ImageNotRunnable):
        resolve("team/web", catalog)
    # the most specific key wins; keys written with "." for "/"
    assert resolve("example.com/team/display", catalog) == EVENT_DISPLAY
    with pytest.raises(images.ImageNotRunnable):
        resolve("nginx", catalog)


def test_user_entries_override_builtins_and_slash_keys_work() -> None:
    catalog, warnings = images.catalog_from_configmap(
        {"busybox": "/opt/busybox/bin/busybox", "team/app": "./app"}
    )
    assert warnings == []
    assert resolve("busybox", catalog, args=["ls"]) == ["/opt/busybox/bin/busybox", "ls"]
    assert resolve("team/app:v2", catalog) == ["./app"]


def test_empty_configmap_is_the_default_catalog() -> None:
    assert images.catalog_from_configmap(None) == (images.DEFAULT_CATALOG, [])
    assert images.catalog_from_configmap({}) == (images.DEFAULT_CATALOG, [])
    same, _ = images.catalog_from_configmap({"a": "host"})
    again, _ = images.catalog_from_configmap({"a": "host"})
    assert same == again


def test_lookup_keys_most_specific_first() -> None:
    assert list(images.lookup_keys("example.com/team/app:v1@sha256:00")) == [
        "example.com.team.app",
        "team.app",
        "app",
    ]


# Knative's sample images (issue 12): each image form Knative's docs and tests use.

APPENDER = [sys.executable, "-m", "kawa.samples.appender"]
HEARTBEATS = [sys.executable, "-m", "kawa.samples.heartbeats"]
PLAYER = [sys.executable, "-m", "kawa.samples.cloudevents_player"]


@pytest.mark.parametrize(
    ("image", "program"),
    [
        ("gcr.io/knative-releases/knative.dev/eventing/cmd/appender", APPENDER),
        ("gcr.io/knative-releases/knative.dev/eventing/cmd/appender:v1.16.0", APPENDER),
        ("gcr.io/knative-nightly/knative.dev/eventing/cmd/appender@sha256:0123", APPENDER),
        ("ko://knative.dev/eventing/cmd/appender", APPENDER),
        ("gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats", HEARTBEATS),
        ("gcr.io/knative-nightly/knative.dev/eventing/cmd/heartbeats:latest", HEARTBEATS),
        ("ko://knative.dev/eventing/cmd/heartbeats", HEARTBEATS),
        ("gcr.io/knative-releases/knative.dev/eventing-contrib/cmd/heartbeats", HEARTBEATS),
        ("gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats_receiver", EVENT_DISPLAY),
        ("quay.io/ruben/cloudevents-player:latest", PLAYER),
        ("quay.io/ruben/cloudevents-player:v1.3", PLAYER),
        ("ruromero/cloudevents-player:latest", PLAYER),
    ],
)
def test_knative_sample_images_run_kawas_programs(image: str, program: list[str]) -> None:
    assert resolve(image) == program
    assert resolve(image, command=["./mine"]) == ["./mine"]


def test_heartbeats_take_their_args_as_flags_the_others_ignore_theirs() -> None:
    heartbeats = "gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats"
    assert resolve(heartbeats, args=["--period=1"]) == [*HEARTBEATS, "--period=1"]
    appender = "gcr.io/knative-releases/knative.dev/eventing/cmd/appender"
    assert resolve(appender, args=["ignored"]) == APPENDER


@pytest.mark.parametrize("image", ["ghcr.io/me/appender", "heartbeats", "team/cmd/other"])
def test_only_cmd_paths_name_the_knative_samples(image: str) -> None:
    assert images.builtin_rule(image) is None


def test_the_builtin_programs_exist() -> None:
    import importlib.util

    for argv in images.BUILTIN_PROGRAMS.values():
        assert argv[:2] == (sys.executable, "-m")
        assert importlib.util.find_spec(argv[2]) is not None, argv


def test_configmap_entries_name_every_builtin_program() -> None:
    catalog, warnings = images.catalog_from_configmap(
        {
            "beats": "builtin:heartbeats",
            "app": "builtin:appender",
            "player": "builtin:cloudevents-player",
        }
    )
    assert warnings == []
    assert resolve("beats", catalog, args=["-period", "2"]) == [*HEARTBEATS, "-period", "2"]
    assert resolve("app", catalog, args=["x"]) == APPENDER
    assert resolve("x/player:1", catalog) == PLAYER


def test_args_without_a_command_say_to_use_command() -> None:
    """``kubectl run x --image=python:3.11 -- python3 -c ...``: the args were meant for the
    image's entrypoint, which kawa does not have."""
    with pytest.raises(images.ImageNotRunnable) as info:
        resolve("python:3.11", args=["python3", "-c", "print('hi')"])
    message = info.value.message
    assert 'image "python:3.11"' in message
    assert "--command -- python3 -c 'print('\"'\"'hi'\"'\"')'" in message
    assert "command: instead of args:" in message
    assert "data: {python: host}" in message
    # the suggested mapping works: args alone are the command
    catalog, warnings = images.catalog_from_configmap({"python": "host"})
    assert warnings == []
    assert resolve("python:3.11", catalog, args=["python3", "-V"]) == ["python3", "-V"]


def test_the_example_of_config_kawa_images_is_valid_when_copied() -> None:
    """Each entry of the shipped ``_example``, copied under ``data:`` as it says, is a valid
    ConfigMap key and a valid catalog entry."""
    import yaml

    from kawa.apis.core.configmap import config_key_errors
    from kawa.controllers.serving_config import DEFAULTS

    copied = yaml.safe_load(DEFAULTS[images.CONFIG_MAP])
    assert isinstance(copied, dict)
    assert len(copied) >= 3
    for key in copied:
        assert config_key_errors(key) == [], key
    catalog, warnings = images.catalog_from_configmap({k: str(v) for k, v in copied.items()})
    assert warnings == []
    assert resolve("example.com/team/greeter:v1", catalog) == ["python3", "/opt/greeter/server.py"]
    assert resolve("team/worker", catalog, args=["./work"]) == ["./work"]
