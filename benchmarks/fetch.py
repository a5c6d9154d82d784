"""Fetch benchmark: promcast's PrometheusSource vs plain ``requests`` on the same windows.

Starts a real Prometheus over 30 days of 1-minute history (tests/prom_harness.py), then, in the same
run, times ``PrometheusSource.query_range`` for the whole month against fetching the very same
windows with a bare ``requests.Session`` + ``.json()`` (no pandas, no numpy). Runs alternate so load
on the machine hits both alike; the report is the median of each and their ratio (budget: 1.3x).

    .venv/bin/python benchmarks/fetch.py [--repeat 9] [--expr promcast_test_walk] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import _common  # noqa: E402,F401 - puts backend/ and tests/ on sys.path

import pandas as pd  # noqa: E402
import requests  # noqa: E402

import prom_harness  # noqa: E402
from promcast.sources.prometheus import PrometheusSource, format_seconds, plan_windows  # noqa: E402

BUDGET = 1.3


def plain_fetch(session: requests.Session, url: str, expr: str, windows, step_ms: int) -> int:
    """The baseline: the same GETs, JSON decoded, nothing else. Returns the number of points."""
    count = 0
    for first, last in windows:
        params = {"query": expr, "start": format_seconds(first), "end": format_seconds(last), "step": format_seconds(step_ms)}
        response = session.get(f"{url}/api/v1/query_range", params=params, timeout=30)
        response.raise_for_status()
        count += sum(len(s["values"]) for s in response.json()["data"]["result"])
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs of each (default 9)")
    parser.add_argument("--expr", default="promcast_test_walk", help="PromQL to fetch (default: 3 series)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    missing = prom_harness.binaries_missing()
    if missing:
        print(f"{', '.join(missing)} not found: {prom_harness.INSTALL_HINT}", file=sys.stderr)
        return 2

    history = prom_harness.month_history()
    start = pd.Timestamp(int(history[0].timestamps[0]), unit="s", tz="UTC")
    end = pd.Timestamp(int(history[0].timestamps[-1]), unit="s", tz="UTC")
    step = pd.Timedelta("1min")
    with tempfile.TemporaryDirectory(prefix="promcast-bench-") as workdir:
        server = prom_harness.serve_history(history, workdir)
        try:
            source = PrometheusSource(server.url)
            session = requests.Session()
            step_ms = int(step.total_seconds() * 1000)
            windows = plan_windows(start.value // 10**6, end.value // 10**6, step_ms, source.max_points_per_request)

            def ours() -> int:
                return sum(len(h.values) for h in source.query_range(args.expr, start, end, step))

            def plain() -> int:
                return plain_fetch(session, server.url, args.expr, windows, step_ms)

            points = ours()
            if points != plain() or points == 0:
                print(f"promcast and plain requests disagree or fetched nothing for {args.expr!r}", file=sys.stderr)
                return 1
            times: dict[str, list[float]] = {"promcast": [], "plain": []}
            for i in range(args.repeat):
                order = (("promcast", ours), ("plain", plain)) if i % 2 == 0 else (("plain", plain), ("promcast", ours))
                for name, run in order:
                    began = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - began)
        finally:
            server.stop()

    ours_s, plain_s = statistics.median(times["promcast"]), statistics.median(times["plain"])
    ratio = ours_s / plain_s
    result = {
        "expr": args.expr, "points": points, "windows": len(windows), "repeat": args.repeat,
        "promcast_median_s": round(ours_s, 4), "plain_median_s": round(plain_s, 4),
        "ratio": round(ratio, 3), "budget": BUDGET, "within_budget": ratio <= BUDGET,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"fetch of 30 days at 1m: {args.expr} ({points} points in {len(windows)} windows), median of {args.repeat}")
        print(f"{'client':<28}{'median s':>10}")
        print(f"{'plain requests + .json()':<28}{plain_s:>10.4f}")
        print(f"{'promcast PrometheusSource':<28}{ours_s:>10.4f}")
        print(f"ratio {ratio:.2f}x (budget {BUDGET}x): {'OK' if ratio <= BUDGET else 'OVER BUDGET'}")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
