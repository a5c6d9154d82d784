"""The client side of ``benchmarks/service.py``: Grafana's place, in a process of its own.

Reads ``{"repeat": N, "runs": {name: {"method", "url", "json" | "params"}}}`` as JSON on stdin, asks
each run in turn (the order alternating every round), decodes every answer with ``response.json()``
and prints ``{"times": {name: [seconds]}, "decoding": {name: [seconds]}}``: each time covers the
request, the transfer and the decoding. Only requests and the standard library are imported, so the
client's own garbage collections scan a small heap, as a browser's would, not promcast's.
"""

from __future__ import annotations

import json
import sys
import time

import requests


def main() -> int:
    spec = json.load(sys.stdin)
    runs = spec["runs"]
    session = requests.Session()
    times: dict[str, list[float]] = {name: [] for name in runs}
    decoding: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(int(spec["repeat"])):
        for name in (list(runs) if i % 2 == 0 else list(reversed(runs))):
            run = runs[name]
            began = time.perf_counter()
            response = session.request(run["method"], run["url"], json=run.get("json"), params=run.get("params"),
                                       timeout=120)
            response.raise_for_status()
            decode_began = time.perf_counter()
            response.json()
            done = time.perf_counter()
            times[name].append(done - began)
            decoding[name].append(done - decode_began)
    json.dump({"times": times, "decoding": decoding}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
