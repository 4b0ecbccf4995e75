"""Readiness probes against a real local HTTP server: GET, POST with data and headers, failures, timeouts."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stix.serve.probe import probe
from stix.serve.spec import Probe

SEEN: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        SEEN.append({"method": self.command, "path": self.path, "body": body.decode(),
                     "auth": self.headers.get("Authorization")})
        if self.path == "/slow":
            threading.Event().wait(2.0)
        code = 200 if self.path in ("/health", "/slow") else 503 if self.path == "/busy" else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_get_200_is_ready(server):
    result = probe(server, Probe(path="/health"))
    assert result.ready and result.detail == "HTTP 200"
    assert SEEN[-1]["method"] == "GET"


def test_other_codes_are_not_ready(server):
    assert probe(server, Probe(path="/busy")).detail == "HTTP 503"
    assert not probe(server, Probe(path="/nope")).ready


def test_post_sends_the_data_and_headers(server):
    spec = Probe(path="health", post_data=json.dumps({"q": 1}), headers=(("Authorization", "Bearer t"),))
    assert probe(server, spec).ready
    assert SEEN[-1] == {"method": "POST", "path": "/health", "body": '{"q": 1}', "auth": "Bearer t"}


def test_a_refused_connection_is_not_ready():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = probe(f"http://127.0.0.1:{port}", Probe(path="/health", timeout_s=2))
    assert not result.ready and "refused" in result.detail.lower()


def test_the_timeout_bounds_a_probe(server):
    import time

    began = time.monotonic()
    assert not probe(server, Probe(path="/slow", timeout_s=0.3)).ready
    assert time.monotonic() - began < 1.5


@pytest.mark.parametrize("answer", [b"garbage that is not HTTP\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"])
def test_a_bad_http_answer_is_not_ready(answer):
    """A port that speaks something else, or a replica dying mid-body: not ready, never an exception."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(answer)

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    try:
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}", Probe(path="/health", timeout_s=5))
    finally:
        thread.join(5)
        listener.close()
    assert not result.ready and result.detail
