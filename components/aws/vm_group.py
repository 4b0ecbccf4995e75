"""AwsVmGroup: num_nodes EC2 instances of the placed type, spot when asked, keyed by cloud-init."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from stix.components.aws import plan
from stix.components.base import SSH_PORT, node_output
from stix.components.cloud_init import node_cloud_init
from stix.spec import ClusterSpec


@dataclass(frozen=True)
class AwsVmGroupArgs:
    spec: ClusterSpec
    subnet_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]


class AwsVmGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: AwsVmGroupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("stix:aws:VmGroup", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        image = spec.image_id or self._default_image(spec)
        disk = plan.disk(spec)
        market = plan.market(spec)
        self.instances: list[aws.ec2.Instance] = []
        nodes = []
        for rank, node_name in enumerate(spec.node_names()):
            user_data = pulumi.Output.secret(node_cloud_init(spec, rank))
            instance = aws.ec2.Instance(
                f"{name}-node-{rank}",
                ami=image,
                instance_type=spec.instance_type,
                subnet_id=args.subnet_id,
                vpc_security_group_ids=[args.security_group_id],
                associate_public_ip_address=False if spec.use_internal_ips else None,
                user_data=user_data,
                user_data_replace_on_change=False,
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    volume_size=spec.disk_size_gb, volume_type=disk.volume_type, iops=disk.iops,
                    throughput=disk.throughput, delete_on_termination=True, encrypted=True,
                    tags=plan.tags(spec, "disk", f"{node_name}-disk")),
                instance_market_options=aws.ec2.InstanceInstanceMarketOptionsArgs(
                    market_type="spot",
                    spot_options=aws.ec2.InstanceInstanceMarketOptionsSpotOptionsArgs(
                        spot_instance_type=market.spot_instance_type,
                        instance_interruption_behavior=market.interruption_behavior),
                ) if spec.use_spot else None,
                instance_initiated_shutdown_behavior=market.shutdown_behavior,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                tags=plan.tags(spec, "node", node_name),
                volume_tags=None,
                opts=child,
            )
            aws.ec2transitgateway.InstanceState(f"{name}-power-{rank}", instance_id=instance.id,
                                  state="stopped" if spec.stopped else "running", opts=child)
            self.instances.append(instance)
            address = instance.private_ip if spec.use_internal_ips else instance.public_ip
            nodes.append(node_output(node_name, rank, address, instance.private_ip, SSH_PORT,
                                     spec.ssh_user, spec.host_public_keys[rank], f"/home/{spec.ssh_user}"))
        self.nodes = pulumi.Output.all(*nodes)
        self.register_outputs({"nodes": self.nodes})

    def _default_image(self, spec: ClusterSpec) -> pulumi.Output[str]:
        query = plan.ami_query(spec)
        found = aws.ec2.get_ami_output(
            most_recent=True, owners=[query.owner],
            filters=[aws.ec2.GetAmiFilterArgs(name="name", values=[query.name]),
                     aws.ec2.GetAmiFilterArgs(name="architecture", values=[query.architecture])],
            opts=pulumi.InvokeOptions(parent=self))
        return found.id
