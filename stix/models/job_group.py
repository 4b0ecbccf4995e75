"""The header document of a multi-task file: a pipeline's name, or a job group's (SkyPilot's JobGroup).

A job group (`execution: parallel`) starts every task at once; a pipeline (`serial`, the default) runs them in order.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import Field, StrictInt, field_validator

from stix.models import values
from stix.models.base import Model

Delay = Union[StrictInt, str]


class JobGroup(Model):
    name: str = Field(..., description="Name of the pipeline or job group.")
    execution: Optional[str] = Field(None, description="serial (a pipeline, the default) or parallel (a job group).")
    placement: Optional[str] = Field(None, description="Job group: SAME_INFRA, every task on one infra (earlier 0.14 "
                                                       "spelling; later SkyPilot ignores it).")
    primary_tasks: Optional[list[str]] = Field(
        None, description="Job group: the tasks whose end ends the group; the others are stopped then.")
    termination_delay: Optional[Union[Delay, dict[str, Delay]]] = Field(
        None, description="Job group: wait before stopping the other tasks, '30s', or per task {default: '30s', name: '1m'}.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return values.check_task_name(value)

    @field_validator("execution", mode="before")
    @classmethod
    def _execution(cls, value: Any) -> Any:
        return None if value is None else values.choice("execution", value, values.EXECUTION_MODES, case_sensitive=True)

    @field_validator("placement", mode="before")
    @classmethod
    def _placement(cls, value: Any) -> Any:
        return None if value is None else values.choice("placement", str(value).upper(), ("SAME_INFRA",))

    @field_validator("termination_delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, delay in value.items():
                values.check_seconds_duration(delay, f"the delay for {key!r}, ")
        elif value is not None:
            values.check_seconds_duration(value)
        return value

    @property
    def parallel(self) -> bool:
        return self.execution == "parallel"

    def check_tasks(self, names: list[Optional[str]]) -> None:
        """What only the tasks can tell: a job group's tasks are named, and its header names only them."""
        if not self.parallel:
            if self.primary_tasks is not None or self.termination_delay is not None or self.placement is not None:
                raise ValueError("primary_tasks, termination_delay and placement need execution: parallel (a job group)")
            return
        for index, name in enumerate(names):
            if name is None:
                raise ValueError(f"task {index + 1} of the job group has no name; each task needs one")
            values.check_job_group_name("task name", name)
        values.check_job_group_name("job group name", self.name)
        known = [n for n in names if n is not None]
        unknown = [n for n in (self.primary_tasks or []) if n not in known]
        if isinstance(self.termination_delay, dict):
            unknown += [n for n in self.termination_delay if n != "default" and n not in known]
        if unknown:
            raise ValueError(f"no task named {unknown[0]!r} in the job group; it has {', '.join(known)}")
