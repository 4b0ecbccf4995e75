"""Every real SkyPilot task file with a `service:` section in ../shared/compat, read as `stix serve up` reads it
(stix.serve.client.load_request), with the outcome each one must have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stix.errors import UsageError
from stix.loader import EnvOverrides
from stix.serve.client import load_request

COMPAT = Path(__file__).resolve().parents[4] / "shared" / "compat" / "skypilot-tasks"
HTTP = COMPAT / "examples__serve__http_server__task.yaml"
MULTI = COMPAT / "examples__serve__policy__multi_accelerators.yaml"
HEDGE = COMPAT / "examples__serve__policy__spot_hedge.yaml"
LLAMA = COMPAT / "llm__llama-3_1__llama-3_1.yaml"
DEEPSEEK = COMPAT / "llm__deepseek-r1__deepseek-r1-671B.yaml"


@pytest.fixture(autouse=True)
def skypilot_checkout(tmp_path, monkeypatch):
    """Their workdir (examples/serve/http_server) is relative to a SkyPilot checkout: run from a stand-in."""
    (tmp_path / "examples" / "serve" / "http_server").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)


def test_every_service_file_is_covered():
    with_service = {path for path in COMPAT.glob("*.yaml") if "\nservice:" in "\n" + path.read_text()}
    assert with_service == {HTTP, MULTI, HEDGE, LLAMA, DEEPSEEK}


def test_http_server_replicas_and_probe_as_written():
    request = load_request(HTTP)
    spec = request.spec
    assert (spec.policy.min_replicas, spec.policy.max_replicas, spec.policy.autoscales) == (2, 2, False)
    assert (spec.probe.path, spec.probe.initial_delay_s, spec.probe.post_data) == ("/health", 20.0, None)
    assert (spec.replica_port, spec.load_balancing_policy, spec.tls) == (8080, "round_robin", False)
    assert request.warnings == ()
    assert request.task.workdir == str(Path.cwd() / "examples" / "serve" / "http_server")


def test_multi_accelerators_keeps_one_on_demand_beside_spot():
    request = load_request(MULTI)
    policy = request.spec.policy
    assert (policy.min_replicas, policy.max_replicas, policy.base_ondemand_fallback_replicas) == (2, 2, 1)
    assert request.spec.use_spot and request.spec.replica_port == 8081 and request.warnings == ()


def test_spot_hedge_autoscales_with_overprovision_and_warns_for_the_spot_fields_it_ignores():
    request = load_request(HEDGE)
    policy = request.spec.policy
    assert (policy.min_replicas, policy.max_replicas, policy.target_qps_per_replica) == (1, 3, 1.0)
    assert (policy.init_replicas, policy.num_overprovision) == (2, 1)
    assert request.warnings == (
        f"{HEDGE}:11:18: service.replica_policy.spot_policy: ignored (SkyPilot's legacy SpotHedge policy; spot "
        f"replicas go where the optimizer places the task)",
        f"{HEDGE}:13:7: service.replica_policy.spot_zones: ignored (spot replicas go where the optimizer places "
        f"the task; pin zones in resources)")


def test_llama_probes_with_a_post_of_its_model():
    request = load_request(LLAMA, EnvOverrides(envs={"MODEL_NAME": "m/llama"}, secrets={"HF_TOKEN": "x"}))
    spec = request.spec
    assert spec.probe.path == "/v1/chat/completions" and spec.replica_port == 8081
    post = json.loads(spec.probe.post_data)
    assert (post["model"], post["max_tokens"]) == ("m/llama", 1)  # --env fills $MODEL_NAME, as SkyPilot does
    assert (spec.policy.min_replicas, spec.policy.max_replicas) == (2, 2)


def test_deepseek_is_refused_at_its_max_replicas_line_as_skypilot_refuses_it():
    """SkyPilot's SkyServiceSpec: 'Detected different min_replicas and max_replicas while target_qps_per_replica
    is not set.'"""
    with pytest.raises(UsageError) as caught:
        load_request(DEEPSEEK)
    message = str(caught.value)
    assert message.startswith(f"{DEEPSEEK}:52:19: service.replica_policy: max_replicas (2) differs from "
                               f"min_replicas (0) but target_qps_per_replica is not set")
    assert "\n" not in message
