"""Where the running stix was installed from, as a requirement another machine (a CI runner) can pip-install.

The PyPI project named `stix` is someone else's (MITRE's STIX parser), so a bare `stix` is never the answer:
a workflow either installs what this stix was installed from, or stops and says what to set.
"""

from __future__ import annotations

import json
from typing import Optional

DISTRIBUTION = "stix"


def requirement_from_direct_url(direct_url: dict) -> Optional[str]:
    """The PEP 610 record pip keeps of a direct install, as a requirement a remote machine can install, or None
    for what only this machine can reach (a local directory, a file, an editable checkout)."""
    url = str(direct_url.get("url", ""))
    if not url.startswith(("https://", "http://", "ssh://", "git@")):
        return None
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs"):
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        return f"{DISTRIBUTION} @ {vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    if "archive_info" in direct_url:
        return f"{DISTRIBUTION} @ {url}"
    return None


def installed_requirement() -> Optional[str]:
    """What `pip install` on a CI runner should get to have this stix, when the install says so; else None."""
    from importlib import metadata

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None  # from an index: which index is the user's to say
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return requirement_from_direct_url(record) if isinstance(record, dict) else None
