"""`stix dashboard` with 100 clusters and 1,000 managed jobs (each with an attempt): time to first byte and to a
fully rendered page in headless Chromium (navigation timing), page size, and the server's memory.

Run: .venv/bin/python bench/dashboard.py [--clusters 100] [--jobs 1000] [--repeat 7]
The home is filled through stix's own stores (stix.index, stix.managed.store) in a temporary directory; the
server is the real `stix dashboard --port 0` process. Figures are medians; note the machine's load (printed).
Needs chromium and chromium-driver (scripts/setup.sh --test).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def fill(home: Path, clusters: int, jobs: int) -> None:
    os.environ["STIX_HOME"] = str(home)
    from stix.home import StixHome
    from stix.index import ClusterIndex
    from stix.managed.store import JobStore
    from stix.models.task import Task

    index = ClusterIndex(home / "index.db")
    for i in range(clusters):
        name = f"bench-{i:03d}"
        index.upsert(name, "local", 1 + i % 4, "UP" if i % 3 else "STOPPED", f"/work/tasks/{name}.yaml",
                     resources_str=f"{1 + i % 4}x local(-, cpus=4, mem=8)", hourly_cost=0.5 * (1 + i % 4))
        index.record_launch(name, "local", 1 + i % 4, f"{1 + i % 4}x local(-, cpus=4, mem=8)", 0.5 * (1 + i % 4))
        if i % 5 == 0:
            index.set_autostop(name, "30m")
        if i % 7 == 0:
            index.record_drift(name, i % 2)
    store = JobStore(StixHome(home))
    for j in range(jobs):
        job_id = store.submit(f"train-{j}", [Task(name=f"train-{j}", run="python train.py")], f"t-{j}")
        store.start_attempt(job_id, 0, f"bench-{j % clusters:03d}")


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the process, KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def ttfb(url: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the whole response, bytes) of one GET."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read(1)
        first = time.perf_counter() - started
        size = 1 + len(response.read())
    return first, time.perf_counter() - started, size


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800", "--disable-extensions"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


NAVIGATION = """const n = performance.getEntriesByType('navigation')[0];
return [n.responseStart - n.requestStart, n.loadEventEnd - n.startTime];"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="stix-bench-dashboard-"))
    started = time.perf_counter()
    fill(home, args.clusters, args.jobs)
    print(f"filled {args.clusters} clusters and {args.jobs} managed jobs in {time.perf_counter() - started:.1f}s")
    env = {**os.environ, "STIX_HOME": str(home)}
    server = subprocess.Popen([sys.executable, "-m", "stix", "dashboard", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    driver = None
    try:
        assert server.stdout is not None
        match = re.search(r"(http://\S+)", server.stdout.readline())
        assert match, "the dashboard printed no URL"
        url = match.group(1)
        first = [ttfb(url)]  # the first request imports the web stack
        served_one = rss_kib(server.pid)[0]
        first = [ttfb(url) for _ in range(args.repeat)]
        driver = browser()
        driver.get(url)  # warm the browser once
        rendered = []
        for _ in range(args.repeat):
            driver.get(url)
            rendered.append(driver.execute_script(NAVIGATION))
        text = driver.find_element("tag name", "body").text
        assert "bench-099" in text or args.clusters < 100, "the page lists the clusters"
        rss, peak = rss_kib(server.pid)
        print(f"load average: {open('/proc/loadavg').read().split()[:3]}  repeats: {args.repeat} (medians)")
        print(f"GET / (urllib): first byte {statistics.median(f for f, _, _ in first) * 1000:.0f} ms, "
              f"whole {statistics.median(w for _, w, _ in first) * 1000:.0f} ms, {first[0][2] / 1024:.0f} KiB")
        print(f"chromium: first byte {statistics.median(r[0] for r in rendered):.0f} ms, "
              f"fully rendered (loadEventEnd) {statistics.median(r[1] for r in rendered):.0f} ms")
        print(f"server RSS: {served_one / 1024:.1f} MiB after one page, {rss / 1024:.1f} MiB after "
              f"{2 * args.repeat + 2} page loads, peak {peak / 1024:.1f} MiB")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
