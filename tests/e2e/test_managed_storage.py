"""A managed job's checkpoint in a bucket survives the loss of its node: the recovery's new cluster mounts the
same bucket and resumes from what the lost attempt wrote (the real controller, engine, sshd nodes, store)."""

from __future__ import annotations

import uuid

from stix.session import Session
from stix.storage.registry import registry_of
from stix.storage.stacks import delete_bucket
import pytest

from tests.e2e.test_managed_jobs import (LOCAL, assert_no_cluster_left, attempt_logs, controller_log, home,  # noqa: F401
                                         kill_node, st, submit, wait_log, wait_status)

pytestmark = pytest.mark.e2e

RESUMABLE = """name: train
{local}file_mounts:
  ~/ckpt:
    name: {bucket}
    mode: MOUNT
run: |
  if [ -e ~/ckpt/step.txt ]; then echo "RESUMED from step $(cat ~/ckpt/step.txt)"; exit 0; fi
  echo 7 > ~/ckpt/step.txt
  sleep 3
  echo SAVED
  sleep 120
"""


def test_a_recovered_job_resumes_from_the_checkpoint_its_lost_node_wrote(home):
    bucket = f"ckpt-{uuid.uuid4().hex[:8]}"
    job_id = submit(home, RESUMABLE.format(local=LOCAL, bucket=bucket), name="train")
    running = wait_status(home, job_id, st.RUNNING)
    wait_log(home, job_id, "SAVED")
    kill_node(home, running.tasks[0].cluster)
    done = wait_status(home, job_id, *st.TERMINAL, timeout=180)
    assert done.status == st.SUCCEEDED and done.recoveries == 1, controller_log(home)
    first, second = attempt_logs(home, job_id)
    assert "SAVED" in first and "RESUMED from step 7" in second, second
    kept = registry_of(home).get(bucket)
    assert kept is not None and kept.persistent and registry_of(home).users(bucket) == []
    delete_bucket(Session(home), bucket)  # the checkpoint's bucket outlived the job's clusters until now
    assert_no_cluster_left(home)
