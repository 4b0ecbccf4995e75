"""Python dynamic providers (the local cloud's nodes, buckets, balancers) served from this process.

The engine otherwise starts a provider process (`python -m pulumi.dynamic`, which imports pulumi, grpc and
dill: most of a second) for every deployment, and a preview with refresh is two deployments. stix already has
all of that imported, so it serves the same provider (Pulumi's own servicer, unchanged) on a loopback port and
points the engine at it with PULUMI_DEBUG_PROVIDERS, Pulumi's way of attaching to a running provider. The
provider code is still what state stores (dill), and runs as it would in its own process.
STIX_PROVIDER_PROCESS=1 turns this off (the engine starts provider processes again).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import types
from typing import Any, Optional

PACKAGE = "pulumi-python"
"""The dynamic providers' plugin name (the shim is pulumi-resource-pulumi-python)."""
ATTACH_ENV = "PULUMI_DEBUG_PROVIDERS"
OFF_ENV = "STIX_PROVIDER_PROCESS"
WORKERS = 32
"""Concurrent provider calls: the engine creates a big cluster's nodes in parallel."""

_lock = threading.Lock()
_port: Optional[int] = None
_server: Any = None


def attach_env() -> dict[str, str]:
    """What the engine's environment needs to use this process's provider server (started on first use); empty
    when it is turned off. Never put into os.environ: a child process's engine must not attach to this one."""
    if os.environ.get(OFF_ENV, "") not in ("", "0"):
        return {}
    return {ATTACH_ENV: f"{PACKAGE}:{_serve()}"}


def _serve() -> int:
    global _port, _server
    with _lock:
        if _port is None:
            from concurrent import futures

            import grpc

            dynamic = _dynamic_module()
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="stix-provider"),
                                 options=dynamic._GRPC_CHANNEL_OPTIONS)
            dynamic.provider_pb2_grpc.add_ResourceProviderServicer_to_server(_servicer(dynamic), server)
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            import atexit

            atexit.register(server.stop, 0)
            _server, _port = server, port
        return _port


def _dynamic_module() -> types.ModuleType:
    """pulumi.dynamic's provider program without its last line (main(), which serves forever): its servicer."""
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.loader is not None and spec.origin is not None
    source = spec.loader.get_source(spec.name)  # type: ignore[attr-defined]
    body = (source or "").rstrip()
    if not body.endswith("\nmain()"):
        raise RuntimeError(f"{spec.origin}: not the pulumi.dynamic program stix knows (pulumi's SDK changed?)")
    module = types.ModuleType("stix_pulumi_dynamic")
    module.__file__ = spec.origin
    exec(compile(body[: -len("main()")], spec.origin, "exec"), module.__dict__)
    return module


def _servicer(dynamic: types.ModuleType) -> Any:
    """Pulumi's servicer, plus Attach: the engine sends an attached provider its address (a launched one gets it
    in argv and ignores it); the dynamic provider needs nothing from it."""
    from google.protobuf import empty_pb2  # type: ignore[import-untyped]

    class Servicer(dynamic.DynamicResourceProviderServicer):  # type: ignore[name-defined]
        def Attach(self, request: Any, context: Any) -> Any:
            return empty_pb2.Empty()

    return Servicer()
