"""stix's built-in policy pack served from this process, as stix.engine.providers serves the dynamic providers.

The engine otherwise starts the pack through the analyzer shim (stix.engine.workspace) for every engine call: a
`python -u pack` that imports pulumi, grpc and pulumi-policy before it prints its port (about half a second).
stix has all of that imported, so for each engine invocation that runs the pack it serves the same pack
(pulumi-policy's own analyzer servicer with stix.policy.builtin's policies and enforcement level) on a loopback
port, and tells the shim: run in the built-in pack's directory with SERVED_PORT_ENV set, the shim prints that port
and waits for the engine to end it instead of starting Python. The engine talks to the port exactly as it would to
the pack's process (Handshake, ConfigureStack, GetAnalyzerInfo, Configure with the pack's config, then
Analyze/AnalyzeStack).

One server and one servicer per invocation, stopped when it ends, as the pack's process would be: pulumi-policy's
servicer keeps the engine's config (Configure) and stack tags (ConfigureStack) in itself, so two engine calls at
once never share them, and an engine that reconnects (gRPC does after a long idle) finds its own config again.
Other packs (a project's policies/, policy.packs) keep their own process. STIX_POLICY_PROCESS=1 (or
STIX_PROVIDER_PROCESS=1, which turns off the provider server) turns this off.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Sequence

SERVED_PORT_ENV = "STIX_SERVED_PACK_PORT"
SERVED_PACK_ENV = "STIX_SERVED_PACK"
"""The built-in pack's directory (resolved): the shim prints the port only when the engine runs it there."""
OFF_ENVS = ("STIX_POLICY_PROCESS", "STIX_PROVIDER_PROCESS")
WORKERS = 4
"""As pulumi-policy's own server."""


def turned_off() -> bool:
    return any(os.environ.get(name, "") not in ("", "0") for name in OFF_ENVS)


@contextmanager
def serving(args: Sequence[str]) -> Iterator[dict[str, str]]:
    """For one engine invocation (its CLI args): when it runs the built-in pack, a server of the pack of its own,
    and what the engine's environment needs to use it; the server stops when the invocation ends. Empty for an
    invocation without the pack, or when this is turned off. Never put into os.environ: a child process's engine
    must not use this process's server."""
    from stix.policy.builtin import PACK_DIR

    if turned_off() or str(PACK_DIR) not in args:
        yield {}
        return
    from concurrent import futures

    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc
    from pulumi_policy import policy as pulumi_policy

    from stix.policy.builtin import new_servicer

    workers = futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="stix-policy")
    server = grpc.server(workers, options=pulumi_policy._GRPC_CHANNEL_OPTIONS)
    try:
        analyzer_pb2_grpc.add_AnalyzerServicer_to_server(new_servicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        yield {SERVED_PORT_ENV: str(port), SERVED_PACK_ENV: str(PACK_DIR.resolve())}
    finally:
        server.stop(None)
        workers.shutdown(wait=False)
