"""How a Pod reaches kawa's API (a leaf: the node holds it, the runtimes read it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiAccess:
    """How a Pod reaches kawa's API: its HTTPS address, token and certificate (PEM)."""

    host: str
    port: int
    token: str
    ca_pem: bytes
