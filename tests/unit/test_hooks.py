import json
import subprocess

from stix.hooks import JobContext, node_env, shell_command
from stix.spec import ClusterInfo, NodeInfo


def info() -> ClusterInfo:
    nodes = tuple(
        NodeInfo(name=f"c-{r}", rank=r, ip=f"127.0.0.{r + 2}", port=2222, user="u",
                 host_public_key="ssh-ed25519 AAAA", home="/tmp/h", gpus=8, accelerator="H100")
        for r in range(2)
    )
    return ClusterInfo(cluster="c", cloud="local", nodes=nodes, ssh_private_key_path="/k")


def test_node_env_has_skypilot_names_and_stix_twins():
    cluster = info()
    context = JobContext("task-1", gpus_per_node=8)
    env = node_env(cluster, cluster.nodes[1], context, "run")
    assert env["SKYPILOT_NODE_RANK"] == env["STIX_NODE_RANK"] == "1"
    assert env["SKYPILOT_NODE_IPS"] == "127.0.0.2\n127.0.0.3"
    assert env["SKYPILOT_NUM_NODES"] == "2"
    assert env["SKYPILOT_TASK_ID"] == "task-1"
    assert env["SKYPILOT_NUM_GPUS_PER_NODE"] == env["STIX_NUM_GPUS_PER_NODE"] == "8"
    described = json.loads(env["SKYPILOT_CLUSTER_INFO"])
    assert described["num_nodes"] == 2 and described["nodes"][1]["accelerator"] == "H100"
    assert ClusterInfo.from_dict(described) == ClusterInfo.from_dict(cluster.to_dict())
    assert "SKYPILOT_SETUP_NODE_RANK" not in env
    setup_env = node_env(cluster, cluster.nodes[0], context, "setup")
    assert setup_env["SKYPILOT_SETUP_NODE_RANK"] == "0"


def test_shell_command_quotes_hostile_values(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` '\"; touch {marker}"
    script = 'printf "%s|" "$VALUE" "$PWD"'
    cwd = tmp_path / "work dir; touch x"
    command = shell_command(script, {"VALUE": hostile}, str(cwd))
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True).stdout
    assert out == f"{hostile}|{cwd}|"
    assert not marker.exists()


def test_a_fraction_of_a_gpu_counts_as_one():
    cluster = info()
    env = node_env(cluster, cluster.nodes[0], JobContext("t", gpus_per_node=0.5), "run")
    assert env["SKYPILOT_NUM_GPUS_PER_NODE"] == "1"
    assert node_env(cluster, cluster.nodes[0], JobContext("t"), "run")["SKYPILOT_NUM_GPUS_PER_NODE"] == "0"


def test_skypilot_user_is_the_local_user_who_launched(monkeypatch):
    import getpass

    cluster = info()
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    for phase in ("setup", "run"):
        env = node_env(cluster, cluster.nodes[1], JobContext("t"), phase)
        assert env["SKYPILOT_USER"] == env["STIX_USER"] == "alice"
    assert node_env(cluster, cluster.nodes[0], JobContext("t", user="bob"), "run")["SKYPILOT_USER"] == "bob"


def test_setup_and_run_are_wrapped_as_the_agent_wraps_jobs():
    from stix.agent import node_agent

    assert shell_command is node_agent.shell_command


def test_setup_keys_carry_the_setup_variables_the_time_limit_and_the_keepalive(monkeypatch):
    from stix.hooks import setup_keys
    from stix.models.task import Task

    monkeypatch.setenv("STIX_SETUP_TIMEOUT", "4")
    monkeypatch.setenv("STIX_SSH_KEEPALIVE", "1")
    monkeypatch.setenv("STIX_SSH_KEEPALIVE_COUNT", "3")
    cluster = info()
    keys = setup_keys(cluster, Task(setup="pip install x", run="python y"))
    assert keys["setup"] == "pip install x" and keys["setup_timeout"] == 4.0 and keys["keepalive"] == [1.0, 3]
    assert keys["setup_env"][1] == {"SKYPILOT_SETUP_NODE_RANK": "1", "STIX_SETUP_NODE_RANK": "1",
                                    "SKYPILOT_SETUP_NODE_IPS": "127.0.0.2\n127.0.0.3", "STIX_SETUP_NODE_IPS": "127.0.0.2\n127.0.0.3"}, \
        "only what setup adds to the run's env travels twice"
