"""A service's stack: its load balancer, in a Pulumi project of its own (`stix-serve`), one stack per service,
so its names never meet a cluster's. `serve up` previews and applies it; the controller destroys it at `serve
down`; between the two, the controller drives the running balancer (balancer_from) and never the stack (except on
a cloud whose balancer's targets are a stack input: its driver applies the stack again)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from stix.engine.calls import engine_call, progress
from stix.engine.changes import ChangeSet
from stix.engine.events import listener
from stix.errors import ProvisionError
from stix.home import StixHome
from stix.serve.balancer import Balancer, BalancerInfo, BalancerSpec
from stix.session import Session

SERVE_PROJECT = "stix-serve"


def state_dir(home: StixHome, service: str) -> Path:
    """Where the local cloud's balancer keeps its config, port and socket."""
    return home.root / "serve" / "balancers" / service


def workspace_dir(home: StixHome, service: str) -> Path:
    return home.root / "serve" / "stacks" / service


def filled(home: StixHome, spec: BalancerSpec) -> BalancerSpec:
    """spec with the paths under stix's home that the caller left empty."""
    from stix.serve.store import ServiceStore

    return replace(spec, state_dir=spec.state_dir or str(state_dir(home, spec.service)),
                   log=spec.log or str(ServiceStore(home).balancer_log(spec.service)))


def _open(home: StixHome, service: str, spec: Optional[BalancerSpec], create: bool) -> Any:
    from stix.engine.program import balancer_program, empty_program
    from stix.engine.workspace import open_stack

    program = balancer_program(spec) if spec is not None else empty_program
    return engine_call(lambda: open_stack(home, service, program, create=create, project_name=SERVE_PROJECT,
                                          workspace=workspace_dir(home, service)),
                       f"opening service {service}'s stack", service)


def preview_balancer(session: Session, spec: BalancerSpec) -> ChangeSet:
    """What applying the service's stack would change (refreshed first, so a dead balancer shows as made again)."""
    stack = _open(session.home, spec.service, filled(session.home, spec), create=True)
    changes = ChangeSet()
    engine_call(lambda: stack.preview(on_event=listener(changes.add), refresh=True),
                f"previewing service {spec.service}'s load balancer", spec.service)
    return changes


def apply_balancer(session: Session, spec: BalancerSpec) -> BalancerInfo:
    """Make (or repair) the service's load balancer; its endpoint and what balancer_from needs."""
    stack = _open(session.home, spec.service, filled(session.home, spec), create=True)
    result = engine_call(lambda: stack.up(on_event=progress(session.events), refresh=True),
                         f"applying service {spec.service}'s load balancer", spec.service)
    outputs = {key: getattr(value, "value", value) for key, value in result.outputs.items()}
    return BalancerInfo(str(outputs["endpoint"]), outputs)


def destroy_balancer(session: Session, service: str) -> None:
    """Remove the service's load balancer and its stack; a service without one (never applied, or already
    destroyed) is fine."""
    import shutil

    from pulumi import automation as auto

    from stix.engine.program import empty_program
    from stix.engine.workspace import open_stack

    try:
        stack = open_stack(session.home, service, empty_program, create=False, project_name=SERVE_PROJECT,
                           workspace=workspace_dir(session.home, service))
    except auto.StackNotFoundError:
        stack = None
    except auto.CommandError:
        stack = _open(session.home, service, None, create=False)  # its one-line error
    if stack is not None:
        engine_call(lambda: stack.destroy(on_event=progress(session.events)),
                    f"destroying service {service}'s load balancer", service)
        engine_call(lambda: stack.workspace.remove_stack(service), f"removing service {service}'s stack", service)
    shutil.rmtree(workspace_dir(session.home, service), ignore_errors=True)
    shutil.rmtree(state_dir(session.home, service), ignore_errors=True)


def balancer_from(home: StixHome, record: Any) -> Balancer:
    """The running balancer of a service (a store ServiceRecord), from the outputs `serve up` recorded."""
    from stix.components.base import ServiceBalancers, cloud_for

    outputs = dict(record.balancer or {})
    if not outputs.get("cloud"):
        raise ProvisionError(f"service {record.name} has no load balancer recorded (its stack was never applied)")
    cloud = cloud_for(str(outputs["cloud"]))
    driver = cloud.balancer_driver(home, outputs) if issubclass(cloud, ServiceBalancers) else None
    if driver is None:
        raise ProvisionError(f"service {record.name}: {outputs['cloud']}'s load balancer cannot be driven from here")
    return driver
