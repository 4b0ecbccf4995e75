"""Serve figures on the local cloud: the time from `stix serve up` to the first ready endpoint, and the time to
replace a killed replica (its node's sshd and everything on it killed), with a loopback client counting the
requests that failed meanwhile.

Run: .venv/bin/python bench/serve.py [--replicas 2] [--timeout 600]
Uses a temporary STIX_HOME; `stix serve down -a -y` tears everything down at the end.

Figures (seconds, from this machine's monotonic clock):
- up_command_s: `stix serve up -y` returning (checks, the balancer's stack previewed and applied);
- first_ready_endpoint_s: from the command's start until the endpoint answers 200 through the balancer;
- all_ready_s: until every replica is READY;
- kill_to_not_ready_s: a READY replica's node killed, until the controller takes it out (not READY any more);
- kill_to_replaced_s: until as many replicas are READY again, one of them new;
- client: requests sent through the endpoint from the kill to the replacement, and how many failed;
- down_s: `stix serve down -y` returning (every replica and the balancer gone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TASK = """name: bench-serve
workdir: {workdir}
service:
  readiness_probe:
    path: /health
    initial_delay_seconds: 180
    endpoint_probe_interval_seconds: 1
    consecutive_failure_threshold_timeout: 5
  replicas: {replicas}
  ports: 8080
resources:
  infra: local
  ports: 8080
envs:
  PORT: "8080"
run: |
  HOST=$(echo "$SKYPILOT_NODE_IPS" | sed -n "$((SKYPILOT_NODE_RANK + 1))p") exec python3 app.py
"""


def wait(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("timed out")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


class Client(threading.Thread):
    """Sends one request at a time through the endpoint until stopped; counts the failures."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.sent, self.failed = url, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sent += 1
            if not answers(self.url):
                self.failed += 1
            time.sleep(0.02)


def stix(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stix", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as root:
        os.environ.update({"STIX_HOME": str(Path(root) / "home"), "STIX_SERVE_IDLE_EXIT": "2"})
        task = Path(root) / "bench-serve.yaml"
        task.write_text(TASK.format(workdir=REPO / "examples" / "http-service", replicas=args.replicas))
        os.chdir(root)
        try:
            print(json.dumps(run(task, args.replicas, args.timeout), indent=1))
        finally:
            stix("serve", "down", "-a", "-y", timeout=args.timeout)


def run(task: Path, replicas: int, timeout: float) -> dict:
    from stix.components.local import sshd
    from stix.home import StixHome
    from stix.serve import store as st

    home = StixHome.from_env()
    store = st.ServiceStore(home)
    started = time.monotonic()
    up = stix("serve", "up", "-y", str(task), timeout=timeout)
    if up.returncode != 0:
        raise SystemExit(f"serve up failed: {up.stdout}{up.stderr}")
    up_s = time.monotonic() - started
    service = store.get("bench-serve")
    assert service is not None and service.endpoint
    url = f"http://{service.endpoint}/"
    wait(lambda: answers(url), timeout, interval=0.1)
    first_ready_s = time.monotonic() - started

    def ready() -> list[st.ReplicaRecord]:
        return [r for r in store.replicas("bench-serve") if r.status == st.READY]

    wait(lambda: len(ready()) >= replicas, timeout, interval=0.1)
    all_ready_s = time.monotonic() - started

    victim = ready()[0]
    client = Client(url)
    client.start()
    killed = time.monotonic()
    sshd.kill_all(sshd.processes_under(home.root / "clusters" / victim.cluster))
    wait(lambda: all(r.replica_id != victim.replica_id for r in ready()), timeout, interval=0.05)
    not_ready_s = time.monotonic() - killed
    wait(lambda: len(ready()) >= replicas and any(r.replica_id > victim.replica_id for r in ready()), timeout,
         interval=0.1)
    replaced_s = time.monotonic() - killed
    client.done.set()
    client.join()

    down_started = time.monotonic()
    down = stix("serve", "down", "-y", "bench-serve", timeout=timeout)
    down_s = time.monotonic() - down_started
    return {"replicas": replicas, "up_command_s": round(up_s, 1), "first_ready_endpoint_s": round(first_ready_s, 1),
            "all_ready_s": round(all_ready_s, 1), "kill_to_not_ready_s": round(not_ready_s, 1),
            "kill_to_replaced_s": round(replaced_s, 1),
            "client": {"sent": client.sent, "failed": client.failed},
            "down_s": round(down_s, 1), "down_ok": down.returncode == 0,
            "clusters_left": sorted(str(p) for p in home.root.glob("clusters/*/nodes/*"))}


if __name__ == "__main__":
    main()
