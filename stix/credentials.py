"""Which clouds are enabled: each cloud's class checks for its credentials (environment, the cloud's own
config files). No network call and no cloud SDK import: presence is what is checked, not validity."""

from __future__ import annotations

import os
from typing import Mapping, Optional

from stix.components.base import CLOUD_NAMES, CloudCheck, cloud_for
from stix.config import EffectiveConfig

__all__ = ["CloudCheck", "check_clouds", "enabled_clouds"]


def check_clouds(env: Optional[Mapping[str, str]] = None, config: Optional[EffectiveConfig] = None) -> list[CloudCheck]:
    """config: a cloud outside its allowed_clouds is disabled, whatever its credentials."""
    env = os.environ if env is None else env
    allowed = config.allowed_clouds if config is not None else None
    return [cloud_for(name).check_credentials(env) if allowed is None or name in allowed
            else CloudCheck(name, False, f"not in allowed_clouds ({config.source('allowed_clouds') if config else ''})")
            for name in CLOUD_NAMES]


def enabled_clouds(env: Optional[Mapping[str, str]] = None, config: Optional[EffectiveConfig] = None) -> list[str]:
    return [check.cloud for check in check_clouds(env, config) if check.enabled]
