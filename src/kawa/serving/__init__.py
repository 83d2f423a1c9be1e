"""Serving: running consumers of events (for now, the built-in event-display)."""
