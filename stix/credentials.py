"""Which clouds are enabled: each cloud's class checks for its credentials (environment, the cloud's own
config files). No network call and no cloud SDK import: presence is what is checked, not validity."""

from __future__ import annotations

import os
from typing import Mapping, Optional

from stix.components.base import CLOUD_NAMES, CloudCheck, cloud_for

__all__ = ["CloudCheck", "check_clouds", "enabled_clouds"]


def check_clouds(env: Optional[Mapping[str, str]] = None) -> list[CloudCheck]:
    env = os.environ if env is None else env
    return [cloud_for(name).check_credentials(env) for name in CLOUD_NAMES]


def enabled_clouds(env: Optional[Mapping[str, str]] = None) -> list[str]:
    return [check.cloud for check in check_clouds(env) if check.enabled]
