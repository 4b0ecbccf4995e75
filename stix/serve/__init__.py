"""stix serve: replicas of a task behind a load balancer, as SkyServe runs them (SDK: up, status, update, down,
tail_logs), with sky.serve's names and calling the same code as `stix serve`.

    import stix as sky
    name, endpoint = sky.get(sky.serve.up("svc.yaml", service_name="web"))
    sky.serve.status("web")[0].status          # 'READY' once a replica answers its readiness probe
    sky.serve.down("web")

up() returns a request id that sky.get() unwraps into (service_name, endpoint), as SkyPilot 0.14's does; the
others return their result itself (typed records from stix.serve.records), which sky.get() hands back as it
is. Calling up(), update() or down() is the consent `-y` gives on the command line. Submodules load lazily:
`import stix.serve` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Union

if TYPE_CHECKING:
    from stix.models.task import Task
    from stix.sdk_records import RequestId
    from stix.serve.records import ServiceStatus

__all__ = ["up", "status", "update", "down", "tail_logs"]


def _session():
    from stix.sdk import _session as sdk_session

    return sdk_session()


def _home():
    from stix.home import StixHome

    return StixHome.from_env()


def _overrides(envs: Optional[dict[str, str]], secrets: Optional[dict[str, str]]):
    from stix.loader import EnvOverrides

    return EnvOverrides(envs or {}, secrets or {})


def up(task: Union[Task, str], service_name: Optional[str] = None, envs: Optional[dict[str, str]] = None,
       secrets: Optional[dict[str, str]] = None) -> RequestId:
    """Start a service from a Task or task file (with a `service:` section); sky.get gives (service_name,
    endpoint) as a stix.serve.records.ServiceUp. The replicas come up in the background: status() shows them."""
    from stix.sdk_records import RequestId
    from stix.serve import client
    from stix.serve.records import ServiceUp

    task = _with(task, envs, secrets)
    record = client.up(_session(), task, service_name, yes=True, overrides=_overrides(envs, secrets))
    return RequestId(ServiceUp(record.name, record.endpoint))


def _with(task: Union[Task, str], envs: Optional[dict[str, str]], secrets: Optional[dict[str, str]]):
    from stix.models.task import Task

    if isinstance(task, Task) and (envs or secrets):
        from stix.sdk import _task

        return _task(task, envs, secrets)[0]
    return task


def update(task: Union[Task, str], service_name: str, mode: str = "rolling",
           envs: Optional[dict[str, str]] = None, secrets: Optional[dict[str, str]] = None) -> int:
    """Move the service to this task as its next version (mode: rolling or blue_green); returns the version."""
    from stix.serve import client

    mode = str(getattr(mode, "value", mode)).lower()
    return client.update(_session(), service_name, _with(task, envs, secrets), mode, yes=True,
                         overrides=_overrides(envs, secrets))


def status(service_names: Union[None, str, Sequence[str]] = None) -> list[ServiceStatus]:
    """Every service (or those named; unknown names are left out) as ServiceStatus records (fields, or
    record['status'] as SkyPilot's dicts read), each with its replicas."""
    from stix.serve import client

    services = client.status(_home())
    if service_names is None:
        return services
    wanted = {service_names} if isinstance(service_names, str) else set(service_names)
    return [s for s in services if s.name in wanted]


def down(service_names: Union[None, str, Sequence[str]] = None, all: bool = False,  # noqa: A002 - SkyPilot's name
         purge: bool = False, wait: bool = True) -> list[str]:
    """Take services down (their replicas, then their load balancer); waits until they are gone unless
    wait=False. Returns the names asked to go down; an unknown name raises UsageError and changes nothing."""
    from stix.errors import StixError
    from stix.serve import client

    names = [service_names] if isinstance(service_names, str) else list(service_names or [])
    result = client.down(_session(), names, all, yes=True, wait_s=client.DOWN_WAIT_S if wait else None)
    if wait and result.remaining:
        raise StixError(f"still tearing down after {client.DOWN_WAIT_S:g}s: {', '.join(result.remaining)}")
    return result.requested


def tail_logs(service_name: str, target: str = "replica", replica_id: Optional[int] = None, follow: bool = True,
              output_stream=None) -> int:
    """Print a replica's output (target='replica', replica_id), or target='load_balancer' / 'controller'; follow
    until the service is gone. Returns 0, or 102 when there is no such service or replica."""
    from stix.errors import UsageError
    from stix.serve import client
    from stix.session import print_line

    target = str(getattr(target, "value", target)).lower()
    write = print_line if output_stream is None else (lambda line: output_stream.write(line + "\n"))
    if target == "replica":
        if replica_id is None:
            raise UsageError("tail_logs(target='replica') needs replica_id")
        return client.tail_logs(_home(), service_name, replica_id, write, follow)
    if target not in (client.LOAD_BALANCER, client.CONTROLLER):
        raise UsageError(f"tail_logs(): target {target!r}: expected replica, load_balancer or controller")
    return client.tail_logs(_home(), service_name, target, write, follow)
