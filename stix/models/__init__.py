"""The task schema as pydantic models: one definition, also the source of the JSON schema."""

from stix.models.resources import Resources
from stix.models.service import Service
from stix.models.storage import Storage
from stix.models.task import Task

__all__ = ["Resources", "Service", "Storage", "Task"]
