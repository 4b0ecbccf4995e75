"""The one place catalog updates touch the network: JSON over HTTPS with a timeout."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Callable

from stix.errors import FetchError

TIMEOUT_S = 60.0
FetchJson = Callable[[str], Any]


def fetch_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "stix-catalog"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.load(response)
    except Exception as exc:
        raise FetchError(f"fetching {url.split('?')[0]} failed: {type(exc).__name__}: {exc}") from None
