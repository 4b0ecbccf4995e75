"""GcpNetwork: a VPC network and one subnet in the placed region (or the user's network, config gcp.vpc_name),
and the cluster's firewall rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from stix.components.firewall import ingress_rules
from stix.components.gcp import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class GcpNetworkArgs:
    spec: ClusterSpec


class GcpNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:gcp:Network", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        tag = plan.network_tag(spec)
        self.network_id: pulumi.Output[str]
        self.subnet_id: Optional[pulumi.Output[str]]
        if spec.vpc_name:  # the user's network, looked up (never changed but for the cluster's own firewall rules)
            project, _, network = spec.vpc_name.rpartition("/")
            found = gcp.compute.get_network_output(name=network, project=project or None,
                                                   opts=pulumi.InvokeOptions(parent=self))
            self.network_id, self.subnet_id = found.self_link, None
        else:
            own = gcp.compute.Network(f"{name}-vpc", auto_create_subnetworks=False,
                                      description=f"stix cluster {spec.cluster}", opts=child)
            subnet = gcp.compute.Subnetwork(f"{name}-subnet", network=own.id, region=spec.region,
                                            ip_cidr_range=plan.SUBNET_CIDR, opts=child)
            self.network_id, self.subnet_id = own.id, subnet.id
        for rule in ingress_rules(spec):
            ports = str(rule.from_port) if rule.from_port == rule.to_port else f"{rule.from_port}-{rule.to_port}"
            gcp.compute.Firewall(f"{name}-{rule.name}", network=self.network_id, direction="INGRESS",
                                 allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[ports])],
                                 source_ranges=list(rule.cidrs), target_tags=[tag], description=rule.description,
                                 opts=child)
        gcp.compute.Firewall(f"{name}-internal", network=self.network_id, direction="INGRESS",
                             allows=[gcp.compute.FirewallAllowArgs(protocol="all")],
                             source_tags=[tag], target_tags=[tag], description="between the cluster's nodes",
                             opts=child)
        self.register_outputs({"network": self.network_id})
