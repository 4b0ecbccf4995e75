"""Optimizer figures: cold `stix optimize` (whole process), one query after load, and a 200,000-row catalog.

Run: .venv/bin/python bench/optimizer.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLUMNS = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n"


def median_ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.1f} ms, min {min(samples) * 1000:.1f} ms (n={len(samples)})"


def synthetic(path: Path, rows: int) -> None:
    rng = random.Random(7)
    accelerators = ["A100", "A100-80GB", "H100", "H200", "L4", "T4", "V100", "A10G", "L40S", ""]
    with open(path, "w") as handle:
        handle.write(COLUMNS)
        for i in range(rows):
            accel = rng.choice(accelerators)
            count = rng.choice([1, 2, 4, 8]) if accel else ""
            vcpus = rng.choice([2, 4, 8, 16, 32, 48, 64, 96, 192])
            price = round(rng.uniform(0.05, 120), 4)
            region = f"region-{i % 40}"
            handle.write(f"type-{i % 5000},{accel},{count},{vcpus},{vcpus * 4},,{price},{round(price * 0.4, 4)},"
                         f"{region},{region}-{'abc'[i % 3]}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AZURE_CLIENT_ID": "b", "AZURE_TENANT_ID": "b", "AZURE_CLIENT_SECRET": "b"}
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp) / "a100.yaml"
        task.write_text("resources:\n  accelerators: A100:8\n")
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "stix", "optimize", str(task)], env=env, check=True, capture_output=True)
            samples.append(time.perf_counter() - started)
        print(f"stix optimize A100:8 (whole process, cold): {median_ms(samples)}")

        from stix.catalog.load import load_catalog
        from stix.models.resources import Resources
        from stix.optimizer import HostLimits, optimize

        host = HostLimits.detect()
        clouds = ["aws", "gcp", "azure", "local"]
        started = time.perf_counter()
        catalog = load_catalog()
        print(f"load bundled catalogs ({len(catalog.offers)} rows): {(time.perf_counter() - started) * 1000:.1f} ms")
        for label, spec in (("A100:8", {"accelerators": "A100:8"}), ("T4:1 spot", {"accelerators": "T4:1", "use_spot": True}),
                            ("cpus 8+", {"cpus": "8+"}), ("any of 3 GPUs", {"accelerators": {"H100:8": None, "A100:8": None, "L4:8": None}})):
            resources = Resources.model_validate(spec)
            samples = []
            for _ in range(args.repeat * 10):
                started = time.perf_counter()
                optimize(resources, 2, catalog, clouds, host=host)
                samples.append(time.perf_counter() - started)
            print(f"optimize after load, {label}: {median_ms(samples)}")

        big_dir = Path(tmp) / "big"
        big_dir.mkdir()
        synthetic(big_dir / "aws.csv", 200_000)
        os.environ["STIX_CATALOG_DIR"] = str(big_dir)
        started = time.perf_counter()
        big = load_catalog(["aws"])
        print(f"load synthetic catalog ({len(big.offers)} rows): {(time.perf_counter() - started) * 1000:.0f} ms")
        for label, spec in (("A100:8", {"accelerators": "A100:8"}), ("cpus 8+", {"cpus": "8+"})):
            resources = Resources.model_validate(spec)
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                optimize(resources, 2, big, ["aws"], host=host)
                samples.append(time.perf_counter() - started)
            print(f"optimize on 200,000 rows, {label}: {median_ms(samples)}")


if __name__ == "__main__":
    main()
