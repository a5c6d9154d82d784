"""A fault-injecting TCP proxy on loopback, for tests of how promcast treats a misbehaving upstream.

``FaultProxy(upstream=("127.0.0.1", 9090))`` listens on a free loopback port; ``proxy.mode`` picks what
the next connections get:

- ``pass``: bytes forwarded both ways to ``upstream`` (a real or a fake Prometheus)
- ``hang``: the request is read, nothing is ever answered
- ``drip``: a valid ``200`` head at once, then the JSON body one byte every ``drip_interval`` seconds
- ``drip_head``: the whole answer, status line included, one byte every ``drip_interval`` seconds
- ``garbage``: bytes that are no HTTP, then the connection closes
- ``reset``: the connection is reset (RST) as soon as the request arrives
- ``500``: ``HTTP/1.1 500 Internal Server Error`` with a plain-text body

Everything runs in daemon threads; ``close()`` (or leaving the ``with`` block) ends every connection,
so no test leaves a thread blocked on it.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time

MODES = ("pass", "hang", "drip", "drip_head", "garbage", "reset", "500")

_BODY = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()


class FaultProxy:
    def __init__(self, upstream: tuple[str, int] | None = None, mode: str = "pass", drip_interval: float = 0.5):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        self.upstream = upstream
        self.mode = mode
        self.drip_interval = drip_interval
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    # ------------------------------------------------------------------ serving

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self._open.add(client)
                self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        try:
            if mode == "pass":
                self._forward(client)
                return
            if not _read_request(client):
                return
            if mode == "hang":
                self._closed.wait()
            elif mode == "drip":
                client.sendall(_head(len(_BODY)))
                self._drip(client, _BODY)
            elif mode == "drip_head":
                self._drip(client, _head(len(_BODY)) + _BODY)
            elif mode == "garbage":
                client.sendall(b"\x00\xffSSH-2.0-not-http\r\n\x13\x37" * 64)
            elif mode == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == "500":
                body = b"upstream exploded"
                client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(client)
            _close(client)

    def _drip(self, client: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._closed.wait(self.drip_interval):
                return
            client.sendall(data[i:i + 1])

    def _forward(self, client: socket.socket) -> None:
        if self.upstream is None:
            raise OSError("pass mode needs an upstream")
        server = socket.create_connection(self.upstream, timeout=5)
        with self._lock:
            self._open.add(server)
        try:
            pair = {client: server, server: client}
            while not self._closed.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        finally:
            with self._lock:
                self._open.discard(server)
            _close(server)


def _head(length: int) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % length)


def _read_request(client: socket.socket, limit: float = 5.0) -> bool:
    """Read up to the end of the request head (bodies of promcast's requests are small forms)."""
    client.settimeout(limit)
    data = b""
    deadline = time.monotonic() + limit
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = client.recv(65536)
        if not chunk:
            return False
        data += chunk
    client.settimeout(None)
    return True


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
