"""Strict Pulumi mocks: every resource is recorded; a provider call nobody expected fails the test.

Programs run in Pulumi's own mock runtime (pulumi.runtime.set_mocks), which is
the engine's contract for providers, not a fake of stix's making.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import Mocks

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: Optional[str]

    def secret_keys(self) -> set[str]:
        return {key for key, value in self.inputs.items() if is_secret(value)}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The plain value under a secret marker (for asserting on content)."""
    return value["value"] if is_secret(value) else value


def _outputs(args) -> dict[str, Any]:
    n = sum(ord(c) for c in args.name) % 200 + 10
    by_type = {
        "aws:ec2/instance:Instance": {"publicIp": f"203.0.113.{n}", "privateIp": f"10.20.1.{n}", "arn": f"arn:{args.name}"},
        "aws:lb/loadBalancer:LoadBalancer": {"dnsName": f"{args.name}.elb.example", "arn": f"arn:{args.name}"},
        "aws:lb/targetGroup:TargetGroup": {"arn": f"arn:{args.name}"},
        "gcp:compute/instance:Instance": {
            "selfLink": f"https://compute.example/{args.name}",
            "networkInterfaces": [{"networkIp": f"10.30.1.{n}", "accessConfigs": [{"natIp": f"198.51.100.{n}"}]}],
        },
        "gcp:compute/forwardingRule:ForwardingRule": {"ipAddress": f"198.51.100.{n + 1}"},
        "azure-native:network:PublicIPAddress": {"ipAddress": f"192.0.2.{n}"},
        "azure-native:network:NetworkInterface": {"ipConfigurations": [{"privateIPAddress": f"10.40.1.{n}"}]},
        "azure-native:storage:StorageAccount": {"primaryEndpoints": {"blob": f"https://{args.name}.blob.example/"}},
        "kubernetes:core/v1:Service": {"status": {"loadBalancer": {"ingress": [{"ip": f"192.0.2.{n}"}]}},
                                       "spec": {**(args.inputs.get("spec") or {}), "clusterIP": f"10.96.0.{n}"}},
    }
    return by_type.get(args.typ, {})


@dataclass
class StrictMocks(Mocks):
    calls: dict[str, Callable[[dict], dict]] = field(default_factory=dict)
    resources: list[Recorded] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def new_resource(self, args):
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args.provider))
        # Like the real providers, every resource reports a name: the physical one given, else the logical one.
        given = next((v for k, v in args.inputs.items() if k.endswith("Name") and k[:-4] in args.typ.lower()
                      and isinstance(v, str)), None)
        return f"{args.name}-id", {"name": given or args.name, **args.inputs, **_outputs(args)}

    def call(self, args):
        handler = self.calls.get(args.token)
        if handler is None:
            self.unexpected.append(args.token)
            raise Exception(f"unexpected provider call {args.token}")
        return handler(args.args), []

    def of_type(self, type_token: str) -> list[Recorded]:
        """Resources of one type, by logical name: registration order is not deterministic."""
        return sorted((r for r in self.resources if r.type == type_token), key=lambda r: r.name)

    def one(self, type_token: str) -> Recorded:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, got {[r.name for r in found]}"
        return found[0]


def run_program(program: Callable[[], Any], mocks: StrictMocks) -> Any:
    """Run a Pulumi program under the mocks; return what it returned, every output resolved."""
    pulumi.runtime.set_mocks(mocks, project="stix", stack="test", preview=False)
    result: dict[str, Any] = {}

    @pulumi.runtime.test
    def run():
        return pulumi.Output.from_input(program()).apply(lambda value: result.setdefault("value", value))

    run()
    assert not mocks.unexpected, f"unexpected provider calls: {mocks.unexpected}"
    return result.get("value")
