"""Fuzz the loader: whatever the input, a Task or one TaskError line, never a traceback."""

import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stix.errors import TaskError
from stix.loader import load_pipeline_text

# CI explores a fixed sequence of examples (a landing must not hinge on a lucky draw); developers'
# runs explore new ones each time. STIX_FUZZ_EXAMPLES scales both for a longer hunt.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
SCALE = int(os.environ.get("STIX_FUZZ_EXAMPLES", "1"))

FIELDS = ["name", "workdir", "num_nodes", "resources", "envs", "secrets", "file_mounts", "setup", "run",
          "service", "config", "infra", "cloud", "accelerators", "cpus", "memory", "ports", "disk_size",
          "disk_tier", "autostop", "any_of", "ordered", "use_spot", "job_recovery", "labels", "image_id",
          "readiness_probe", "replicas", "replica_policy", "min_replicas", "max_replicas", "mode", "source", "store"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["H100:8", "A100:x", "4+", "16GB", "4x", "10h", "aws/us-east-1", "k8s", "s3://b", "MOUNT",
                     "8080-8070", "best", "$X", "${X}", ""]),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=25,
)
tasks = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)


def check(text: str) -> None:
    try:
        load_pipeline_text(text, "fuzz.yaml", require_env=True)
    except TaskError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml"), message
        assert "\n" not in message, message


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tasks)
def test_structured_tasks(task):
    check(yaml.safe_dump(task, allow_unicode=True))


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    check(text)


@settings(max_examples=200 * SCALE, deadline=None)
@given(st.lists(tasks, min_size=2, max_size=4))
def test_pipelines(documents):
    check(yaml.safe_dump_all(documents))
