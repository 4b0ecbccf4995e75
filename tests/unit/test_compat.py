"""Every real SkyPilot task file in ../shared/compat validates unchanged, and means what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stix.loader import EnvOverrides, load_pipeline, load_task

COMPAT = Path(__file__).resolve().parents[3] / "shared" / "compat" / "skypilot-tasks"
FILES = sorted(COMPAT.glob("*.yaml"))


def test_corpus_is_present():
    assert len(FILES) >= 30, f"expected the compat corpus at {COMPAT}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validates_unchanged(path):
    pipeline = load_pipeline(path)
    assert pipeline.tasks


def test_validate_command_on_every_file():
    result = subprocess.run([sys.executable, "-m", "stix", "validate", *map(str, FILES[:1])],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith(f"{FILES[0]}: OK")
    for path in FILES:
        done = subprocess.run([sys.executable, "-m", "stix", "validate", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{path}: OK")


def one(name: str):
    return load_task(COMPAT / name)


def test_accelerator_spellings():
    """Parsed once, at load: the model holds the typed choices."""
    ds = one("llm__deepseek-r1__deepseek-r1-671B.yaml").resources.accelerators
    assert [(a.name, a.count) for a in ds.choices] == [("H200", 8), ("H100", 8), ("A100-80GB", 8)] and not ds.ordered
    listed = one("tests__test_yamls__test_multiple_accelerators_ordered.yaml").resources.accelerators
    # A100-40GB is an alias: it names the catalogs' A100 (SkyPilot's 40 GB A100), so its offers are found
    assert [a.name for a in listed.choices] == ["A100", "T4", "V100", "K80"] and listed.ordered
    dicts = one("tests__test_yamls__test_list_of_dicts_accelerators.yaml").resources.accelerators
    assert [(a.name, a.count) for a in dicts.choices] == [("T4", 1), ("L4", 1)]
    tpu = one("examples__tpu__tpuvm_mnist.yaml").resources.accelerators
    assert tpu.choices[0].name == "tpu-v2-8"


def test_legacy_and_new_fields():
    bert = one("examples__spot__bert_qa.yaml")
    assert bert.resources.placement.cloud == "aws" and bert.resources.use_spot is True
    assert bert.resources.spot_recovery == "FAILOVER"
    jax = one("examples__managed_jobs__jax-fault-tolerant__job.yaml")
    assert jax.workdir.url.endswith("skypilot.git") and jax.workdir.ref == "speedup-job"
    assert jax.resources.job_recovery.strategy == "DYNAMIC_NODE_SET" and jax.resources.job_recovery.min_nodes == 3
    assert jax.env_values() == {"NUM_EPOCHS": "50", "STEPS_PER_EPOCH": "20"}
    assert one("tests__test_yamls__autostop.yaml").resources.autostop.idle_minutes == 5
    assert one("tests__test_yamls__test_labels.yaml").resources.labels == {"inlinelabel1": "inlinevalue1", "inlinelabel2": "inlinevalue2"}


def test_env_substitution_in_file_mounts():
    task = one("examples__using_file_mounts_with_env_vars.yaml")
    assert "/checkpoint/13b" in task.file_mounts
    assert task.file_mounts["/mydir"].name == "skypilot-temp-gcs-test"
    assert task.file_mounts["/mydir2"].name == "skypilot-temp-gcs-test"
    assert task.file_mounts["/another-dir"].source == ["~/tmp-workdir"]
    overridden = load_task(COMPAT / "examples__using_file_mounts_with_env_vars.yaml",
                           EnvOverrides(envs={"MODEL_SIZE": "70b"}))
    assert "/checkpoint/70b" in overridden.file_mounts


def test_pipelines():
    assert [t.name for t in load_pipeline(COMPAT / "tests__test_yamls__pipeline.yaml").tasks] == ["a", "b", "eval1", "eval2"]
    assert load_pipeline(COMPAT / "examples__chain_dag__2_jobs.yaml").name == "dag-name"
    headerless = load_pipeline(COMPAT / "tests__test_yamls__test_managed_jobs_retry.yaml")
    assert headerless.name is None and len(headerless.tasks) == 2


def test_required_secrets_are_reported():
    assert one("llm__llama-3_1__llama-3_1.yaml").required_unset() == ["--secret HF_TOKEN"]


@pytest.mark.parametrize("name, refusal, code", [
    ("examples__minimal.yaml", "no placement for cpu on aws: offered on aws, but enabled clouds are local", 3),
    # its config: (kubernetes.pod_config) is honoured now; what stops it here is the missing cluster
    ("tests__test_yamls__test_k8s_pod_config_image_pull_secrets.yaml", "no placement for cpu on kubernetes", 3),
    ("tests__test_yamls__test_labels.yaml", "not supported yet: resources.labels on the local cloud", 2),
    ("llm__llama-3_1__llama-3_1.yaml", "not supported yet: service (a service runs with `stix serve up TASK.yaml`)", 2),
    ("examples__using_file_mounts.yaml", "no placement for cpus=2+ on aws: offered on aws, but enabled clouds are local", 3),
    ("examples__managed_jobs__jax-fault-tolerant__job.yaml",
     "not supported yet: resources.job_recovery strategy DYNAMIC_NODE_SET", 2),
])
def test_up_refuses_what_it_cannot_run_yet(stix, tmp_path, name, refusal, code):
    result = stix("up", "-y", str(COMPAT / name), "--secret", "HF_TOKEN=x", HOME=str(tmp_path))
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().startswith(f"stix: error: {refusal}")
    assert len(result.stderr.strip().splitlines()) == 1
