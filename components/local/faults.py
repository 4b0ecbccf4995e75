"""Faults the local cloud can be told to have, for tests and benches: zones or regions that refuse
capacity (as a cloud out of stock does), and nodes taken away (as a spot reclaim does).

STIX_LOCAL_FAULTS names a JSON file, read on every node create, so a test can change it while stix
runs and a detached process (a managed-jobs controller) inherits it:

    {"refuse": ["local-a", "local-west"]}     zones or regions whose node creates fail for capacity
    {"room": {"local-b": 1}}                  a zone with room for so many nodes: ranks from there on are refused
                                              (a cluster half made, then refused)
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Optional

from stix.components.local import sshd
from stix.errors import CapacityError

FAULTS_ENV = "STIX_LOCAL_FAULTS"
CAPACITY_MARKER = "InsufficientCapacity"
"""What the local cloud's refusals start with (Local.capacity_errors matches it)."""


ROOM_REFUSAL_DELAY_S = 1.0
"""How long a create past a zone's room takes to be refused. A cloud says no after a while, when the creates it
granted have long begun; refused at once, it could beat the engine to starting them (the engine starts no step
after a failure), and the cluster meant to be half made would not be made at all."""


def refused(region: str, zone: str, rank: int = 0) -> Optional[str]:
    """The capacity error a create of this rank in region/zone gets now, or None."""
    refusal = _refusal(region, zone, rank)
    return refusal[0] if refusal else None


def _refusal(region: str, zone: str, rank: int) -> Optional[tuple[str, bool]]:
    """(the error, whether it is for want of room alone) or None."""
    path = os.environ.get(FAULTS_ENV, "").strip()
    if not path:
        return None
    try:
        faults = json.loads(Path(path).read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{FAULTS_ENV}={path}: not a readable JSON file of faults: {exc}") from None
    if not isinstance(faults, dict):
        raise ValueError(f"{FAULTS_ENV}={path}: expected a JSON object")
    refuse = faults.get("refuse") or []
    room = (faults.get("room") or {}).get(zone)
    outright = any(place and place in refuse for place in (zone, region))
    if outright or (room is not None and rank >= int(room)):
        return f"{CAPACITY_MARKER}: zone {zone or region} has no capacity ({FAULTS_ENV})", not outright
    return None


def check_capacity(region: str, zone: str, rank: int = 0) -> None:
    refusal = _refusal(region, zone, rank)
    if refusal:
        message, for_room = refusal
        if for_room:
            time.sleep(ROOM_REFUSAL_DELAY_S)
        raise CapacityError(message)


def preempt(node_dir: Path) -> int:
    """Take a node away as a spot reclaim would: SIGKILL its sshd and every process of its sessions,
    at once, leaving its directory (the node then reads back `stopped`). Returns how many were killed."""
    from stix.components.local import fuse

    fuse.unmount_all(Path(node_dir))  # a machine taken away takes its mounts with it
    pids = sshd.processes_under(Path(node_dir))
    sshd.kill_now(pids)
    return len(pids)


def preempt_cluster(home, cluster: str, ranks: Optional[list[int]] = None) -> int:
    """Preempt a local cluster's nodes (all, or those of these ranks; the head is rank 0) in a stix home."""
    # only node directories: the node agent's autodown leaves its stop stamp (autostopped_at) beside them
    nodes = sorted(node for node in home.cluster_dir(cluster).joinpath("nodes").glob("*") if node.is_dir())
    head = [node for node in nodes if node.name == f"{cluster}-head"]
    workers = sorted((node for node in nodes if re.fullmatch(re.escape(cluster) + r"-worker\d+", node.name)),
                     key=lambda node: int(node.name.rsplit("worker", 1)[-1]))
    ranked = head + workers
    chosen = ranked if ranks is None else [ranked[rank] for rank in ranks if rank < len(ranked)]
    return sum(preempt(node) for node in chosen)
