"""The channel data plane (filled in below)."""
