"""Tests of kawa.apis.serving."""
