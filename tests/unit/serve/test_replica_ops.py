"""A replica's task: the service's task without `service:`, its port opened, SkyServe's replica id in its envs."""

from __future__ import annotations

from stix.loader import load_pipeline_text
from stix.serve.replica_ops import REPLICA_ID_ENV, replica_task

TASK = """name: web
resources:
  infra: local
  ports: 9000
envs:
  A: b
service:
  readiness_probe: /health
  ports: 8080
run: python3 app.py
"""


def test_the_replica_task_drops_the_service_and_opens_its_port():
    task = load_pipeline_text(TASK).tasks[0]
    replica = replica_task(task, 8080, 7)
    assert replica.service is None
    assert replica.resources.ports is not None and replica.resources.ports.ranges == ((9000, 9000), (8080, 8080))
    assert replica.envs == {"A": "b", REPLICA_ID_ENV: "7"}
    assert task.service is not None and task.envs == {"A": "b"}, "the version's task is left as it was"


def test_a_port_already_open_is_not_added_twice():
    task = load_pipeline_text(TASK.replace("ports: 9000", "ports: 8000-8100")).tasks[0]
    assert replica_task(task, 8080, 1).resources.ports.ranges == ((8000, 8100),)  # type: ignore[union-attr]


def test_spot_is_set_per_replica():
    task = load_pipeline_text(TASK).tasks[0]
    assert replica_task(task, 8080, 1, use_spot=True).resources.use_spot is True
    assert not replica_task(task, 8080, 1).resources.use_spot


def test_replicas_carry_their_services_label_beside_the_tasks_own():
    task = load_pipeline_text(TASK.replace("ports: 9000", "ports: 9000\n  labels: {team: ml}")).tasks[0]
    replica = replica_task(task, 8080, 1, service="web")
    assert replica.resources.labels == {"team": "ml", "stix-service": "web"}
    assert task.resources.labels == {"team": "ml"}
