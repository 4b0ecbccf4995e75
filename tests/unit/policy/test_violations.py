"""Policy violations read from the engine's events (stix.policy.violations)."""

from __future__ import annotations

from types import SimpleNamespace

from stix.errors import PolicyViolations
from stix.policy.violations import Violation, mandatory, violation_of


def _event(**policy) -> SimpleNamespace:
    return SimpleNamespace(policy_event=SimpleNamespace(**policy))


def test_an_engine_policy_event_is_a_typed_violation_with_what_the_check_said():
    found = violation_of(_event(
        resource_urn="urn:pulumi:dev::stix::stix:aws:Network$aws:ec2/securityGroup:SecurityGroup::net-sg",
        policy_pack_name="stix-guardrails", policy_name="no-world-open-ports", enforcement_level="mandatory",
        message="Nothing open to the world.\nport 22 is open to 0.0.0.0/0\n"))
    assert found == Violation("stix-guardrails", "no-world-open-ports", "mandatory", "net-sg",
                              "aws:ec2/securityGroup:SecurityGroup", "port 22 is open to 0.0.0.0/0")
    assert found.mandatory
    assert found.line() == ("mandatory stix-guardrails/no-world-open-ports: aws:ec2/securityGroup:SecurityGroup "
                            "net-sg: port 22 is open to 0.0.0.0/0")


def test_dynamic_resources_show_as_stix_types_and_other_events_carry_none():
    found = violation_of(_event(resource_urn="urn:pulumi:dev::stix::stix:local:VmGroup$pulumi-python:dynamic/local:Node::vms-node-0",
                                policy_pack_name="p", policy_name="q", enforcement_level="advisory", message="d\nm"))
    assert found is not None and found.type == "stix:local:Node" and not found.mandatory
    assert violation_of(SimpleNamespace(policy_event=None)) is None
    assert violation_of(SimpleNamespace()) is None


def test_the_error_for_mandatory_violations_prints_one_line_each():
    advisory = Violation("p", "a", "advisory", "r", "t", "fine")
    blocking = Violation("p", "b", "mandatory", "r", "t", "two\nlines")
    assert mandatory([advisory, blocking]) == [blocking]
    error = PolicyViolations("1 mandatory policy violation", (blocking,))
    assert error.exit_code == 4
    assert error.detail_lines() == ("mandatory p/b: t r: two\\nlines",)
