"""Serving the dashboard: the listening socket (bound here, so port 0 works and the URL printed is the real one),
the token for addresses beyond loopback, and uvicorn."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass
from typing import Optional

from stix.errors import UsageError
from stix.home import StixHome

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Listening:
    sock: socket.socket
    url: str
    """What to open: with the token as `?token=` when one is required."""
    token: Optional[str]


def listen(host: str, port: int, allow_remote: bool) -> Listening:
    """The bound, listening socket; a token when the address is not loopback (which --allow-remote must allow)."""
    token = None
    if not is_loopback(host):
        if not allow_remote:
            raise UsageError(f"--host {host}: not a loopback address; add --allow-remote to serve it beyond this "
                             "machine (a token is then required)")
        token = secrets.token_urlsafe(24)
    bare = host.strip("[]")
    try:
        family = socket.AF_INET6 if ":" in bare else socket.AF_INET
        if host == "localhost":
            bare, family = "127.0.0.1", socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bare, port))
        sock.listen(128)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{bare}]" if family == socket.AF_INET6 else (host if host == "localhost" else bare)
    url = f"http://{shown}:{sock.getsockname()[1]}/" + (f"?token={token}" if token else "")
    return Listening(sock, url, token)


def serve(home: StixHome, listening: Listening, host: str) -> None:
    import uvicorn

    from stix.dashboard.app import LOOPBACK_HOSTS, create_app

    allowed = LOOPBACK_HOSTS if listening.token is None else ()  # beyond loopback the token is the gate
    app = create_app(home, listening.token, allowed)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[listening.sock])
