"""The JSON schema of the task file, generated from the pydantic models (one definition)."""

from __future__ import annotations

import json

from stix.models.task import Task

SCHEMA_ID = "https://stix.invalid/schemas/task.json"


def task_schema() -> dict:
    schema = Task.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "stix task"
    return schema


def task_schema_json() -> str:
    return json.dumps(task_schema(), indent=2, sort_keys=True) + "\n"
