"""stix: SkyPilot-style task YAML compiled into Pulumi stacks.

The SDK names (stix.Task, stix.launch, ...) load on first use, so that
`stix --help` and `stix status` stay fast.
"""

__version__ = "0.1.0"

_MODELS = {"Task": "stix.sdk", "Resources": "stix.models.resources", "Storage": "stix.models.storage",
           "Service": "stix.models.service", "ClusterStatus": "stix.sdk_records", "JobStatus": "stix.sdk_records",
           "RequestId": "stix.sdk_records"}
_SDK = ("launch", "exec", "status", "stop", "start", "down", "autostop", "queue", "job_status", "cancel", "tail_logs",
        "get", "stream_and_get", "optimize", "cost_report", "endpoints", "set_verbose")
_MODULES = ("jobs", "serve")
"""stix.jobs: the managed-jobs SDK (sky.jobs' names); stix.serve: services (sky.serve's names)."""
__all__ = [*_MODELS, *_SDK, *_MODULES]


def __getattr__(name: str):
    import importlib

    if name in _MODELS:
        return getattr(importlib.import_module(_MODELS[name]), name)
    if name in _SDK:
        return getattr(importlib.import_module("stix.sdk"), name)
    if name in _MODULES:
        return importlib.import_module(f"stix.{name}")
    raise AttributeError(f"module 'stix' has no attribute {name!r}")
