"""Benchmark: verifying a sender's ServiceAccount token, as the broker ingress will.

Mints one token (RS256, 2048-bit key) and verifies it ``--iterations`` times with
:func:`kawa.identity.tokens.verify`, best of ``--repeat`` runs: the first verification of a
token checks its signature, later ones find its claims remembered by the key set and only
check time, issuer and audience. Reports both (``cold``: a fresh key set each time; ``warm``:
one key set), and minting. Not run by the test suite::

    .venv/bin/python bench/oidc_verify.py --iterations 20000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from kawa.identity import keys, tokens

ISSUER = "https://127.0.0.1:7443"
AUDIENCE = "eventing.knative.dev/broker/default/default"
SENDER = tokens.ServiceAccountRef("default", "sender", "6c1d0b0e-0000-4000-8000-000000000000")


def _best(run: Callable[[], None], iterations: int, repeat: int) -> float:
    """Microseconds per call, best of ``repeat`` runs of ``iterations`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(iterations):
            run()
        best = min(best, time.perf_counter() - start)
    return best / iterations * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    now = time.time()
    ring = keys.KeyRing((keys.new_key(now),))
    signer = keys.signer(ring)
    public = keys.public_keys(ring)
    token, _ = tokens.mint(
        signer, issuer=ISSUER, service_account=SENDER, audiences=[AUDIENCE], lifetime=3600, now=now
    )

    def mint() -> None:
        tokens.mint(
            signer,
            issuer=ISSUER,
            service_account=SENDER,
            audiences=[AUDIENCE],
            lifetime=3600,
            now=now,
        )

    def cold() -> None:
        public.verified.clear()
        tokens.verify(token, audience=AUDIENCE, keys=public, issuer=ISSUER, now=now)

    def warm() -> None:
        tokens.verify(token, audience=AUDIENCE, keys=public, issuer=ISSUER, now=now)

    few = max(1, args.iterations // 20)  # signing and signature checks are slower
    print(f"mint:          {_best(mint, few, args.repeat):8.1f} us/token")
    print(f"verify (cold): {_best(cold, few, args.repeat):8.1f} us/token (signature checked)")
    print(f"verify (warm): {_best(warm, args.iterations, args.repeat):8.1f} us/token (remembered)")


if __name__ == "__main__":
    main()
