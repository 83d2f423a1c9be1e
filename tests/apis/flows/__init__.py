"""Tests of kawa.apis.flows."""
