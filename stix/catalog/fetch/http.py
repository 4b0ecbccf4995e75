"""The one place catalog updates touch the network: HTTP(S) with a timeout, stix's User-Agent, and one
FetchError line that leaves out the URL's query (a signed URL's token stays out of logs)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Callable, Optional, TypeVar

from stix.errors import FetchError

TIMEOUT_S = 60.0
USER_AGENT = "stix-catalog"
FetchJson = Callable[[str], Any]
T = TypeVar("T")


def redacted(url: str) -> str:
    """The URL without its query or fragment."""
    return url.split("?")[0].split("#")[0]


def _get(url: str, verb: str, read: Callable[[Any], T], accept: Optional[str] = None) -> T:
    headers = {"User-Agent": USER_AGENT}
    if accept:
        headers["Accept"] = accept
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as response:
            return read(response)
    except Exception as exc:
        raise FetchError(f"{verb} {redacted(url)} failed: {type(exc).__name__}: {_without(exc, url)}") from None


def _without(exc: Exception, url: str) -> str:
    """The exception's text, the URL's query taken out where the text repeats it."""
    text = str(exc)
    return text.replace(url, redacted(url)) if "?" in url else text


def fetch_json(url: str) -> Any:
    return _get(url, "fetching", json.load, accept="application/json")


def fetch_text(url: str) -> str:
    """An http(s) URL read as UTF-8 text."""
    return _get(url, "reading", lambda response: response.read().decode("utf-8"))
