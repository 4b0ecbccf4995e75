"""Policy packs on a plan the engine cannot preview (a cloud this machine has no credentials or provider for).

Two steps. record(): the cluster's component program runs in-process under Pulumi's mocks, and every resource it
declares is kept: type, name, URN, parent, inputs with their secret markers (stix.planned lists the same record as
a planned preview's creates).
violations(): an inline program registers each recorded resource again as a ComponentResource with the same type
token, name, parent and inputs (secrets wrapped as secrets again; register_outputs(inputs), so the stack policies
see them as outputs too) and exports the same `plan`; the real engine previews it with the packs, in a scratch
stack of a scratch Pulumi project in a throwaway stix home with its own backend (never a cluster's stack, never
stix's home or a team's backend; removed afterwards). The packs see the plan's resources as the engine would hand
them over, cloud objects only replaced by components, which no provider needs.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from stix.home import StixHome
from stix.policy.builtin import SECRET_SIG, SECRET_SIG_KEY
from stix.policy.packs import PolicyRun, pack_failure
from stix.policy.violations import Violation, mandatory, violation_of
from stix.spec import ClusterSpec

REPLAY_PROJECT = "stix-policy-replay"
LOOKED_UP = "(looked up at up)"
"""What a lookup (an invoke) finds under the mocks: the real one runs at up."""
KNOWN_AT_UP = "(known at up)"
UNKNOWNS = frozenset({"04da6b54-80e4-46f7-96ec-b56ff0331ba9"})
"""Pulumi's wire sentinel for a value the preview does not know (replayed as a placeholder the checks read as
text)."""
SKIPPED_PREFIXES = ("pulumi:providers:", "pulumi:pulumi:Stack")
"""Not replayed: providers (a component cannot take a provider's type token; their inputs are region and
credentials settings no built-in check reads) and the stack itself (the replay has its own)."""


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    urn: str
    parent: str
    """The parent's URN, '' for a top-level resource."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """As the program gave them; a secret is Pulumi's marker {sig: secret, value: ...}."""


def record(spec: ClusterSpec) -> list[Recorded]:
    """Every resource the cluster's program declares, in registration order (a parent before its children)."""
    import pulumi
    from pulumi.runtime import Mocks
    from pulumi.runtime.mocks import MockMonitor

    from stix.engine.program import deploy

    recorded: list[Recorded] = []

    class Recording(Mocks):
        def new_resource(self, args):
            return f"{args.name}-planned", dict(args.inputs)

        def call(self, args):
            return {"id": LOOKED_UP, "ids": [LOOKED_UP]}, []  # one found, for lookups of one or of a list

    class Monitor(MockMonitor):
        def RegisterResource(self, request):
            from pulumi.runtime import rpc

            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
                recorded.append(Recorded(request.type, request.name, response.urn, request.parent,
                                         {k: _plain(v) for k, v in inputs.items()}))
            return response

    mocks = Recording()
    # A preview, as stix.planned's: what a provider computes (a load balancer's address) stays unknown.
    pulumi.runtime.set_mocks(mocks, project="stix", stack=spec.cluster, preview=True, monitor=Monitor(mocks))

    @pulumi.runtime.test
    def run():
        deploy(spec)

    run()
    return recorded


def _plain(value: Any) -> Any:
    """Inputs as the engine's property values: JSON shapes (a resource reference as its URN's text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str) and value in UNKNOWNS:
        return KNOWN_AT_UP
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def replay_program(spec: ClusterSpec, resources: list[Recorded]) -> Callable[[], None]:
    """The inline program: the recorded resources as components, and the cluster's `plan` output."""

    def program() -> None:
        import pulumi

        from stix.policy.rules import PLAN_OUTPUT, plan_output

        class Replayed(pulumi.ComponentResource):
            def __init__(self, type_: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions):
                super().__init__(type_, name, props, opts)
                self.register_outputs(props)

        made: dict[str, pulumi.Resource] = {}
        for r in resources:
            if r.type.startswith(SKIPPED_PREFIXES):
                continue
            props = {key: _rewrapped(value) for key, value in r.inputs.items()}
            made[r.urn] = Replayed(r.type, r.name, props, pulumi.ResourceOptions(parent=made.get(r.parent)))
        pulumi.export(PLAN_OUTPUT, plan_output(spec))

    return program


def _rewrapped(value: Any) -> Any:
    """Secret markers back into secret Outputs (built as Output.secret builds them, without looking it up: a test
    may have replaced it to mutate the recorded program, never the replay)."""
    import pulumi
    from pulumi.output import _OutputData

    if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG:
        inner = pulumi.Output.from_input(_rewrapped(value.get("value")))

        async def run() -> Any:
            data = await inner._data
            return _OutputData(resources=data.resources, value=data.value, is_known=data.is_known, is_secret=True)

        return pulumi.Output._from_data(run())
    if isinstance(value, dict):
        return {k: _rewrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrapped(v) for v in value]
    return value


@dataclass(frozen=True)
class ScratchHome(StixHome):
    """A throwaway stix home for the replay: its own backend, passphrase and plugin cache, so a planned preview
    never writes to stix's home or to a team's backend (which a pull request's preview may not even reach)."""

    @property
    def backend_url(self) -> str:
        return f"file://{self.state_dir}"


@contextmanager
def _environment_kept() -> Iterator[None]:
    """open_stack points this process's PULUMI_* settings at the home it opens: put them back afterwards."""
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in [key for key in os.environ if key not in before]:
            del os.environ[key]
        os.environ.update(before)


def violations(spec: ClusterSpec, resources: list[Recorded], policies: PolicyRun,
               scratch_parent: Optional[Path] = None) -> list[Violation]:
    """The packs' violations on the recorded plan, from a real engine preview of its replay in a scratch home
    (a temporary directory under scratch_parent, removed afterwards)."""
    from stix.engine.calls import engine_call
    from stix.engine.workspace import open_stack
    from stix.errors import ProvisionError

    found: list[Violation] = []

    def on_event(event: Any) -> None:
        violation = violation_of(event)
        if violation is not None:
            found.append(violation)

    with tempfile.TemporaryDirectory(prefix="stix-policy-replay-", dir=scratch_parent) as scratch, \
            _environment_kept():
        home = ScratchHome(Path(scratch))
        stack = engine_call(lambda: open_stack(home, spec.cluster, replay_program(spec, resources), create=True,
                                               project_name=REPLAY_PROJECT, workspace=home.root / "workspace"),
                            "opening the policy replay's scratch stack")
        try:
            engine_call(lambda: stack.preview(on_event=on_event, **policies.engine_args()),
                        "checking the plan with the policy packs")
        except ProvisionError as exc:
            if not mandatory(found):  # a preview the packs refused is the result; anything else an error
                raise pack_failure(exc, policies) from None
    stack_name = f"{REPLAY_PROJECT}-{spec.cluster}"
    return [_as_cluster(v, stack_name, spec.cluster) for v in found]


def _as_cluster(violation: Violation, replay_stack: str, cluster: str) -> Violation:
    """A violation of the whole plan names the cluster's stack as a real preview would (stix-<cluster>)."""
    from dataclasses import replace

    from stix.project import PROJECT_NAME

    if violation.resource == replay_stack:
        return replace(violation, resource=f"{PROJECT_NAME}-{cluster}")
    return violation

