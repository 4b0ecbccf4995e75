"""stix's built-in policy pack served from this process, as stix.engine.providers serves the dynamic providers.

The engine otherwise starts the pack through the analyzer shim (stix.engine.workspace) for every engine call: a
`python -u pack` that imports pulumi, grpc and pulumi-policy before it prints its port (about half a second).
stix has all of that imported, so it serves the same pack (pulumi-policy's own analyzer servicer, the policies of
stix.policy.builtin, the pack's enforcement level) on a loopback port, and tells the shim: run in the built-in
pack's directory with SERVED_PORT_ENV set, the shim prints that port and waits for the engine to end it instead of
starting Python. The engine talks to the port exactly as it would to the pack's process (Handshake, ConfigureStack,
GetAnalyzerInfo, Configure with the pack's config file, then Analyze/AnalyzeStack).

A pack process serves one engine process, and pulumi-policy's servicer keeps that engine's config (Configure) and
stack tags (ConfigureStack) in itself; so each engine connection (the peer address of its gRPC client) gets a
servicer of its own here. Other packs (a project's policies/, policy.packs) keep their own process.
STIX_POLICY_PROCESS=1 (or STIX_PROVIDER_PROCESS=1, which turns off the provider server) turns this off.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Optional

SERVED_PORT_ENV = "STIX_SERVED_PACK_PORT"
SERVED_PACK_ENV = "STIX_SERVED_PACK"
"""The built-in pack's directory (resolved): the shim prints the port only when the engine runs it there."""
OFF_ENVS = ("STIX_POLICY_PROCESS", "STIX_PROVIDER_PROCESS")
WORKERS = 8
KEPT_CONNECTIONS = 64
"""Servicers kept for engine connections (an engine ends its analyzers without telling them): far more than engine
calls one process runs at once."""
METHODS = ("Handshake", "ConfigureStack", "GetAnalyzerInfo", "GetPluginInfo", "Configure", "Analyze",
           "AnalyzeStack", "Remediate", "Cancel")

_lock = threading.Lock()
_port: Optional[int] = None
_server: Any = None


def attach_env() -> dict[str, str]:
    """What the engine's environment needs for the shim to hand the built-in pack to this process's server (started
    on first use); empty when it is turned off. Never put into os.environ (see stix.engine.providers)."""
    if any(os.environ.get(name, "") not in ("", "0") for name in OFF_ENVS):
        return {}
    from stix.policy.builtin import PACK_DIR

    return {SERVED_PORT_ENV: str(_serve()), SERVED_PACK_ENV: str(PACK_DIR.resolve())}


def _serve() -> int:
    global _port, _server
    with _lock:
        if _port is None:
            from concurrent import futures

            import grpc
            from pulumi.runtime.proto import analyzer_pb2_grpc
            from pulumi_policy import policy as pulumi_policy

            from stix.policy.builtin import new_servicer

            server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="stix-policy"),
                                 options=pulumi_policy._GRPC_CHANNEL_OPTIONS)
            analyzer_pb2_grpc.add_AnalyzerServicer_to_server(PerConnection(new_servicer), server)
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            import atexit

            atexit.register(server.stop, 0)
            _server, _port = server, port
        return _port


class PerConnection:
    """An analyzer servicer that hands each call to the servicer of the engine connection it came on (made on its
    first call), as if each engine had started the pack's process of its own."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._servicers: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        for name in METHODS:
            setattr(self, name, self._forward(name))

    def servicer_for(self, peer: str) -> Any:
        with self._lock:
            servicer = self._servicers.get(peer)
            if servicer is None:
                servicer = self._servicers[peer] = self._make()
                while len(self._servicers) > KEPT_CONNECTIONS:
                    self._servicers.popitem(last=False)
            else:
                self._servicers.move_to_end(peer)
            return servicer

    def _forward(self, name: str) -> Callable[[Any, Any], Any]:
        def call(request: Any, context: Any) -> Any:
            return getattr(self.servicer_for(context.peer()), name)(request, context)

        call.__name__ = name
        return call
