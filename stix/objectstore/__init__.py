"""The local cloud's object store: a real S3-compatible server (SeaweedFS), built once from Go modules
and cached beside the engine, started by stix per home and kept on disk under <home>/objectstore."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """How to reach a running store. The keys are secrets: never logged, never in stack state."""

    url: str
    """http://127.0.0.1:<port>"""
    access_key: str
    secret_key: str
    region: str = "us-east-1"
