"""End to end: a SkyPilot 0.14 SDK script runs on the local cloud with only `import sky` changed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).parent / "scripts" / "skypilot_sdk.py.txt"
CLUSTER = "e2e-sdk"


def test_a_skypilot_sdk_script_runs_with_only_its_import_changed(stix, tmp_path, engine):
    text = SCRIPT.read_text()
    assert text.count("\nimport sky\n") == 1
    script = tmp_path / "script.py"
    script.write_text(text.replace("\nimport sky\n", "\nimport stix as sky\n"))
    try:
        result = subprocess.run([sys.executable, str(script), CLUSTER], cwd=stix.workdir, env=stix.env(),
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    finally:
        stix("destroy", "-y", CLUSTER)  # a no-op when the script's down() ran
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "setup on rank 0" in out and "setup on rank 1" in out
    assert "hello from rank 0 of 2, hi" in out and "hello from rank 1 of 2, hi" in out
    assert re.search(r"^launched job 1 on e2e-sdk$", out, re.M)
    assert re.search(rf"^status {CLUSTER} UP autostop=30 to_down=False resources=2x local\(local, cpus=[0-9.]+, "
                     rf"mem=[0-9.]+\)$", out, re.M), out
    assert "exec says there" in out
    assert re.search(r"^job 1 sdk-demo SUCCEEDED$", out, re.M) and re.search(r"^job 2 second SUCCEEDED$", out, re.M)
    assert "tail_logs exit 0" in out
    assert "endpoint 8888 True" in out
    assert "remaining []" in out
    assert f"cost [('{CLUSTER}', None, 2)]" in out
    from stix.index import ClusterIndex

    (life,) = ClusterIndex(stix.home / "index.db").history()  # up opened it, down closed it
    assert (life.name, life.num_nodes) == (CLUSTER, 2) and life.resources.startswith("2x local(local, cpus=")
    assert life.ended_at is not None and life.ended_at > life.launched_at
    # No rich tables or progress unless asked: the preview, the placement and the notes stay out.
    for chatter in ("Placement:", "create", "Job 1 submitted", "destroyed", "─"):
        assert chatter not in out + result.stderr, chatter
