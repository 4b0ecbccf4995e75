"""Import cost of each cloud's components (time and memory), and `stix --help`, whole process.

Run: .venv/bin/python bench/imports.py [--repeat N]
Each figure is a fresh interpreter importing one module, minus a bare interpreter's baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

# Provider SDKs load submodules lazily, on first attribute use; touching the classes the components
# use measures what a deploy really pays.
TOUCH = {
    "local": "",
    "aws": "import pulumi_aws as p; p.ec2.Instance, p.ec2.Vpc, p.s3.Bucket, p.lb.LoadBalancer",
    "gcp": "import pulumi_gcp as p; p.compute.Instance, p.storage.Bucket",
    "azure": "import pulumi_azure_native as p; p.compute.VirtualMachine, p.network.VirtualNetwork, p.storage.StorageAccount, p.resources.ResourceGroup",
    "kubernetes": "import pulumi_kubernetes as p; p.apps.v1.StatefulSet, p.core.v1.Service, p.networking.v1.NetworkPolicy",
}
MODULES = {
    "local": "stix.components.local.vm_group",
    "aws": "stix.components.aws.vm_group, stix.components.aws.network, stix.components.aws.bucket, stix.components.aws.load_balancer",
    "gcp": "stix.components.gcp.vm_group, stix.components.gcp.network, stix.components.gcp.bucket, stix.components.gcp.load_balancer",
    "azure": "stix.components.azure.vm_group, stix.components.azure.network, stix.components.azure.bucket, stix.components.azure.load_balancer",
    "kubernetes": "stix.components.kubernetes.vm_group, stix.components.kubernetes.network, stix.components.kubernetes.load_balancer",
}
PROBE = ("import resource, time; t = time.perf_counter(); {imports}; "
         "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def probe(imports: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], capture_output=True, text=True, check=True)
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base_mib = statistics.median(probe("pass")[1] for _ in range(args.repeat))
    print(f"bare interpreter peak RSS: {base_mib:.1f} MiB")
    for cloud, modules in MODULES.items():
        imports = "import " + modules + (f"; {TOUCH[cloud]}" if TOUCH[cloud] else "")
        samples = [probe(imports) for _ in range(args.repeat)]
        seconds = statistics.median(s for s, _ in samples)
        mib = statistics.median(m for _, m in samples)
        print(f"{cloud:11} components: import {seconds * 1000:7.0f} ms, peak RSS {mib:6.1f} MiB (+{mib - base_mib:.1f})")
    samples = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stix", "--help"], check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    print(f"stix --help (whole process): median {statistics.median(samples) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
