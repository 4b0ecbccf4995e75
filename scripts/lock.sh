#!/usr/bin/env bash
# Refresh requirements-test.lock from pyproject.toml with uv (scripts/setup.sh puts uv in .venv).
#
#   scripts/lock.sh              # after editing dependencies: keeps every pin it can, adds what is new
#   scripts/lock.sh --upgrade    # every package to its newest allowed version
#
# The lock is universal (markers for every platform) and hashed; the test tools need Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."
uv="${UV:-.venv/bin/uv}"
[[ -x "$uv" ]] || uv="$(command -v uv)" || { echo "lock: no uv; run scripts/setup.sh first" >&2; exit 1; }
pip_index="${PIP_INDEX_URL:-$(.venv/bin/pip config get global.index-url 2>/dev/null || true)}"
if [[ -n "$pip_index" && -z "${UV_DEFAULT_INDEX:-}" ]]; then export UV_DEFAULT_INDEX="$pip_index"; fi
exec "$uv" pip compile pyproject.toml --extra test --universal --python-version 3.11 --generate-hashes \
  --custom-compile-command scripts/lock.sh --quiet -o requirements-test.lock "$@"
