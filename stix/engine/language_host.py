"""The language host plain `pulumi` starts in a stix project (`runtime: stix`).

Pulumi starts `pulumi-language-<runtime>` with the engine's address as its last
argument and reads the port the host serves on from its stdout. This host runs
stix's project program (the stack's pinned config, planned as stix plans it)
in its own process, the way the Automation API serves inline programs, so
no Python language host needs to be installed beside the CLI.
"""

from __future__ import annotations

import sys
from concurrent import futures
from pathlib import Path
from typing import Optional

MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # as the Automation API's own server


def _servicer(engine_address: str):
    from pulumi.automation._server import LanguageServer  # the SDK's inline-program runner (pinned SDK)
    from pulumi.runtime.proto import language_pb2

    from stix.engine.program import project_program

    class StixLanguageHost(LanguageServer):
        def __init__(self) -> None:
            super().__init__(lambda: None)

        def Run(self, request, context):
            root = Path(request.info.root_directory or request.pwd or ".")
            self.program = project_program(root)
            forwarded = language_pb2.RunRequest()
            forwarded.CopyFrom(request)
            del forwarded.args[:]
            forwarded.args.append(engine_address)  # the inline runner reads the engine's address from args[0]
            return super().Run(forwarded, context)

    return StixLanguageHost()


def main(argv: Optional[list[str]] = None) -> None:
    import grpc

    from pulumi.runtime.proto import language_pb2_grpc

    args = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    engine_address = args[-1] if args else ""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(_servicer(engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:  # the engine interrupts its plugins when it is done with them
        server.stop(grace=None)


if __name__ == "__main__":
    main()
