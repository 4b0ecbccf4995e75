"""A tiny JSON service: GET / answers which node served it; GET /health answers ok."""

import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"status": "ok"} if self.path == "/health" else {
            "message": os.environ.get("GREETING", "hello"), "node_rank": int(os.environ.get("SKYPILOT_NODE_RANK", "0")),
            "host": socket.gethostname()}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    # The node's own address (on the local cloud each node is a loopback IP of its own).
    host = os.environ.get("HOST") or "0.0.0.0"
    print(f"serving on {host}:{port}", flush=True)
    ThreadingHTTPServer((host, port), Handler).serve_forever()
