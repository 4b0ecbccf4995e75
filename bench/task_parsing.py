"""Task parsing figures: a 1,000-task pipeline through the loader, and `stix validate` as a whole process.

Run: .venv/bin/python bench/task_parsing.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TASK = """---
name: task-{i}
num_nodes: {nodes}
resources:
  infra: aws/us-east-1
  accelerators: {{A100:8, H100:8}}
  cpus: 8+
  memory: 32+
  disk_size: 256GB
  ports: [8080, "10020-10040"]
  autostop: {{idle_minutes: 10, down: true}}
envs:
  STEP: "{i}"
  BUCKET: bucket-{i}
file_mounts:
  /data/${{BUCKET}}:
    name: ${{BUCKET}}
    mode: MOUNT
setup: pip install -r requirements.txt
run: python train.py --step $STEP
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from stix.loader import load_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Path(tmp) / "pipeline.yaml"
        pipeline.write_text("name: big\n" + "".join(TASK.format(i=i, nodes=1 + i % 4) for i in range(1000)))
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            loaded = load_pipeline(pipeline)
            samples.append(time.perf_counter() - started)
        assert len(loaded.tasks) == 1000
        print(f"load_pipeline, 1,000 tasks ({pipeline.stat().st_size // 1024} KiB): "
              f"median {statistics.median(samples) * 1000:.0f} ms, min {min(samples) * 1000:.0f} ms")

        single = REPO / "examples" / "hello.yaml"
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "stix", "validate", str(single)], check=True, capture_output=True)
            samples.append(time.perf_counter() - started)
        print(f"stix validate examples/hello.yaml (whole process): median {statistics.median(samples) * 1000:.0f} ms, "
              f"min {min(samples) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
