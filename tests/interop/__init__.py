"""Interop tests: kawa against the CloudEvents SDKs (Python, JavaScript) over real HTTP."""
