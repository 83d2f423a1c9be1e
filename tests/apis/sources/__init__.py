"""Tests of kawa.apis.sources."""
