"""A preview without the engine, for a placement on a cloud this machine has no credentials for.

The engine's preview needs the cloud's provider plugin and credentials; a pull-request preview has
neither. This runs the cluster's component program in-process under Pulumi's mock runtime
(pulumi.runtime.set_mocks, the runtime's own contract for providers): every resource the program
declares is recorded as a planned create. Nothing is read from or written to the cloud or stix's
state; the keys, host keys and SSH source address the real `up` makes are placeholders here. The policy packs
check the same program, replayed through the real engine in a scratch stack (stix.policy.replay).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

from stix.compile import ClusterInputs, check_runnable, compile_spec
from stix.engine.changes import ChangeSet, ResourceChange
from stix.events import PreviewReady
from stix.optimizer import Candidate
from stix.policy.replay import Recorded, record
from stix.report import PreviewReport
from stix.session import Session
from stix.spec import ClusterSpec
from stix.storage.plan import plan_mounts

PLACEHOLDER_KEY = "ssh-ed25519 AAAA-made-at-up stix"
PLACEHOLDER_CIDR = "203.0.113.0/32"
"""Documentation address (RFC 5737) standing in for this machine's address, which `up` looks up."""


def label_for(cloud: str) -> str:
    return f"planned (no engine preview: no credentials for {cloud})"


def planned_preview(session: Session, target: Any, order: list[Candidate]) -> PreviewReport:
    """The report `stix preview` gives, from the component program run under mocks (target: stages.Target)."""
    candidate = order[0]
    task = target.task
    check_runnable(task, candidate.cloud)
    mounts = plan_mounts(task, candidate.cloud)
    with tempfile.TemporaryDirectory(prefix="stix-planned-") as scratch:
        inputs = _placeholder_inputs(Path(scratch), candidate, task.num_nodes)
        spec = compile_spec(task, target.cluster, candidate, inputs, mounts, target.config)
        recorded = record(spec)  # the program runs under mocks once: its resources are the plan and what the packs see
        changes = planned_changes(spec, recorded)
        changes.violations.extend(_policy_violations(session, target, spec, recorded))
    label = label_for(candidate.cloud)
    session.note(label.capitalize(), "warning")
    session.events(PreviewReady(target.cluster, changes))
    return PreviewReport(target.cluster, changes, None, spec.hourly_cost, failover=order[1:], planned=label,
                         admin_changes=list(target.admin_changes))


def _policy_violations(session: Session, target: Any, spec: ClusterSpec, recorded: list[Recorded]) -> list:
    """The policy packs on the planned resources: the program replayed through the real engine
    (stix.policy.replay), which needs neither the cloud's provider nor its credentials."""
    from stix.policy.replay import violations
    from stix.stages import policies_for

    return violations(spec, recorded, policies_for(session, target))


def _placeholder_inputs(scratch: Path, candidate: Candidate, num_nodes: int) -> ClusterInputs:
    from stix.components.base import cloud_for

    cloud = cloud_for(candidate.cloud)
    host_keys: tuple[str, ...] = ()
    if cloud.preset_host_keys:
        host_keys = tuple(PLACEHOLDER_KEY for _ in range(num_nodes))
        for rank in range(num_nodes):  # what cloud-init would install: a placeholder, never a real key
            (scratch / f"host-{rank}").write_text("(the node's host key, made at up)\n")
    return ClusterInputs(ssh_public_key=PLACEHOLDER_KEY, node_root=str(scratch / "nodes"), host_public_keys=host_keys,
                         host_key_dir=str(scratch) if host_keys else "",
                         ssh_cidrs=(PLACEHOLDER_CIDR,) if cloud.ssh_rule else ())


def planned_changes(spec: ClusterSpec, recorded: Optional[list[Recorded]] = None) -> ChangeSet:
    """Every resource the cluster's program declares (components and providers included, as an engine preview
    lists them), as planned creates; recorded: what stix.policy.replay.record(spec) already gave."""
    changes = ChangeSet()
    for typ, name in dict.fromkeys((r.type, r.name) for r in (record(spec) if recorded is None else recorded)):
        changes.changes.append(ResourceChange("create", typ, name))
    return changes
