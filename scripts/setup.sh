#!/usr/bin/env bash
# Set up everything stix needs on a fresh Debian-like machine, idempotently:
# openssh-server (the local cloud's nodes), a virtualenv with stix installed,
# and the Pulumi engine (found, or built once from Go modules and cached).
#
#   scripts/setup.sh          # runtime only
#   scripts/setup.sh --test   # plus the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

if ! command -v sshd >/dev/null && [[ ! -x /usr/sbin/sshd ]]; then
  say "installing openssh-server (the local cloud runs real sshd nodes)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
fi

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  say "creating virtualenv .venv"
  "$python" -m venv .venv
fi
stamp=".venv/.stix-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)${extras}"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing stix and its dependencies into .venv"
  .venv/bin/pip install --disable-pip-version-check -q -e ".${extras}"
  echo "$want" > "$stamp"
fi

.venv/bin/stix engine install
