"""The AWS service balancer under Pulumi's mocks: its port, health check, targets, tags and firewall."""

from __future__ import annotations

import dataclasses
import pulumi
import pytest

from stix.components.base import ServiceBalancers, cloud_for
from stix.errors import UsageError
from stix.serve.balancer import BalancerSpec
from tests.components.mocks import StrictMocks, run_program

TARGETS = ("10.20.1.5:8080", "10.20.1.6:8080")


def balancer_spec(**changes) -> BalancerSpec:
    fields = dict(service="chat", cloud="aws", region="us-east-1", replica_port=8080, health_path="/health",
                  labels=(("team", "ml"),))
    return BalancerSpec(**{**fields, **changes})


def deploy(spec: BalancerSpec, targets=TARGETS) -> tuple[StrictMocks, str]:
    mocks = StrictMocks()
    spec = dataclasses.replace(spec, targets=tuple(targets))
    # As the service's stack program (stix.engine.program.deploy_balancer) declares it.
    endpoint = run_program(
        lambda: cloud_for("aws").make_service_balancer(spec, pulumi.ResourceOptions()).endpoint, mocks)
    return mocks, endpoint


def test_aws_is_a_service_balancer_cloud():
    assert issubclass(cloud_for("aws"), ServiceBalancers)


def test_a_network_load_balancer_listens_on_the_service_port_only():
    mocks, endpoint = deploy(balancer_spec(listen_port=8000))
    nlb = mocks.one("aws:lb/loadBalancer:LoadBalancer")
    assert nlb.inputs["loadBalancerType"] == "network" and nlb.inputs["internal"] is False
    listener = mocks.one("aws:lb/listener:Listener")
    assert listener.inputs["port"] == 8000 and listener.inputs["protocol"] == "TCP"
    assert endpoint == "service-lb-nlb.elb.example:8000"
    assert mocks.one("pulumi:providers:aws").inputs["region"] == "us-east-1"


def test_the_port_defaults_to_80():
    mocks, endpoint = deploy(balancer_spec())
    assert mocks.one("aws:lb/listener:Listener").inputs["port"] == 80
    assert endpoint.endswith(":80")


def test_targets_are_ip_targets_health_checked_at_the_readiness_path():
    mocks, _ = deploy(balancer_spec())
    group = mocks.one("aws:lb/targetGroup:TargetGroup")
    assert group.inputs["targetType"] == "ip" and group.inputs["port"] == 8080
    check = group.inputs["healthCheck"]
    assert (check["protocol"], check["path"], check["port"]) == ("HTTP", "/health", "traffic-port")
    attached = mocks.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    assert sorted((a.inputs["targetId"], a.inputs["port"]) for a in attached) == [("10.20.1.5", 8080),
                                                                                   ("10.20.1.6", 8080)]
    assert {a.inputs["targetGroupArn"] for a in attached} == {"arn:service-lb-targets"}


def test_a_changed_target_set_keeps_the_names_of_the_targets_that_stay():
    """The controller re-applies the stack with new targets: a target that stays is the same resource."""
    before, _ = deploy(balancer_spec(), TARGETS)
    after, _ = deploy(balancer_spec(), (TARGETS[1], "10.20.1.7:8080"))
    names = lambda mocks: {a.name for a in mocks.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")}
    assert names(before) & names(after) == {"service-lb-target-10-20-1-6-8080"}
    assert len(names(after)) == 2


def test_no_targets_is_a_balancer_with_an_empty_group():
    mocks, _ = deploy(balancer_spec(), ())
    assert mocks.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment") == []
    assert mocks.one("aws:ec2/securityGroup:SecurityGroup").inputs.get("egress", []) == []


def test_every_taggable_resource_carries_the_service_name():
    mocks, _ = deploy(balancer_spec())
    untaggable = {"aws:ec2/routeTableAssociation:RouteTableAssociation",
                  "aws:lb/targetGroupAttachment:TargetGroupAttachment", "pulumi:providers:aws"}
    tagged = [r for r in mocks.resources if r.type not in untaggable and not r.type.startswith("stix:")]
    assert len(tagged) == 8
    for resource in tagged:
        assert resource.inputs["tags"]["stix-service"] == "chat", resource.name
        assert resource.inputs["tags"]["team"] == "ml", resource.name


def test_only_the_service_port_is_open_to_the_world_and_no_ssh():
    mocks, _ = deploy(balancer_spec(listen_port=8000))
    group = mocks.one("aws:ec2/securityGroup:SecurityGroup")
    assert [(r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in group.inputs["ingress"]] == [
        (8000, 8000, ["0.0.0.0/0"])]
    assert sorted((r["fromPort"], r["cidrBlocks"][0]) for r in group.inputs["egress"]) == [
        (8080, "10.20.1.5/32"), (8080, "10.20.1.6/32")]
    assert not any(r["fromPort"] <= 22 <= r["toPort"] for r in group.inputs["ingress"] + group.inputs["egress"])
    assert mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs["securityGroups"] == ["service-lb-sg-id"]


def test_tls_is_refused_in_one_line():
    spec = balancer_spec(tls_certfile="/tmp/cert.pem", tls_keyfile="/tmp/key.pem")
    with pytest.raises(UsageError) as refused:
        cloud_for("aws").check_service_balancer(spec)  # type: ignore[attr-defined]
    assert str(refused.value) == ("not supported yet: service.tls on aws (TLS is served on the local cloud; put a "
                                  "TLS-terminating proxy in front on clouds)")
    with pytest.raises(Exception, match="service.tls on aws"):
        deploy(spec)


def test_a_target_that_is_not_an_ip_address_is_refused():
    with pytest.raises(Exception, match="'replica-1.internal' on aws must be an IP address"):
        deploy(balancer_spec(), ("replica-1.internal:8080",))
    with pytest.raises(Exception, match="is not host:port"):
        deploy(balancer_spec(), ("10.20.1.5",))


def test_without_a_readiness_path_the_health_check_is_tcp():
    mocks, _ = deploy(balancer_spec(health_path=""))
    check = mocks.one("aws:lb/targetGroup:TargetGroup").inputs["healthCheck"]
    assert check["protocol"] == "TCP" and "path" not in check


def test_the_spec_applied_is_exported_beside_the_endpoint():
    spec = dataclasses.replace(balancer_spec(), targets=TARGETS)
    made = run_program(lambda: cloud_for("aws").make_service_balancer(spec, pulumi.ResourceOptions()).outputs,
                       StrictMocks())
    assert list(made["spec"]["targets"]) == list(TARGETS)
    assert made["spec"]["health_path"] == "/health" and made["spec"]["service"] == "chat"
