"""The local load balancer's overhead: requests per second (and latency) through a service's HAProxy against the
same replica hit directly, with the same loopback client.

Run: .venv/bin/python bench/serve_proxy.py [--seconds S] [--clients N] [--replicas N] [--repeat N] [--stats]
Applies a service's stack (real engine, real HAProxy) in a private stix home, puts N replica HTTP servers behind
it (processes on loopback answering a small body on keep-alive connections), then for each round sends requests
for S seconds from N client processes: first to one replica directly, then through the proxy. Prints requests/s,
median and p99 latency, and the ratio. Destroys the stack and removes the home.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPLICA = r"""
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"ok " * 16

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms to each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # HAProxy's connect checks close at once

server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(endpoint: str, seconds: float, out: "multiprocessing.Queue[tuple[int, int, list[float]]]") -> None:
    host, port = endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    ok = failed = 0
    latencies = []
    deadline = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        if started >= deadline:
            break
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
        latencies.append(time.perf_counter() - started)
    conn.close()
    out.put((ok, failed, latencies[:: max(1, len(latencies) // 2000)]))


def load(endpoint: str, seconds: float, clients: int) -> tuple[float, int, float, float]:
    """(requests/s, failures, median latency ms, p99 latency ms)."""
    queue: "multiprocessing.Queue[tuple[int, int, list[float]]]" = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=client, args=(endpoint, seconds, queue)) for _ in range(clients)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = sorted(lat for r in results for lat in r[2])
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return ok / seconds, failed, statistics.median(latencies) * 1000 if latencies else 0.0, p99 * 1000


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"replica on port {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stats", action="store_true", help="print HAProxy's stats rows at the end")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-proxy-"))
    os.environ.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"))
    # Before gRPC loads (with the engine): its INFO line for each client process forked ("fork_posix.cc: Other
    # threads are currently calling into gRPC, skipping fork() handlers") would bury the figures.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

    from stix.home import StixHome
    from stix.serve.balancer import Backend, BalancerSpec
    from stix.serve.lb_stack import apply_balancer, destroy_balancer
    from stix.serve.haproxy import HaproxyBalancer
    from stix.session import Session

    session = Session(StixHome.from_env())
    replicas = []
    try:
        ports = [free_port() for _ in range(args.replicas)]
        for port in ports:
            replicas.append(subprocess.Popen([sys.executable, "-c", REPLICA, str(port)], start_new_session=True))
            wait_listening(port)
        started = time.perf_counter()
        info = apply_balancer(session, BalancerSpec("bench", "local", "local", ports[0]))
        print(f"service stack applied (HAProxy up) in {time.perf_counter() - started:.2f} s; endpoint {info.endpoint}")
        balancer = HaproxyBalancer(str(info.outputs["admin_socket"]))
        balancer.set_backends([Backend(f"replica-{i}", "127.0.0.1", port) for i, port in enumerate(ports, 1)])
        before = balancer.requests_total()
        print(f"{args.clients} client processes, {args.seconds:g} s per run, {args.replicas} replica(s), "
              f"{os.cpu_count()} CPUs")
        direct_rps, proxy_rps = [], []
        proxied = 0
        for round_ in range(1, args.repeat + 1):
            d = load(f"127.0.0.1:{ports[0]}", args.seconds, args.clients)
            p = load(info.endpoint, args.seconds, args.clients)
            proxied += int(p[0] * args.seconds) + p[1]
            direct_rps.append(d[0])
            proxy_rps.append(p[0])
            print(f"round {round_}: direct {d[0]:8.0f} req/s (p50 {d[2]:.2f} ms, p99 {d[3]:.2f} ms, {d[1]} failed)   "
                  f"proxy {p[0]:8.0f} req/s (p50 {p[2]:.2f} ms, p99 {p[3]:.2f} ms, {p[1]} failed)")
        direct, proxy = statistics.median(direct_rps), statistics.median(proxy_rps)
        print(f"median: direct {direct:.0f} req/s, through HAProxy {proxy:.0f} req/s: "
              f"proxy/direct = {proxy / direct:.2f} (overhead {100 * (1 - proxy / direct):.0f}%)")
        print(f"HAProxy counted {balancer.requests_total() - before} requests; the clients sent {proxied}")
        if args.stats:
            for row in balancer.runtime.stats():
                print({k: v for k, v in row.items() if v})
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait(timeout=10)
        destroy_balancer(session, "bench")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
