"""Provider plugins a cloud's components need, and whether this machine has them.

Automatic plugin downloads are off for every engine call (they would reach the
internet mid-apply), so a missing plugin is reported up front with the command
that installs it.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

from stix.errors import PrerequisiteMissing
from stix.home import StixHome

def plugin_version(package: str) -> str:
    return metadata.version(package)


def has_plugin(home: StixHome, name: str, package: str) -> bool:
    binary = f"pulumi-resource-{name}"
    installed = home.pulumi_home / "plugins" / f"resource-{name}-v{plugin_version(package)}" / binary
    return (installed.is_file() and os.access(installed, os.X_OK)) or shutil.which(binary) is not None


def require_plugin(home: StixHome, cloud: str, name: str, package: str) -> None:
    """name: the plugin (`aws`, `azure-native`); package: the Python SDK whose version the plugin must match."""
    if has_plugin(home, name, package):
        return
    version = plugin_version(package)
    raise PrerequisiteMissing(
        f"provisioning on {cloud} needs the Pulumi {name} provider plugin v{version}; install it with: "
        f"PULUMI_HOME={home.pulumi_home} pulumi plugin install resource {name} {version}"
    )


def plugin_dir(home: StixHome) -> Path:
    return home.pulumi_home / "plugins"
