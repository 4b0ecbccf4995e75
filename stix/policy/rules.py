"""The built-in pack's checks, pure: plain records in, violation messages out (stix.policy.builtin adapts them to
pulumi-policy; tests call them directly).

Plan-wide checks read the `plan` stack output (stix.engine.program.deploy exports it): what the optimizer chose,
so a budget or a GPU limit is checked on the numbers the preview shows, by the engine, in every plan. Resource
checks read every resource of the plan as ResourceView records, in each cloud's own shapes (the ones
tests/components/test_policies.py asserts on the components).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

PLAN_OUTPUT = "plan"


@dataclass(frozen=True)
class PlanView:
    cluster: str
    cloud: str
    region: str
    zone: str = ""
    instance_type: str = ""
    accelerator: str = ""
    accelerators_per_node: float = 0.0
    num_nodes: int = 1
    spot: bool = False
    hourly_cost: float = 0.0
    ports: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def gpus(self) -> float:
        return self.accelerators_per_node * self.num_nodes

    @classmethod
    def from_output(cls, value: Mapping[str, Any]) -> "PlanView":
        return cls(
            cluster=str(value.get("cluster", "")), cloud=str(value.get("cloud", "")),
            region=str(value.get("region", "")), zone=str(value.get("zone", "")),
            instance_type=str(value.get("instance_type", "")), accelerator=str(value.get("accelerator", "")),
            accelerators_per_node=float(value.get("accelerators_per_node") or 0),
            num_nodes=int(value.get("num_nodes") or 1), spot=bool(value.get("spot")),
            hourly_cost=float(value.get("hourly_cost") or 0),
            ports=tuple((int(p[0]), int(p[1])) for p in value.get("ports") or ()),
        )


def plan_output(spec: Any) -> dict[str, Any]:
    """The `plan` stack output of a ClusterSpec (plain values only: the engine shows them to every pack)."""
    return {
        "cluster": spec.cluster, "cloud": spec.cloud, "region": spec.region, "zone": spec.zone,
        "instance_type": spec.instance_type, "accelerator": spec.accelerator,
        "accelerators_per_node": spec.accelerator_count, "num_nodes": spec.num_nodes, "spot": spec.use_spot,
        "hourly_cost": round(spec.hourly_cost, 6), "ports": [list(p) for p in spec.ports],
    }


def instance_family(instance_type: str) -> str:
    """g5.xlarge -> g5, a2-highgpu-1g -> a2, Standard_NC24ads_A100_v4 -> Standard_NC24ads; local -> local."""
    if "." in instance_type:
        return instance_type.split(".", 1)[0]
    if instance_type.startswith("Standard_"):
        return "_".join(instance_type.split("_")[:2])
    return instance_type.split("-", 1)[0]


def cloud_not_allowed(plan: PlanView, clouds: Optional[list[str]]) -> Optional[str]:
    if clouds is None or plan.cloud in clouds:
        return None
    return f"cluster {plan.cluster} is placed on {plan.cloud}; allowed clouds: {', '.join(clouds) or 'none'}"


def region_not_allowed(plan: PlanView, regions: Optional[list[str]]) -> Optional[str]:
    if regions is None or plan.region in regions:
        return None
    return f"cluster {plan.cluster} is placed in {plan.region}; allowed regions: {', '.join(regions) or 'none'}"


def family_not_allowed(plan: PlanView, families: Optional[list[str]]) -> Optional[str]:
    if families is None:
        return None
    family = instance_family(plan.instance_type)
    if any(family == allowed or (allowed.startswith("Standard_") and family.startswith(allowed))  # Azure: by prefix
           for allowed in families):
        return None
    return (f"cluster {plan.cluster} uses {plan.instance_type} (family {family}); allowed families: "
            f"{', '.join(families) or 'none'}")


def too_many_gpus(plan: PlanView, limit: Optional[float]) -> Optional[str]:
    if limit is None or plan.gpus <= limit:
        return None
    return (f"cluster {plan.cluster} has {_count(plan.gpus)} {plan.accelerator or 'accelerator'}(s) "
            f"({plan.num_nodes} node(s) x {_count(plan.accelerators_per_node)}); the limit is {_count(limit)}")


def over_cluster_budget(plan: PlanView, limit: Optional[float]) -> Optional[str]:
    if limit is None or plan.hourly_cost <= limit:
        return None
    return f"cluster {plan.cluster} costs ${plan.hourly_cost:,.2f}/hr; the budget per cluster is ${limit:,.2f}/hr"


def over_project_budget(plan: PlanView, limit: Optional[float], others: float) -> Optional[str]:
    if limit is None or plan.hourly_cost + others <= limit:
        return None
    return (f"the project's clusters would cost ${plan.hourly_cost + others:,.2f}/hr (this one "
            f"${plan.hourly_cost:,.2f}/hr, the others up ${others:,.2f}/hr); the budget per project is "
            f"${limit:,.2f}/hr")


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- resource checks ------------------------------------------------------------------------------
# Each reads plain records of the plan's resources (ResourceView) and returns (urn, message) pairs: the engine
# reports each against the offending resource.

WORLD = frozenset({"0.0.0.0/0", "::/0", "*", "Internet"})
"""Sources that mean anyone: IPv4 and IPv6 everywhere, Azure's '*' and 'Internet' service tag."""
CLUSTER_TAG = "stix-cluster"
COMPONENT_PREFIX = "stix:"
"""stix's own component resources: groupings with no cloud object (and no tags field) of their own."""
DYNAMIC_PREFIX = "pulumi-python:dynamic"
"""The local cloud's dynamic resources: they carry their cluster as a `cluster` input, not as tags."""
UNTAGGABLE = frozenset({
    "pulumi:providers:aws", "pulumi:providers:gcp", "pulumi:providers:azure-native", "pulumi:providers:kubernetes",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment", "aws:ec2transitgateway/instanceState:InstanceState",
    "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/firewall:Firewall",
    "gcp:compute/regionHealthCheck:RegionHealthCheck", "gcp:compute/instanceGroup:InstanceGroup",
    "gcp:compute/regionBackendService:RegionBackendService",
    "azure-native:network:Subnet", "azure-native:storage:BlobContainer",
    "pulumi-python:dynamic/local:Bucket",
})
"""Resources whose API has no tags/labels field at all (a local bucket is named by the bucket, not a cluster:
persistent ones outlive every cluster)."""
PRIVATE_KEY = "PRIVATE KEY"


class Unknown:
    """A value the engine does not know yet (a preview's computed output): no check concludes anything from it."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class ResourceView:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    parent: str = ""
    """The parent's URN ('' at the top)."""


@dataclass(frozen=True)
class OpenRule:
    """One inbound rule in one shape for every cloud: ports low-high reachable from sources."""

    urn: str
    low: int
    high: int
    sources: tuple[str, ...]


def _port_range(text: Any) -> tuple[int, int]:
    low, _, high = str(text).partition("-")
    if low.strip() in ("*", ""):
        return 0, 65535
    return int(low), int(high or low)


def open_rules(resources: list[ResourceView]) -> list[OpenRule]:
    """Every inbound rule of the plan: AWS security groups' ingress, GCP firewalls, Azure NSGs' rules, Kubernetes
    network policies' ipBlocks and LoadBalancer services (no loadBalancerSourceRanges: open to anyone)."""
    out: list[OpenRule] = []
    for r in resources:
        p = r.props
        if r.type == "aws:ec2/securityGroup:SecurityGroup":
            for rule in _list(p.get("ingress")):
                sources = tuple(_list(rule.get("cidrBlocks"))) + tuple(_list(rule.get("ipv6CidrBlocks")))
                out.append(OpenRule(r.urn, int(rule.get("fromPort") or 0), int(rule.get("toPort") or 0),
                                    sources or ("self",)))
        elif r.type == "aws:ec2/securityGroupRule:SecurityGroupRule" and p.get("type") == "ingress":
            sources = tuple(_list(p.get("cidrBlocks"))) + tuple(_list(p.get("ipv6CidrBlocks")))
            out.append(OpenRule(r.urn, int(p.get("fromPort") or 0), int(p.get("toPort") or 0), sources or ("self",)))
        elif r.type == "gcp:compute/firewall:Firewall" and str(p.get("direction") or "INGRESS") == "INGRESS":
            sources = tuple(_list(p.get("sourceRanges"))) or ("tagged nodes",)
            for allow in _list(p.get("allows")):
                for ports in _list(allow.get("ports")) or ["0-65535"]:
                    out.append(OpenRule(r.urn, *_port_range(ports), sources))
        elif r.type == "azure-native:network:NetworkSecurityGroup":
            for rule in _list(p.get("securityRules")):
                if rule.get("direction", "Inbound") != "Inbound" or rule.get("access", "Allow") != "Allow":
                    continue
                sources = tuple(_list(rule.get("sourceAddressPrefixes"))) or (str(rule.get("sourceAddressPrefix")),)
                ranges = _list(rule.get("destinationPortRanges")) or [rule.get("destinationPortRange", "*")]
                for ports in ranges:
                    out.append(OpenRule(r.urn, *_port_range(ports), sources))
        elif r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy":
            for rule in _list(_dict(p.get("spec")).get("ingress")):
                sources = tuple(str(_dict(peer.get("ipBlock")).get("cidr")) if "ipBlock" in peer else "self"
                                for peer in _list(rule.get("from"))) or ("0.0.0.0/0",)  # no `from`: anyone
                for port in _list(rule.get("ports")) or [{"port": 0, "endPort": 65535}]:
                    low = int(port.get("port") or 0)
                    out.append(OpenRule(r.urn, low, int(port.get("endPort") or low), sources))
        elif r.type == "kubernetes:core/v1:Service" and _dict(p.get("spec")).get("type") == "LoadBalancer":
            spec = _dict(p.get("spec"))
            sources = tuple(_list(spec.get("loadBalancerSourceRanges"))) or ("0.0.0.0/0",)
            for port in _list(spec.get("ports")):
                out.append(OpenRule(r.urn, int(port.get("port") or 0), int(port.get("port") or 0), sources))
    return out


def world_open_ports(resources: list[ResourceView], asked: tuple[tuple[int, int], ...]) -> list[tuple[str, str]]:
    """Rules reachable from anyone on ports the task did not ask for (resources.ports)."""
    found = []
    for rule in open_rules(resources):
        world = sorted(WORLD.intersection(rule.sources))
        if not world or any(low <= rule.low and rule.high <= high for low, high in asked):
            continue
        ports = str(rule.low) if rule.low == rule.high else f"{rule.low}-{rule.high}"
        found.append((rule.urn, f"port {ports} is open to {world[0]}; the task asked for "
                                f"{_ports_text(asked) or 'no ports'}"))
    return found


def _ports_text(asked: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in asked)


def label_form(value: str) -> str:
    """A cluster's name as a Kubernetes label value (what components.kubernetes writes for stix-cluster)."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:63].strip("-_.")


def untagged(resources: list[ResourceView], cluster: str) -> list[tuple[str, str]]:
    """Taggable resources that do not carry stix-cluster=<cluster> (tags, labels or metadata.labels); the local
    cloud's dynamic resources their `cluster` input."""
    found = []
    accepted = {cluster, label_form(cluster)}
    for r in resources:
        if r.type.startswith((COMPONENT_PREFIX, "pulumi:")) or r.type in UNTAGGABLE:  # pulumi: the stack, providers
            continue
        if r.type.startswith(DYNAMIC_PREFIX):
            value = r.props.get("cluster")
            if value is not UNKNOWN and value != cluster:
                found.append((r.urn, f"its `cluster` input is {value!r}, not {cluster!r}"))
            continue
        candidates = (r.props.get("tags"), r.props.get("labels"), _dict(r.props.get("metadata")).get("labels"))
        if any(c is UNKNOWN for c in candidates):
            continue
        tags = next((c for c in candidates if isinstance(c, Mapping)), None)
        value = tags.get(CLUSTER_TAG) if tags is not None else None
        if value is UNKNOWN or value in accepted:
            continue
        found.append((r.urn, f"it is not tagged {CLUSTER_TAG}={cluster}"
                             f"{f' (it has {CLUSTER_TAG}={value})' if value is not None else ''}"))
    return found


S3_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
S3_ENCRYPTION = frozenset({"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                           "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"})


def unencrypted_disks(resources: list[ResourceView]) -> list[tuple[str, str]]:
    """AWS disks and buckets stored without encryption: instances' root and EBS block devices, EBS volumes, launch
    templates' block devices (`encrypted: true`), and S3 buckets with no server-side encryption (their own
    serverSideEncryptionConfiguration, or an encryption-configuration resource beside them in the same component).

    Only AWS has something to check: GCP encrypts every persistent disk and bucket at rest with Google-managed
    keys, Azure every managed disk and storage account (storage service encryption), and neither API has a switch
    to turn that off; a Kubernetes pod's storage is the node's, which the cluster's operator configures, not stix.
    """
    found = []
    encrypted_parents = {r.parent for r in resources if r.type in S3_ENCRYPTION}
    for r in resources:
        p = r.props
        if r.type == "aws:ec2/instance:Instance":
            root = p.get("rootBlockDevice")  # none given: the AMI's root volume, unencrypted unless the AMI's is
            devices = [] if root is UNKNOWN else [("root volume", _dict(root))]
            devices += [(f"EBS volume {d.get('deviceName', i)}", _dict(d))
                        for i, d in enumerate(_list(p.get("ebsBlockDevices")))]
            found += [(r.urn, f"its {what} is not encrypted") for what, d in devices if not _encrypted(d)]
        elif r.type == "aws:ec2/volume:Volume" and not _encrypted(p):
            found.append((r.urn, "the EBS volume is not encrypted"))
        elif r.type == "aws:ec2/launchTemplate:LaunchTemplate":
            for mapping in _list(p.get("blockDeviceMappings")):
                ebs = mapping.get("ebs")
                if ebs is not None and not _encrypted(_dict(ebs)):
                    found.append((r.urn, f"its block device {mapping.get('deviceName', '')} is not encrypted"))
        elif r.type in S3_BUCKETS and not p.get("serverSideEncryptionConfiguration") and r.parent not in encrypted_parents:
            found.append((r.urn, "the S3 bucket has no server-side encryption"))
    return found


def _encrypted(device: Mapping[str, Any]) -> bool:
    value = device.get("encrypted")
    return value is True or value is UNKNOWN or str(value).lower() == "true"


SecretPath = tuple[Any, ...]


def plaintext_secrets(props: Any, secret_paths: frozenset[SecretPath] = frozenset(),
                      path: SecretPath = ()) -> list[str]:
    """Paths of inputs holding private-key text (plain or base64) that the program did not mark secret;
    secret_paths: the paths the engine marked (a value under one is a secret, whole)."""
    if path in secret_paths:
        return []
    if isinstance(props, Mapping):
        return [found for key, value in props.items()
                for found in plaintext_secrets(value, secret_paths, path + (key,))]
    if isinstance(props, (list, tuple)):
        return [found for i, value in enumerate(props) for found in plaintext_secrets(value, secret_paths, path + (i,))]
    if isinstance(props, str) and (PRIVATE_KEY in props or PRIVATE_KEY in _unbase64(props)):
        return [path_text(path)]
    return []


def path_text(path: SecretPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unbase64(text: str) -> str:
    import base64
    import binascii

    if len(text) < 16:
        return ""
    try:
        return base64.b64decode(text, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
