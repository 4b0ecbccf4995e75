"""Who may reach a cloud cluster's SSH port: this machine's public address, or STIX_SSH_CIDR."""

from __future__ import annotations

import ipaddress
import os
import urllib.request

from stix.errors import UsageError

ECHO_URL = "https://checkip.amazonaws.com"
TIMEOUT_S = 5.0


def ssh_cidrs() -> tuple[str, ...]:
    configured = os.environ.get("STIX_SSH_CIDR", "").strip()
    if configured:
        parts = [part.strip() for part in configured.split(",") if part.strip()]
        if not parts:
            raise UsageError(f"STIX_SSH_CIDR: {configured!r} names no CIDR; for example 203.0.113.7/32")
        return tuple(_network(part) for part in parts)
    try:
        with urllib.request.urlopen(ECHO_URL, timeout=TIMEOUT_S) as response:
            address = ipaddress.ip_address(response.read(256).decode().strip())
    except Exception:
        raise UsageError("cannot determine this machine's public address for the SSH rule; "
                         "set STIX_SSH_CIDR (for example 203.0.113.7/32)") from None
    return (f"{address}/{address.max_prefixlen}",)


def _network(cidr: str) -> str:
    """Written the way every cloud's firewall API takes it: a bare address gets its /32 (or /128), host bits
    below the prefix are cleared."""
    try:
        return str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        raise UsageError(f"STIX_SSH_CIDR: {cidr!r} is not a CIDR such as 203.0.113.7/32") from None
