"""A small fault-injecting HTTP proxy on 127.0.0.1, in front of the local S3 server (moto), for the tests.

Every client connection carries one request (the proxy adds ``Connection: close``, so a keep-alive pool
cannot slip requests past it). For each request the test's ``policy(method, path)`` chooses what happens:

* ``PASS``: forwarded to the server, and its answer back;
* ``DROP``: half of the body is read, then the connection is closed without an answer (a network drop
  in the middle of an upload);
* ``HOLD``: the whole request is read and never answered (for at most 10 s): the client hangs there, for a
  test to kill it in the middle of a write;
* an ``(status, code, message)`` tuple: answered by the proxy with that S3 error (503 ``SlowDown``: throttling;
  403 ``AccessDenied``: a read-only bucket), the server never sees it.

Bounded: sockets time out after 10 s, the proxy serves at most 5,000 connections, and it stops with its
context manager. No mocks: s3fs and botocore talk HTTP to it exactly as to AWS.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

PASS, DROP, HOLD = "pass", "drop", "hold"
SLOW_DOWN = (503, "SlowDown", "Please reduce your request rate.")
ACCESS_DENIED = (403, "AccessDenied", "Access Denied")
_MAX_CONNECTIONS = 5000
_TIMEOUT_S = 10.0


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], policy: Callable[[str, str], object]) -> None:
        self.upstream, self.policy = upstream, policy
        self.log: list[tuple[str, str, str]] = []  # (method, path, what happened)
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def happened(self, what: str) -> list[tuple[str, str]]:
        with self._lock:
            return [(m, p) for m, p, w in self.log if w == what]

    def _serve(self) -> None:
        served = 0
        while not self._stop.is_set() and served < _MAX_CONNECTIONS:
            try:
                client, _ = self._server.accept()
            except socket.timeout:
                continue
            served += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(_TIMEOUT_S)
        try:
            head, rest = _read_head(client)
            if head is None:
                return
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            method, path = method.decode(), target.decode()
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.decode("latin-1").partition(":")
                                                                    for ln in lines[1:] if ln)}
            length = int(headers.get("content-length", "0") or 0)
            action = self.policy(method, path)
            if headers.get("expect", "").lower() == "100-continue" and not isinstance(action, tuple):
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client sends the body only after this
            if action == DROP and length:
                need = max(1, length // 2) - len(rest)
                while need > 0:
                    chunk = client.recv(min(need, 65536))
                    if not chunk:
                        break
                    need -= len(chunk)
                self._note(method, path, DROP)
                client.shutdown(socket.SHUT_RDWR)  # mid-upload: no answer at all
                return
            if isinstance(action, tuple):  # answered at once; a client waiting to send its body never sends it
                if headers.get("expect", "").lower() != "100-continue":
                    _read_exactly(client, length - len(rest))
                self._note(method, path, action[1])
                client.sendall(_error(*action))
                return
            body = rest + _read_exactly(client, length - len(rest))
            if action == HOLD:
                self._note(method, path, HOLD)
                self._stop.wait(_TIMEOUT_S)
                return
            self._note(method, path, PASS)
            kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith((b"connection:", b"expect:"))]
            request = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""]) + body
            with socket.create_connection(self.upstream, timeout=_TIMEOUT_S) as server:
                server.sendall(request)
                while chunk := server.recv(65536):
                    client.sendall(chunk)
        except OSError:
            pass
        finally:
            client.close()

    def _note(self, method: str, path: str, what: str) -> None:
        with self._lock:
            self.log.append((method, path, what))


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _error(status: int, code: str, message: str) -> bytes:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>fault-proxy</RequestId></Error>").encode()
    reason = {503: "Slow Down", 403: "Forbidden"}.get(status, "Error")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


@contextmanager
def fault_proxy(endpoint: str, policy: Callable[[str, str], object]) -> Iterator[FaultProxy]:
    """A proxy in front of ``endpoint`` (``http://127.0.0.1:PORT``), applying ``policy`` to each request."""
    host, port = endpoint.rsplit("//", 1)[1].rsplit(":", 1)
    proxy = FaultProxy((host, int(port)), policy)
    proxy._thread.start()
    try:
        yield proxy
    finally:
        proxy._stop.set()
        proxy._thread.join(timeout=5)
        proxy._server.close()
