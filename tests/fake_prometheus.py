"""A tiny Prometheus HTTP API on loopback that records every request (method, path, params, headers).

Scripted replies (``then``) are answered first, in order; after that it plays a small Prometheus whose
series ``m{job="a"}`` and ``m{job="b"}`` have value = minutes since the epoch (NaN every 10 minutes,
+Inf every 11). ``limit`` makes it refuse ``query_range`` windows of more points, as some stores do.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np


class FakePrometheus:
    """Answers scripted replies in order, then plays a tiny Prometheus: value = minutes since epoch."""

    def __init__(self):
        self.script: list[tuple[int, object, dict, float]] = []
        self.requests: list[dict] = []
        #: (max points, status, payload): refuse query_range windows of more points, as a store with a limit does.
        self.limit: tuple[int, int, object] | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query or body).items()}
                fake.requests.append({"method": self.command, "path": parts.path, "params": params,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, payload, headers, delay = fake.script.pop(0) if fake.script else fake.answer(parts.path, params)
                time.sleep(delay)
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def answer(self, path, params):
        if path.endswith("/api/v1/query_range"):
            start, end, step = (float(params[k]) for k in ("start", "end", "step"))
            if self.limit and round((end - start) / step) + 1 > self.limit[0]:
                return self.limit[1], self.limit[2], {}, 0
            times = np.arange(start, end + step / 2, step)
            values = [[t, "NaN" if t % 600 == 0 else ("+Inf" if t % 660 == 0 else str(t / 60))] for t in times.tolist()]
            result = [{"metric": {"__name__": "m", "job": j}, "values": values} for j in ("b", "a")]
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}, {}, 0
        if path.endswith("/api/v1/series"):
            return 200, {"status": "success", "data": [{"__name__": "up", "job": "a"}]}, {}, 0
        return 200, {"status": "success", "data": ["x", "a"]}, {}, 0

    def then(self, status, payload, headers=None, delay=0.0):
        self.script.append((status, payload, dict(headers or {}), delay))
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
