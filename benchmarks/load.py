"""Load benchmark: 20 concurrent Grafana clients for 60 s against ``promcast serve`` on the demo source.

Starts ``python -m promcast serve`` on a free loopback port (nothing leaves the machine), warms it up
with one pass over every request kind, then runs ``--clients`` threads for ``--duration`` seconds.
Each client loops over a seeded mix of what dashboards send: ``forecast``, ``anomalies`` and
``anomaly_events`` over several metrics, ranges (6h to 7d), widths, models and ad hoc filters; a few
``/variable``, ``/tag-keys`` and ``/metrics`` calls; and a few bad requests (bad PromQL, unknown
model) that must be 400s. The server's resident memory is sampled every second from /proc.

Acceptance (issue 4): zero 5xx, p99 reported, RSS growth during the load under 200 MB.

    .venv/bin/python benchmarks/load.py [--clients 20] [--duration 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
RSS_BUDGET_MB = 200.0
#: bounds: a request may take at most this long; the run waits at most this long for the server
REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 120.0

EXPRS = [
    'node_cpu_utilisation{instance="node-1:9100"}',
    "node_cpu_utilisation",
    'node_filesystem_avail_bytes{mountpoint="/"}',
    "process_resident_memory_bytes",
    'http_requests{job="frontend"}',
    'node_memory_MemAvailable_bytes{instance="node-2:9100"}',
]
MODELS = ["prophet", "holt_winters", "mad", "seasonal_naive"]
RANGES_H = [6, 24, 48, 168]
WIDTHS = [300, 800, 1500]
FILTERS = [[], [], [{"key": "job", "operator": "=", "value": "node"}],
           [{"key": "instance", "operator": "!~", "value": "node-3.*"}]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc status")


def iso_ms(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{int(epoch_s * 1000) % 1000:03d}Z"


def query_body(rng: random.Random) -> tuple[str, dict, bool]:
    """(kind, body, expect_ok) for one dashboard query, as Grafana would send it now."""
    now = time.time()
    hours = rng.choice(RANGES_H)
    width = rng.choice(WIDTHS)
    kind = rng.choice(["forecast", "forecast", "anomalies", "anomalies", "anomaly_events", "bad"])
    payload = {"expr": rng.choice(EXPRS), "model": rng.choice(MODELS), "history": rng.choice(["3d", "7d", "14d"])}
    expect_ok = True
    if kind == "forecast":
        payload["horizon"] = rng.choice(["6h", "1d", "3d"])
    elif kind == "bad":
        kind, expect_ok = "forecast", False
        if rng.random() < 0.5:
            payload["expr"] = "sum(rate(node_cpu_utilisation[5m]"
        else:
            payload["model"] = "crystal_ball"
    interval_ms = max(1000, int(hours * 3_600_000 / width))
    body = {
        "range": {"from": iso_ms(now - hours * 3600), "to": iso_ms(now), "raw": {"from": f"now-{hours}h", "to": "now"}},
        "intervalMs": interval_ms, "maxDataPoints": width, "scopedVars": {}, "filters": rng.choice(FILTERS),
        "targets": [{"refId": "A", "target": kind, "payload": json.dumps(payload), "hide": False}],
        "panelId": rng.randint(1, 12), "dashboardUID": "load", "startTime": int(now * 1000),
    }
    return kind if expect_ok else "bad", body, expect_ok


def other_call(rng: random.Random) -> tuple[str, str, dict]:
    return rng.choice([
        ("variable", "/grafana/variable", {"payload": {"target": "label_values(node_cpu_utilisation, instance)"}}),
        ("tag-keys", "/grafana/tag-keys", {}),
        ("tag-values", "/grafana/tag-values", {"key": "job"}),
        ("metrics", "/grafana/metrics", {"metric": "", "payload": {}}),
    ])


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.statuses: Counter = Counter()
        self.unexpected: list[str] = []

    def record(self, kind: str, status: int, seconds: float, expect_ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.statuses[status] += 1
            if status >= 500 or (expect_ok and status != 200) or (not expect_ok and status != 400):
                if len(self.unexpected) < 20:
                    self.unexpected.append(f"{kind}: HTTP {status} {detail}".strip())


def client(url: str, seed: int, deadline: float, stats: Stats) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    while time.monotonic() < deadline:
        if rng.random() < 0.15:
            kind, path, body = other_call(rng)
            expect_ok = True
        else:
            kind, body, expect_ok = query_body(rng)
            path = "/grafana/query"
        began = time.perf_counter()
        detail = ""
        try:
            response = session.post(url + path, json=body, timeout=REQUEST_TIMEOUT_S)
            status = response.status_code
            if status >= 400:
                detail = response.text[:300]
        except requests.RequestException as exc:
            status, detail = 599, exc.__class__.__name__
        stats.record(kind, status, time.perf_counter() - began, expect_ok, detail if expect_ok else "")


def wait_ready(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"promcast serve exited with {proc.returncode}")
        try:
            if requests.get(url + "/grafana/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"promcast serve was not ready within {START_TIMEOUT_S:g}s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMCAST_")}
    env["PYTHONPATH"] = str(ROOT / "backend") + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "promcast", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_ready(url, proc)
            warm = Stats()  # one pass over every model, target and expression: imports and first fits
            for model in MODELS:
                for expr in EXPRS:
                    for kind in ("forecast", "anomalies", "anomaly_events"):
                        _, body, _ = query_body(random.Random(0))
                        body["targets"][0] = {"refId": "A", "target": kind,
                                              "payload": {"expr": expr, "model": model, "history": "7d"}}
                        began = time.perf_counter()
                        status = requests.post(url + "/grafana/query", json=body, timeout=REQUEST_TIMEOUT_S).status_code
                        warm.record(kind, status, time.perf_counter() - began, True)
            rss_start = rss_mb(proc.pid)
            stats = Stats()
            deadline = time.monotonic() + args.duration
            threads = [threading.Thread(target=client, args=(url, seed, deadline, stats), daemon=True)
                       for seed in range(args.clients)]
            for thread in threads:
                thread.start()
            samples = []
            while any(t.is_alive() for t in threads):
                samples.append(rss_mb(proc.pid))
                time.sleep(1.0)
            for thread in threads:
                thread.join(timeout=REQUEST_TIMEOUT_S)
            rss_end = rss_mb(proc.pid)
        except Exception:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    everything = [s for values in stats.latencies.values() for s in values]
    server_errors = sum(n for status, n in stats.statuses.items() if status >= 500)
    warm_errors = sum(n for status, n in warm.statuses.items() if status >= 500)
    growth = max(samples + [rss_end]) - rss_start
    ok = server_errors == 0 and warm_errors == 0 and growth < RSS_BUDGET_MB and not stats.unexpected
    result = {
        "clients": args.clients, "duration_s": args.duration, "requests": len(everything),
        "throughput_rps": round(len(everything) / args.duration, 1),
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "server_errors": server_errors + warm_errors, "unexpected": stats.unexpected,
        "p50_s": round(statistics.median(everything), 4), "p95_s": round(percentile(everything, 0.95), 4),
        "p99_s": round(percentile(everything, 0.99), 4), "max_s": round(max(everything), 4),
        "p99_by_kind_s": {k: round(percentile(v, 0.99), 4) for k, v in sorted(stats.latencies.items())},
        "warmup_requests": sum(len(v) for v in warm.latencies.values()),
        "warmup_max_s": round(max(s for v in warm.latencies.values() for s in v), 3),
        "rss_start_mb": round(rss_start, 1), "rss_peak_mb": round(max(samples + [rss_end]), 1),
        "rss_end_mb": round(rss_end, 1), "rss_growth_mb": round(growth, 1), "rss_budget_mb": RSS_BUDGET_MB,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.clients} clients for {args.duration:g}s on the demo source: {len(everything)} requests "
              f"({result['throughput_rps']}/s), statuses {result['statuses']}")
        print(f"latency p50 {result['p50_s'] * 1000:.1f} ms, p95 {result['p95_s'] * 1000:.1f} ms, "
              f"p99 {result['p99_s'] * 1000:.1f} ms, max {result['max_s'] * 1000:.1f} ms")
        print("p99 by kind: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result["p99_by_kind_s"].items()))
        print(f"RSS {rss_start:.0f} MB after warm-up ({result['warmup_requests']} requests), peak "
              f"{result['rss_peak_mb']:.0f} MB, end {rss_end:.0f} MB: growth {growth:.0f} MB (budget {RSS_BUDGET_MB:g})")
        print(f"5xx: {server_errors + warm_errors}; unexpected: {stats.unexpected or 'none'}: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
