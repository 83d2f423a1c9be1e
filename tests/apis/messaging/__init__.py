"""Tests of kawa.apis.messaging."""
