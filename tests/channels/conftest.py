"""Fixtures of the channel data plane tests (kawa must log no error, as in the broker's)."""

from __future__ import annotations

from ..broker.conftest import no_errors_logged

__all__ = ["no_errors_logged"]
