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

PLUGINS = {"aws": ("aws", "pulumi-aws"), "gcp": ("gcp", "pulumi-gcp"),
           "azure": ("azure-native", "pulumi-azure-native"), "kubernetes": ("kubernetes", "pulumi-kubernetes")}


def plugin_version(cloud: str) -> str:
    return metadata.version(PLUGINS[cloud][1])


def has_plugin(home: StixHome, cloud: str) -> bool:
    name, _ = PLUGINS[cloud]
    binary = f"pulumi-resource-{name}"
    installed = home.pulumi_home / "plugins" / f"resource-{name}-v{plugin_version(cloud)}" / binary
    return (installed.is_file() and os.access(installed, os.X_OK)) or shutil.which(binary) is not None


def require_plugin(home: StixHome, cloud: str) -> None:
    if cloud not in PLUGINS or has_plugin(home, cloud):
        return
    name, _ = PLUGINS[cloud]
    version = plugin_version(cloud)
    raise PrerequisiteMissing(
        f"provisioning on {cloud} needs the Pulumi {name} provider plugin v{version}; install it with: "
        f"PULUMI_HOME={home.pulumi_home} pulumi plugin install resource {name} {version}"
    )


def plugin_dir(home: StixHome) -> Path:
    return home.pulumi_home / "plugins"
