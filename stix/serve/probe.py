"""A replica's readiness probe, from this machine: GET the path, or POST post_data, with the probe's headers
and timeout. Ready means an HTTP 200 (SkyPilot's rule)."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

from stix.serve.spec import Probe


@dataclass(frozen=True)
class ProbeResult:
    ready: bool
    detail: str
    """'HTTP 200', 'HTTP 503', or why no answer came (refused, timed out)."""


def probe(base_url: str, spec: Probe) -> ProbeResult:
    """Probe http://host:port (base_url) at spec.path."""
    path = spec.path if spec.path.startswith("/") else "/" + spec.path
    data = spec.post_data.encode() if spec.post_data is not None else None
    headers = dict(spec.headers)
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, headers=headers,
                                     method="POST" if data is not None else "GET")
    try:
        with _OPENER.open(request, timeout=spec.timeout_s) as response:
            response.read()
            return ProbeResult(response.status == 200, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return ProbeResult(False, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(False, str(reason) or type(exc).__name__)
    except http.client.HTTPException as exc:  # not HTTP (TLS, another protocol), or an answer cut short
        return ProbeResult(False, str(exc) or type(exc).__name__)


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Replicas are probed directly, never through a proxy the environment names."""
