"""Fixtures of the metrics tests: fail a test whose kawa logged an error, as the broker tests
do."""

from __future__ import annotations

from ..broker.conftest import no_errors_logged

__all__ = ["no_errors_logged"]
