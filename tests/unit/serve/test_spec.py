import pytest

from stix.errors import UsageError
from stix.loader import load_pipeline_text
from stix.serve.spec import (DEFAULT_DOWNSCALE_DELAY_S, DEFAULT_INITIAL_DELAY_S, DEFAULT_UPSCALE_DELAY_S, ServiceSpec,
                             service_spec)


def task(text: str):
    return load_pipeline_text(text + "run: python3 app.py\n").tasks[0]


def test_a_path_probe_gets_skyserves_defaults_and_one_replica():
    spec = service_spec(task("resources: {ports: 8080}\nservice: {readiness_probe: /health}\n"))
    assert spec.probe.path == "/health" and spec.probe.post_data is None
    assert spec.probe.initial_delay_s == DEFAULT_INITIAL_DELAY_S
    assert (spec.policy.min_replicas, spec.policy.max_replicas, spec.policy.autoscales) == (1, 1, False)
    assert spec.replica_port == 8080 and spec.load_balancing_policy == "round_robin" and not spec.tls


def test_a_full_service_is_read_field_by_field_and_survives_json():
    spec = service_spec(task(
        "resources: {ports: 9000, use_spot: true}\n"
        "service:\n  readiness_probe: {path: /v1/models, post_data: {model: m}, initial_delay_seconds: 30,\n"
        "    timeout_seconds: 2, headers: {Authorization: Bearer x}}\n"
        "  replica_policy: {min_replicas: 1, max_replicas: 4, target_qps_per_replica: 2.5, upscale_delay_seconds: 5,\n"
        "    base_ondemand_fallback_replicas: 1, dynamic_ondemand_fallback: true}\n"
        "  load_balancing_policy: least_load\n  ports: 8000\n"
        "  tls: {keyfile: k.pem, certfile: c.pem}\n"))
    assert spec.probe.post_data == '{"model": "m"}' and spec.probe.headers == (("Authorization", "Bearer x"),)
    assert (spec.probe.initial_delay_s, spec.probe.timeout_s) == (30.0, 2.0)
    policy = spec.policy
    assert (policy.min_replicas, policy.max_replicas, policy.target_qps_per_replica) == (1, 4, 2.5)
    assert (policy.upscale_delay_s, policy.downscale_delay_s) == (5.0, DEFAULT_DOWNSCALE_DELAY_S)
    assert policy.autoscales and policy.base_ondemand_fallback_replicas == 1 and policy.dynamic_ondemand_fallback
    assert spec.replica_port == 8000 and spec.load_balancing_policy == "least_load" and spec.tls and spec.use_spot
    assert ServiceSpec.from_json(spec.to_json()) == spec
    assert DEFAULT_UPSCALE_DELAY_S == 300.0


def test_fixed_replicas():
    spec = service_spec(task("resources: {ports: 8080}\nservice: {readiness_probe: /, replicas: 3}\n"))
    assert (spec.policy.min_replicas, spec.policy.max_replicas) == (3, 3)


@pytest.mark.parametrize("text, message", [
    ("resources: {ports: 8080}\n", "has no service"),
    ("service: {readiness_probe: /}\n", "service.ports"),
    ("resources: {ports: [8080, 8081]}\nservice: {readiness_probe: /}\n", "service.ports"),
    ("resources: {ports: 8080}\nservice: {readiness_probe: /, replica_policy: {min_replicas: 1, max_replicas: 2}}\n",
     "target_qps_per_replica is not set"),
    ("resources: {ports: 8080}\nservice:\n  readiness_probe: /\n  replica_policy: {min_replicas: 1, max_replicas: 2,"
     " target_qps_per_replica: {H100: 2.0}}\n", "per accelerator"),
    ("resources: {ports: 8080}\nservice: {pool: {workers: 2}}\n", "service.pool"),
])
def test_what_cannot_be_served_is_one_line(text, message):
    with pytest.raises(UsageError) as caught:
        service_spec(task(text), where="svc.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("svc.yaml: ") and "\n" not in str(caught.value)


def test_errors_found_after_loading_name_the_line_of_the_field(tmp_path):
    from stix.serve.client import load_request

    path = tmp_path / "svc.yaml"
    path.write_text("resources: {ports: 8080}\nservice:\n  readiness_probe: /\n  replica_policy:\n"
                    "    min_replicas: 1\n    max_replicas: 3\nrun: python3 app.py\n")
    with pytest.raises(UsageError) as caught:
        load_request(path)
    assert str(caught.value).startswith(f"{path}:6:19: service.replica_policy: max_replicas (3) differs")


def test_overprovision_and_init_replicas_reach_the_policy_and_spot_fields_warn_with_their_line(tmp_path):
    from stix.serve.client import load_request

    path = tmp_path / "svc.yaml"
    path.write_text("resources: {ports: 8080}\nservice:\n  readiness_probe: /\n  replica_policy:\n"
                    "    min_replicas: 1\n    max_replicas: 3\n    target_qps_per_replica: 1\n    init_replicas: 9\n"
                    "    num_overprovision: 2\n    spot_policy: SpotHedge\n    spot_zones: [z-a]\nrun: python3 app.py\n")
    request = load_request(path)
    policy = request.spec.policy
    assert (policy.num_overprovision, policy.init_replicas) == (2, 3)  # init_replicas clamped to max_replicas
    assert ServiceSpec.from_json(request.spec.to_json()) == request.spec
    assert request.warnings == (
        f"{path}:10:18: service.replica_policy.spot_policy: ignored (SkyPilot's legacy SpotHedge policy; spot "
        f"replicas go where the optimizer places the task)",
        f"{path}:11:17: service.replica_policy.spot_zones: ignored (spot replicas go where the optimizer places "
        f"the task; pin zones in resources)")
