from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Every task model forbids unknown keys and carries field descriptions for the JSON schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_config(self) -> dict:
        """The model as YAML-ready data: only what was set, in the user's spelling."""
        return self.model_dump(mode="json", exclude_none=True, exclude_unset=True, by_alias=True)
