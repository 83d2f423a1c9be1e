#!/usr/bin/env bash
# Installs what bench/broker_e2e.py needs beyond the Python venv: nginx (the loopback
# ceiling reference, run by the benchmark as a child with its own config; no daemon is
# started or enabled), wrk, and valgrind (bench/instructions_per_event.py). Debian/Ubuntu only; uses sudo when not root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    # policy-rc.d 101: do not let the package start nginx as a service
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nginx-light \
        || $SUDO apt-get install -y -qq --no-install-recommends nginx
fi
if ! command -v wrk >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends wrk || echo "wrk not available (optional)"
fi
if ! command -v valgrind >/dev/null 2>&1; then  # bench/instructions_per_event.py
    $SUDO apt-get install -y -qq --no-install-recommends valgrind || echo "valgrind not available (optional)"
fi
echo "nginx: $(command -v nginx || echo /usr/sbin/nginx)"
