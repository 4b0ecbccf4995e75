import json
import subprocess

from stix.hooks import JobContext, cluster_info_json, node_env, shell_command
from stix.spec import ClusterInfo, NodeInfo


def info() -> ClusterInfo:
    nodes = tuple(
        NodeInfo(name=f"c-{r}", rank=r, ip=f"127.0.0.{r + 2}", port=2222, user="u",
                 host_public_key="ssh-ed25519 AAAA", home="/tmp/h")
        for r in range(2)
    )
    return ClusterInfo(cluster="c", cloud="local", nodes=nodes, ssh_private_key_path="/k")


def test_node_env_has_skypilot_names_and_stix_twins():
    cluster = info()
    context = JobContext("task-1", cluster_info_json(cluster))
    env = node_env(cluster, cluster.nodes[1], context, "run")
    assert env["SKYPILOT_NODE_RANK"] == env["STIX_NODE_RANK"] == "1"
    assert env["SKYPILOT_NODE_IPS"] == "127.0.0.2\n127.0.0.3"
    assert env["SKYPILOT_NUM_NODES"] == "2"
    assert env["SKYPILOT_TASK_ID"] == "task-1"
    assert json.loads(env["SKYPILOT_CLUSTER_INFO"])["num_nodes"] == 2
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
