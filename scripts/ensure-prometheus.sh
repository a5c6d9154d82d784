#!/bin/sh
# Make sure Debian's `prometheus` package (prometheus + promtool) is there for the integration tests.
set -e
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's prometheus package (prometheus, promtool) for the integration tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    exit 0
fi
echo "promcast tests need prometheus and promtool: run 'sudo apt-get install prometheus' (Debian/Ubuntu)" >&2
exit 1
