#!/bin/sh
# Make sure Debian's `prometheus` package (prometheus + promtool) and `prometheus-alertmanager` are there for
# the integration tests, and Debian's `victoria-metrics` for the long-term store tests (those skip, with a
# reason, without it).
set -e
need_prometheus=
need_vm=
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
    || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
    need_prometheus=1
fi
if ! command -v victoria-metrics >/dev/null 2>&1; then
    need_vm=1
fi
if [ -z "$need_prometheus" ] && [ -z "$need_vm" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    if [ -n "$need_prometheus" ]; then
        echo "installing Debian's prometheus and prometheus-alertmanager packages for the integration tests"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus \
            prometheus-alertmanager >/dev/null
    fi
    if [ -n "$need_vm" ]; then
        echo "installing Debian's victoria-metrics package for the long-term store tests"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends victoria-metrics >/dev/null; then
            echo "could not install victoria-metrics: the VictoriaMetrics tests will be skipped" >&2
        fi
    fi
    exit 0
fi
if [ -n "$need_prometheus" ]; then
    echo "promcast tests need prometheus, promtool and alertmanager: run 'sudo apt-get install prometheus prometheus-alertmanager' (Debian/Ubuntu)" >&2
    exit 1
fi
echo "victoria-metrics not found: the VictoriaMetrics tests will be skipped ('sudo apt-get install victoria-metrics' to run them)" >&2
exit 0
