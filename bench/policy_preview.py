"""The policy packs' cost on a preview: the engine's preview of a 4-node local cluster with the packs and without.

Run: .venv/bin/python bench/policy_preview.py [--rounds N] [--nodes N] [--new]
Brings the cluster up in a private stix home (real engine, real sshd nodes; --new: previews a cluster that does
not exist yet instead), then previews its one stack both ways in alternation, round after round (the built-in
pack with every limit set, so each of its policies runs), prints each median and their ratio, and destroys the
cluster and the home. The figures are the engine preview alone (preview_stack, refresh included), not a whole
`stix preview` process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TASK = """name: bench
num_nodes: {nodes}
resources:
  infra: local
run: "true"
"""

LIMITS = """policy:
  allowed_regions: [local]
  allowed_instance_families: [local]
  max_gpus_per_cluster: 8
  max_hourly_cost_per_cluster: 100
  max_hourly_cost_per_project: 1000
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--new", action="store_true", help="preview a cluster that is not up (no refresh of nodes)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="stix-bench-policy-"))
    for name in [n for n in os.environ if n.startswith(("PULUMI_", "STIX_"))]:
        os.environ.pop(name)
    os.environ.update(STIX_HOME=str(scratch / "home"), STIX_SSH_CONFIG=str(scratch / "ssh" / "config"))
    (scratch / "home").mkdir()
    (scratch / "home" / "config.yaml").write_text(LIMITS)
    task_file = scratch / "bench.yaml"
    task_file.write_text(TASK.format(nodes=args.nodes))

    from stix import flows
    from stix.home import StixHome
    from stix.loader import load_task
    from stix.stages import LaunchRequest, launch_plan, policies_for, preview_stack, stack_at, target_of

    session = flows.Session(StixHome.from_env())
    request = LaunchRequest(load_task(task_file), "bench", task_file, yes=True)
    stack = None
    try:
        if not args.new:
            started = time.perf_counter()
            flows.up(session, request)
            print(f"stix up ({args.nodes} local nodes): {time.perf_counter() - started:.2f} s")
        target = target_of(request)
        placement, pin = launch_plan(session, target)
        stack, _, _ = stack_at(session, target, placement.chosen, pin)
        packs = policies_for(session, target)
        samples: dict[str, list[float]] = {"without packs": [], "with packs": []}
        for _ in range(args.rounds):
            for label, policies in (("without packs", None), ("with packs", packs)):
                started = time.perf_counter()
                changes = preview_stack(session, stack, "bench", policies)
                samples[label].append(time.perf_counter() - started)
                if changes.violations:
                    raise SystemExit(f"unexpected violations: {[v.line() for v in changes.violations]}")
        for label, values in samples.items():
            print(f"engine preview, {args.nodes} nodes, {label:13}  median {statistics.median(values):5.2f} s  "
                  f"min {min(values):5.2f} s  max {max(values):5.2f} s  (n={len(values)})")
        without, with_ = (statistics.median(samples[k]) for k in ("without packs", "with packs"))
        print(f"with/without: {with_ / without:.2f}x (+{with_ - without:.2f} s per preview, "
              f"{len(packs.packs)} pack(s))")
    finally:
        if not args.new and session.index.get("bench") is not None:
            flows.destroy(session, "bench", yes=True)
        elif stack is not None:
            stack.workspace.remove_stack("bench")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
