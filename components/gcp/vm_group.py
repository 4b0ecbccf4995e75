"""GcpVmGroup: num_nodes Compute Engine instances; GPUs attached on N1, spot when asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_gcp as gcp

from stix.components.base import SSH_PORT, node_output
from stix.components.cloud_init import node_cloud_init
from stix.components.gcp import plan
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class GcpVmGroupArgs:
    spec: ClusterSpec
    subnet_id: Optional[pulumi.Input[str]]
    """None in the user's network (config gcp.vpc_name): an auto-mode network gives the region's subnet."""
    network_id: Optional[pulumi.Input[str]] = None


class GcpVmGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: GcpVmGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:gcp:VmGroup", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        accelerator = plan.guest_accelerator(spec)
        self.instances: list[gcp.compute.Instance] = []
        nodes = []
        for rank, node_name in enumerate(spec.node_names()):
            cloud_init = pulumi.Output.secret(node_cloud_init(spec, rank))
            instance = gcp.compute.Instance(
                f"{name}-node-{rank}",
                name=node_name,
                machine_type=spec.instance_type,
                zone=spec.zone,
                boot_disk=gcp.compute.InstanceBootDiskArgs(
                    auto_delete=True,
                    initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                        image=plan.image(spec), size=spec.disk_size_gb, type=plan.disk_type(spec),
                        labels=plan.labels(spec, "disk"))),
                network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(
                    subnetwork=args.subnet_id,
                    network=args.network_id if args.subnet_id is None else None,
                    access_configs=None if spec.use_internal_ips else [
                        gcp.compute.InstanceNetworkInterfaceAccessConfigArgs()])],
                guest_accelerators=[gcp.compute.InstanceGuestAcceleratorArgs(type=accelerator[0], count=accelerator[1])]
                if accelerator else None,
                scheduling=gcp.compute.InstanceSchedulingArgs(
                    provisioning_model="SPOT" if spec.use_spot else "STANDARD",
                    preemptible=spec.use_spot,
                    automatic_restart=not spec.use_spot,
                    on_host_maintenance="TERMINATE" if spec.accelerator or spec.use_spot else "MIGRATE",
                    instance_termination_action=plan.termination_action(spec) if spec.use_spot else None,
                ),
                metadata={"user-data": cloud_init, "block-project-ssh-keys": "TRUE", "enable-oslogin": "FALSE"},
                labels=plan.labels(spec, "node"),
                tags=[plan.network_tag(spec)],
                allow_stopping_for_update=True,
                desired_status="TERMINATED" if spec.stopped else "RUNNING",
                opts=child,
            )
            self.instances.append(instance)
            interface = instance.network_interfaces[0]
            address = interface.network_ip if spec.use_internal_ips else interface.access_configs[0].nat_ip
            nodes.append(node_output(node_name, rank, address, interface.network_ip,
                                     SSH_PORT, spec.ssh_user, spec.host_public_keys[rank], f"/home/{spec.ssh_user}"))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})
