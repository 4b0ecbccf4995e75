"""What a stix command imports: run it in a fresh interpreter and list the loaded modules under given roots."""

from __future__ import annotations

import json
import subprocess
import sys


def heavy_modules_loaded(stix, argv: list[str], heavy: tuple[str, ...]) -> list[str]:
    """Modules loaded by `stix ARGV` whose top package (or first two parts, e.g. stix.engine) is in `heavy`."""
    code = (
        f"import json, sys, runpy; sys.argv=['stix', *{argv!r}];\n"
        "try:\n    runpy.run_module('stix', run_name='__main__')\n"
        "except SystemExit: pass\n"
        f"heavy={heavy!r}\n"
        "bad=[m for m in sys.modules if m.split('.')[0] in heavy or '.'.join(m.split('.')[:2]) in heavy]\n"
        "print('LOADED', json.dumps(sorted(bad)))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=stix.env(), capture_output=True, text=True, timeout=60)
    line = next((line for line in out.stdout.splitlines() if line.startswith("LOADED ")), None)
    assert line is not None, out.stdout + out.stderr
    return json.loads(line.removeprefix("LOADED "))
