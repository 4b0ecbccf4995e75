"""The effective config: user, project and task config files layered into one StixConfig (interface stub)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from stix.models.cloud_config import CloudConfig, KubernetesConfig
from stix.models.config import StixConfig


@dataclass(frozen=True)
class EffectiveConfig:
    values: StixConfig = field(default_factory=StixConfig)
    sources: Mapping[str, str] = field(default_factory=dict)
    """Dotted key ('aws.labels.team') -> where its value came from (a file path, or 'task config')."""

    def cloud(self, name: str) -> CloudConfig:
        section = getattr(self.values, name, None)
        return section if isinstance(section, CloudConfig) else CloudConfig()

    def kubernetes(self) -> KubernetesConfig:
        return self.values.kubernetes or KubernetesConfig()


def load_config(task_config: Optional[Mapping[str, Any]] = None, project_root: Optional[Path] = None) -> EffectiveConfig:
    """User file, then project file, then the task's `config:`; later layers win key by key."""
    return EffectiveConfig()
