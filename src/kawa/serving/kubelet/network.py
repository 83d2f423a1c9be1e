"""Pod addresses: each Pod kawa runs gets its own loopback IP.

kawa runs containers as host processes, without network namespaces, so two Pods whose
programs listen on the same port (two Deployments of ``event_display`` on 8080, as Knative's
samples have) would clash on ``127.0.0.1``. Linux routes the whole of ``127.0.0.0/8`` to the
loopback interface, so the kubelet gives each Pod an address of its own there, outside
``127.0.0.0/16`` (kawa's and the user's ``127.0.0.1`` stay apart): ``status.podIP``, the
``status.podIP`` field reference and ``KAWA_POD_IP`` in the container's environment, where
kawa's built-in programs bind. A program that binds every address (``0.0.0.0``) is reached on
its Pod's address as well; one that binds ``127.0.0.1`` only is not (as in a cluster, where a
Pod's ``localhost`` is its own).

An address is chosen from the Pod's uid (the same Pod gets the same address when kawa
restarts it, as the status it wrote says) and is not given to another Pod while the first
holds it. Pure bookkeeping: no sockets.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Final

NETWORK: Final = ipaddress.IPv4Network("127.0.0.0/8")
FIRST: Final = int(ipaddress.IPv4Address("127.1.0.0"))
"""Pod addresses start above ``127.0.x.x`` (kawa's own and the usual loopback names)."""
LAST: Final = int(ipaddress.IPv4Address("127.255.255.255"))
POD_IP_ENV: Final = "KAWA_POD_IP"
"""The environment variable holding the Pod's address (kawa's programs bind there)."""


def _usable(value: int) -> bool:
    last_octet = value & 0xFF
    return FIRST <= value < LAST and last_octet not in (0, 255)


class PodNetwork:
    """The addresses held by the Pods of one kubelet, by Pod uid."""

    __slots__ = ("_by_address", "_by_uid")

    def __init__(self) -> None:
        self._by_uid: dict[str, str] = {}
        self._by_address: dict[str, str] = {}

    def allocate(self, uid: str, previous: str | None = None) -> str:
        """The address of the Pod ``uid``: the one it holds, else ``previous`` (what its status
        said) when it is a Pod address no other Pod holds, else one derived from the uid."""
        held = self._by_uid.get(uid)
        if held is not None:
            return held
        candidate = self._parse(previous)
        if candidate is None or str(ipaddress.IPv4Address(candidate)) in self._by_address:
            digest = hashlib.blake2b(uid.encode(), digest_size=8).digest()
            span = LAST - FIRST
            candidate = FIRST + int.from_bytes(digest, "big") % span
            while not _usable(candidate) or str(ipaddress.IPv4Address(candidate)) in (
                self._by_address
            ):
                candidate = FIRST + (candidate - FIRST + 1) % span
        address = str(ipaddress.IPv4Address(candidate))
        self._by_uid[uid] = address
        self._by_address[address] = uid
        return address

    def release(self, uid: str) -> None:
        """The Pod ``uid`` is gone: its address may be given again."""
        address = self._by_uid.pop(uid, None)
        if address is not None:
            self._by_address.pop(address, None)

    def holder(self, address: str) -> str | None:
        """The uid of the Pod holding ``address``, if any."""
        return self._by_address.get(address)

    @staticmethod
    def _parse(previous: str | None) -> int | None:
        if not previous:
            return None
        try:
            value = int(ipaddress.IPv4Address(previous))
        except ValueError:
            return None
        return value if _usable(value) else None
