#!/usr/bin/env bash
# Set up everything stix needs on a fresh Debian-like machine, idempotently:
# openssh-server (the local cloud's nodes), rclone and fuse3 (buckets on nodes),
# haproxy (services' load balancer on the local cloud), a virtualenv with stix
# installed, the Pulumi engine and the local cloud's object store (SeaweedFS),
# each found or built once from Go modules and cached.
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

missing=()
command -v rclone >/dev/null || missing+=(rclone)
command -v fusermount3 >/dev/null || missing+=(fuse3)
if (( ${#missing[@]} )); then
  say "installing ${missing[*]} (buckets: every store is reached with rclone, mounts use FUSE)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v haproxy >/dev/null && [[ ! -x /usr/sbin/haproxy ]]; then
  say "installing haproxy (stix serve's load balancer on the local cloud; only the binary is used)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d exit 101: Debian's package must not start its own haproxy service.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [[ -e "$policy" ]] && had_policy=1
  [[ $had_policy == 1 ]] || printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  [[ $had_policy == 1 ]] || as_root chmod 755 "$policy"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  [[ $had_policy == 1 ]] || as_root rm -f "$policy"
fi

if [[ -n "$extras" ]] && ! command -v podman >/dev/null; then
  say "installing podman and runc (tests run image_id docker:IMAGE in real containers on local nodes)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null
fi
if [[ -n "$extras" ]] && { [[ ! -x /usr/bin/chromium ]] || [[ ! -x /usr/bin/chromedriver ]]; }; then
  say "installing chromium and chromium-driver (the dashboard's test drives a real headless browser)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
podman_conf=/etc/containers/containers.conf.d/stix-tests.conf
if [[ -n "$extras" ]] && command -v podman >/dev/null && [[ ! -f "$podman_conf" ]]; then
  # Sandboxed test machines: crun cannot set up hybrid cgroups, and no runtime may raise rlimits past the
  # machine's own (podman's defaults do); runc with these limits runs containers there.
  say "writing $podman_conf (runc, container rlimits within this machine's)"
  as_root mkdir -p "$(dirname "$podman_conf")"
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' \
    "$(ulimit -Hn)" "$(ulimit -Hn)" | as_root tee "$podman_conf" >/dev/null
fi

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  say "creating virtualenv .venv"
  "$python" -m venv .venv
fi
# The dependencies come from the lock (README, "Dependencies"); the stamp covers it, so a new lock reinstalls.
lock="requirements-test.lock"
uv_version="0.13.9"
stamp=".venv/.stix-installed"
want="$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)${extras}"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing stix and its dependencies into .venv"
  pip=(.venv/bin/pip install --disable-pip-version-check -q)
  [[ -x .venv/bin/uv ]] || "${pip[@]}" "uv==$uv_version" || say "uv unavailable; installing with pip (slower)"
  if [[ -x .venv/bin/uv ]]; then
    # uv does not read pip's configuration: hand it the same index, wheel folder and CA bundle.
    pip_conf() { .venv/bin/pip config get "global.$1" 2>/dev/null || true; }
    index="${PIP_INDEX_URL:-$(pip_conf index-url)}"
    links="${PIP_FIND_LINKS:-$(pip_conf find-links)}"
    cert="${PIP_CERT:-$(pip_conf cert)}"
    if [[ -n "$index" && -z "${UV_DEFAULT_INDEX:-}" ]]; then export UV_DEFAULT_INDEX="$index"; fi
    if [[ -n "$links" && -d "$links" && -z "${UV_FIND_LINKS:-}" ]]; then export UV_FIND_LINKS="$links"; fi
    if [[ -n "$cert" && -z "${SSL_CERT_FILE:-}" ]]; then export SSL_CERT_FILE="$cert"; fi
    install=(.venv/bin/uv pip install -q --python .venv/bin/python)
  else
    install=("${pip[@]}")
  fi
  if [[ -n "$extras" ]]; then
    "${install[@]}" --require-hashes -r "$lock"
    "${install[@]}" --no-deps -e .
  else
    # Runtime only: the lock's versions (its pins without the hashes) constrain stix's own dependencies.
    constraints="$(mktemp)"
    grep -E '^[A-Za-z0-9]' "$lock" | sed 's/ *\\$//' > "$constraints"
    "${install[@]}" -c "$constraints" -e .
    rm -f "$constraints"
  fi
  # Bytecode for what every stix and engine-plugin process imports, once, here: with PYTHONDONTWRITEBYTECODE
  # set (or uv, which writes none) each process would compile pulumi, pydantic and typer anew (0.3-0.8 s).
  # The cloud SDKs are imported lazily and would take minutes: they are left out.
  say "compiling bytecode (about 30 s, once)"
  .venv/bin/python -m compileall -q -j 0 -x 'site-packages/pulumi_(aws|gcp|azure_native|kubernetes)/' \
    .venv/lib/python*/site-packages >/dev/null || say "bytecode compilation failed; stix runs, more slowly"
  echo "$want" > "$stamp"
fi
.venv/bin/python -m compileall -q -j 0 stix components >/dev/null || true

.venv/bin/stix engine install
.venv/bin/stix store install
