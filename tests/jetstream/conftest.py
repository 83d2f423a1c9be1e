"""Fixtures of the JetStream tests: one private server per module."""

from __future__ import annotations

from ..nats_support import nats_url

__all__ = ["nats_url"]
