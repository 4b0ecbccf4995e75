"""Build the Pulumi CLI from Go modules, the one path that works without release downloads.

`go install` refuses modules with replace directives, so the build happens in
a small wrapper module that copies Pulumi's one needed replace. The version
is stamped with -ldflags; without it the Automation API cannot parse it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from stix import gobuild
from stix.engine import PULUMI_VERSION
from stix.errors import EngineError

PKG = "github.com/pulumi/pulumi/pkg/v3"
SDK = "github.com/pulumi/pulumi/sdk/v3"
CLIPBOARD_REPLACE = (
    "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e\n"
)
GO_INSTALL_HINT = "Go is needed to build the Pulumi engine: apt-get install -y golang-go (Go 1.22 or newer), or put pulumi v{v} on PATH"


def build_from_go_modules(work_dir: Path, target: Path, log=lambda line: print(line, file=sys.stderr)) -> Path:
    go = gobuild.find_go(GO_INSTALL_HINT.format(v=PULUMI_VERSION))
    version = f"v{PULUMI_VERSION}"
    work_dir.mkdir(parents=True, exist_ok=True)
    log(
        f"stix: building the Pulumi engine {version} from Go modules (one time; about 3-10 minutes on 2 cores)"
    )
    log(f"stix: build directory {work_dir}, log {work_dir / 'build.log'}")
    started = time.monotonic()
    gobuild.write_wrapper(work_dir, "stix.invalid/pulumi-engine", CLIPBOARD_REPLACE)
    steps = [
        gobuild.Step("fetching modules", (go, "get", f"{PKG}/cmd/pulumi@{version}", f"{SDK}@{version}")),
        gobuild.Step(
            "compiling",
            (
                go, "build", "-trimpath", "-tags", "osusergo,grpcnotrace",
                "-ldflags", f"-s -w -X {SDK}/go/common/version.Version={version}",
                "-o", str(work_dir / "bin" / "pulumi"), f"{PKG}/cmd/pulumi",
            ),
        ),
    ]
    gobuild.run_steps(steps, work_dir, "the Pulumi engine", EngineError, log, started)
    _check_pins(go, work_dir, gobuild.go_env())
    gobuild.install(work_dir / "bin" / "pulumi", target)
    log(f"stix: Pulumi engine built in {time.monotonic() - started:.0f}s: {target}")
    return target


def _check_pins(go: str, work_dir: Path, env: dict[str, str]) -> None:
    listed = subprocess.run([go, "list", "-m", PKG, SDK], cwd=work_dir, env=env,
                            capture_output=True, text=True)
    versions = dict(line.split()[:2] for line in listed.stdout.splitlines() if len(line.split()) >= 2)
    for module in (PKG, SDK):
        if versions.get(module) != f"v{PULUMI_VERSION}":
            raise EngineError(f"engine build resolved {module} at {versions.get(module)}, expected v{PULUMI_VERSION}")
