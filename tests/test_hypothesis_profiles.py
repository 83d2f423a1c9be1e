"""The Hypothesis profiles of tests/conftest.py: CI runs are deterministic, and no test's own
``@settings`` undoes that."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import settings

from tests.conftest import hypothesis_profile

TESTS = Path(__file__).resolve().parent


def test_ci_is_deterministic_and_local_runs_explore() -> None:
    ci, dev = settings.get_profile("ci"), settings.get_profile("dev")
    assert ci.derandomize
    assert ci.database is None
    assert not dev.derandomize
    assert dev.database is not None
    assert ci.deadline is None
    assert dev.deadline is None


def test_the_ci_variable_chooses_the_profile() -> None:
    assert hypothesis_profile({"CI": "true"}) == "ci"
    assert hypothesis_profile({"CI": ""}) == "ci"
    assert hypothesis_profile({"HOME": "/root"}) == "dev"


def _hypothesis_tests() -> Iterator[tuple[str, Any]]:
    for path in sorted(TESTS.rglob("test_*.py")):
        if "node_modules" in path.parts:
            continue
        name = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("test") and getattr(value, "is_hypothesis_test", False):
                yield f"{name}.{attr}", value


def test_no_hypothesis_test_overrides_what_the_profile_decides() -> None:
    """A test's ``@settings`` may choose how many examples it runs, not whether they are
    random, where failures are kept or whether slow examples fail."""
    active = settings.default
    found = list(_hypothesis_tests())
    assert len(found) >= 10
    for name, test in found:
        own = test._hypothesis_internal_use_settings
        for key in ("derandomize", "database", "deadline", "print_blob"):
            assert getattr(own, key) == getattr(active, key), (name, key)
