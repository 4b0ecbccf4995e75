"""Which addresses may reach a cloud cluster's SSH port: STIX_SSH_CIDR, else this machine's public address."""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Iterator

import pytest

from stix import ssh_source
from stix.errors import UsageError
from stix.ssh_source import ssh_cidrs


@pytest.fixture
def echo(monkeypatch) -> Iterator[list[bytes]]:
    """A local stand-in for the address echo service: answers with whatever the test puts in the list."""
    answers: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answers.pop(0) if answers else b""
            self.send_response(200 if body else 500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setattr(ssh_source, "ECHO_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    monkeypatch.delenv("STIX_SSH_CIDR", raising=False)
    try:
        yield answers
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("configured, cidrs", [
    ("203.0.113.7/32", ("203.0.113.7/32",)),
    (" 203.0.113.7/32 , 198.51.100.0/24 ", ("203.0.113.7/32", "198.51.100.0/24")),
    ("203.0.113.7", ("203.0.113.7/32",)),
    ("198.51.100.9/24", ("198.51.100.0/24",)),
    ("2001:db8::1", ("2001:db8::1/128",)),
    ("203.0.113.7/32,", ("203.0.113.7/32",)),
])
def test_configured_cidrs_are_used_as_written_by_the_clouds(echo, monkeypatch, configured, cidrs):
    monkeypatch.setenv("STIX_SSH_CIDR", configured)
    assert ssh_cidrs() == cidrs
    assert echo == [], "nothing was asked of the echo service"


@pytest.mark.parametrize("configured", ["203.0.113.7/33", "my-laptop", "203.0.113.7/32,10.0.0.0/8x", " , "])
def test_a_bad_configured_cidr_is_one_line_naming_the_variable(echo, monkeypatch, configured):
    monkeypatch.setenv("STIX_SSH_CIDR", configured)
    with pytest.raises(UsageError, match=r"^STIX_SSH_CIDR: ") as info:
        ssh_cidrs()
    assert "\n" not in str(info.value)


def test_blank_configuration_falls_back_to_the_public_address(echo, monkeypatch):
    monkeypatch.setenv("STIX_SSH_CIDR", "  ")
    echo.append(b"203.0.113.7\n")
    assert ssh_cidrs() == ("203.0.113.7/32",)


@pytest.mark.parametrize("answer, cidrs", [
    (b"203.0.113.7\n", ("203.0.113.7/32",)),
    (b"2001:db8::7", ("2001:db8::7/128",)),
])
def test_public_address_is_the_only_source(echo, answer, cidrs):
    echo.append(answer)
    assert ssh_cidrs() == cidrs


@pytest.mark.parametrize("answer", [b"<html>rate limited</html>", b"203.0.113.0/24", b""])
def test_an_unusable_answer_says_to_set_the_variable(echo, answer):
    echo.append(answer)
    with pytest.raises(UsageError, match="set STIX_SSH_CIDR"):
        ssh_cidrs()


def test_no_network_says_to_set_the_variable(monkeypatch):
    monkeypatch.delenv("STIX_SSH_CIDR", raising=False)
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        monkeypatch.setattr(ssh_source, "ECHO_URL", f"http://127.0.0.1:{refusing.getsockname()[1]}/")
        with pytest.raises(UsageError, match="cannot determine this machine's public address"):
            ssh_cidrs()
