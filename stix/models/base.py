from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Every task model forbids unknown keys and carries field descriptions for the JSON schema.

    defer_build: a model's validator is built at its first use, not at import, so a command pays only for the
    models it validates (`stix exec` of a command: the task's, not the job group's or the service spec's alone)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def to_config(self) -> dict:
        """The model as YAML-ready data: only what was set, in the user's spelling."""
        return self.model_dump(mode="json", exclude_none=True, exclude_unset=True, by_alias=True)
