"""A tiny Ray program run on the head: wait until every node has joined, then run a task pinned to each node
and print where each one ran."""

import os
import socket
import time

import ray

EXPECTED = int(os.environ.get("SKYPILOT_NUM_NODES", "1"))


@ray.remote(num_cpus=0.1)
def where() -> str:
    return ray.get_runtime_context().get_node_id()


def main() -> None:
    ray.init(address="auto")
    deadline = time.monotonic() + 120
    while len(alive := [n for n in ray.nodes() if n["Alive"]]) < EXPECTED:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(alive)} of {EXPECTED} Ray nodes joined")
        time.sleep(0.5)
    print(f"ray nodes: {len(alive)}", flush=True)
    pinned = [where.options(scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
        node["NodeID"], soft=False)).remote() for node in alive]
    ran_on = ray.get(pinned, timeout=120)
    by_id = {node["NodeID"]: node["NodeManagerAddress"] for node in alive}
    print(f"tasks ran on: {' '.join(sorted(by_id[node_id] for node_id in ran_on))}", flush=True)
    print(f"driver on {socket.gethostname()}", flush=True)


if __name__ == "__main__":
    main()
