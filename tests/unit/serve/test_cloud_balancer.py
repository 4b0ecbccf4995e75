"""StackBalancer: a cloud's balancer driven by re-applying the service's stack with new targets. The stack's
program runs under Pulumi's mocks (the cloud components, no engine); the service store is the real one."""

from __future__ import annotations

import json

import pytest

from stix.errors import ProvisionError, UsageError
from stix.home import StixHome
from stix.loader import load_pipeline_text
from stix.serve.balancer import Backend, BalancerInfo, BalancerSpec
from stix.serve.cloud_balancer import (StackBalancer, check_spec, replica_labels, spec_from, spec_record,
                                       targets_of)
from stix.serve.spec import service_spec
from stix.serve.store import ServiceStore
from tests.components.mocks import StrictMocks
from tests.components.test_service_policies import run_stack

TASK = """
name: chat
resources:
  ports: 8080
service:
  readiness_probe: /health
  replicas: 2
run: python -m http.server 8080
"""
SPEC = BalancerSpec(service="chat", cloud="aws", region="us-east-1", replica_port=8080, health_path="/health",
                    labels=(("team", "ml"),))
ONE = Backend("replica-1", "10.20.1.5", 8080)
TWO = Backend("replica-2", "10.20.1.6", 8080)


class MockedStack:
    """Applies the service's stack program (the cloud's component) under Pulumi's mocks, keeping each run."""

    def __init__(self) -> None:
        self.runs: list[StrictMocks] = []

    def __call__(self, spec: BalancerSpec) -> BalancerInfo:
        mocks = StrictMocks()
        outputs = run_stack(spec, mocks)
        self.runs.append(mocks)
        return BalancerInfo(outputs["endpoint"], outputs)

    def attached(self) -> list[tuple[str, int]]:
        return sorted((a.inputs["targetId"], a.inputs["port"])
                      for a in self.runs[-1].of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment"))


@pytest.fixture
def store(tmp_path) -> ServiceStore:
    store = ServiceStore(StixHome(tmp_path / "home"))
    task = load_pipeline_text(TASK).tasks[0]
    store.add_service("chat", task, service_spec(task))
    info = MockedStack()(SPEC)  # what `serve up` records: the stack's outputs
    store.set_service("chat", endpoint=info.endpoint, balancer=info.outputs)
    return store


def balancer(store: ServiceStore, apply) -> StackBalancer:
    record = store.get("chat")
    assert record is not None
    return StackBalancer(store.home, record, apply=apply)


def test_set_backends_re_applies_the_stack_with_the_backends_as_targets(store):
    stack = MockedStack()
    driver = balancer(store, stack)
    driver.set_backends([ONE, TWO])
    assert stack.attached() == [("10.20.1.5", 8080), ("10.20.1.6", 8080)]
    assert driver.backends() == ["replica-1", "replica-2"]
    driver.set_backends([TWO])
    assert stack.attached() == [("10.20.1.6", 8080)]
    assert driver.backends() == ["replica-2"]
    assert len(stack.runs) == 2


def test_the_same_backends_again_apply_nothing(store):
    stack = MockedStack()
    driver = balancer(store, stack)
    driver.set_backends([ONE, TWO])
    driver.set_backends([TWO, ONE])
    assert len(stack.runs) == 1


def test_a_restarted_controller_adopts_what_was_applied(store):
    stack = MockedStack()
    balancer(store, stack).set_backends([ONE, TWO])
    adopted = balancer(store, stack)
    assert adopted.backends() == ["replica-1", "replica-2"]
    assert adopted.spec.targets == ("10.20.1.5:8080", "10.20.1.6:8080")
    adopted.set_backends([ONE, TWO])
    assert len(stack.runs) == 1
    record = store.get("chat")
    assert record is not None and record.balancer["endpoint"] == "service-lb-nlb.elb.example:80"


def test_balancer_from_gives_a_cloud_service_its_stack_driver(store):
    from stix.serve.lb_stack import balancer_from

    record = store.get("chat")
    driver = balancer_from(store.home, record)
    assert isinstance(driver, StackBalancer)
    assert driver.spec == SPEC and driver.backends() == []


def test_requests_total_is_zero_on_a_cloud(store):
    assert balancer(store, MockedStack()).requests_total() == 0


def test_a_record_without_the_spec_is_one_line_error(store):
    store.set_service("chat", balancer={"endpoint": "x:80"})
    with pytest.raises(ProvisionError, match=r"^service chat: its record holds no load balancer spec"):
        balancer(store, MockedStack())


def test_the_spec_survives_its_record_as_json():
    spec = BalancerSpec(**{**spec_record(SPEC), "labels": (("team", "ml"),), "targets": ("10.20.1.5:8080",)})
    assert spec_from(json.loads(json.dumps(spec_record(spec)))) == spec
    assert spec_from({**spec_record(spec), "from_a_newer_stix": 1}) == spec


def test_targets_are_host_port_sorted_and_unique():
    assert targets_of([TWO, ONE, TWO]) == ("10.20.1.5:8080", "10.20.1.6:8080")


def test_replicas_carry_the_service_label():
    assert replica_labels("chat") == {"stix-service": "chat"}


def test_check_spec_refuses_tls_on_a_cloud_and_a_cloud_without_a_service_balancer():
    with pytest.raises(UsageError, match=r"^not supported yet: service.tls on aws"):
        check_spec(BalancerSpec(**{**spec_record(SPEC), "labels": (), "tls_certfile": "c.pem",
                                   "tls_keyfile": "k.pem"}))
    check_spec(SPEC)
    with pytest.raises(UsageError, match=r"^not supported yet: stix serve on ssh"):
        check_spec(BalancerSpec(service="chat", cloud="ssh", region="pool", replica_port=8080))
