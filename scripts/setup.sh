#!/usr/bin/env bash
# One idempotent set-up for a fresh machine: Debian packages (as root), npm packages, CRIU, the
# native REAP monitor, the TypeScript build and the function suite's inputs. Every step checks
# whether its work is already done, so a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(
  iptables iproute2 util-linux procps               # CRIU's network lock, mount
  redis-server                                      # the Redis transfer baseline
  python3 python3-numpy python3-pil python3-pyaes python3-chameleon python3-sklearn  # Python functions
  python3-grpcio                                    # gRPC functions and clients (vSwarm)
  ffmpeg                                            # video functions and inputs
  chromium fonts-dejavu-core                        # dashboard browser tests, plot text
  fio                                               # disk baselines
  mmdebstrap runc crun                              # hivelab build: Debian base root file systems; images run under runc and crun in tests
  build-essential pkg-config                        # native builds
  docker-registry apache2-utils busybox-static      # image tests: a real registry, htpasswd, a static test rootfs
  # CRIU 4.1.1 build dependencies
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf
  libnl-3-dev libcap-dev libnet1-dev libaio-dev libbsd-dev libgnutls28-dev libnftables-dev uuid-dev libdrm-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    step "WARNING: missing Debian packages (run as root to install): ${missing[*]}"
  fi
fi

# --- npm packages ----------------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

# --- CRIU and the native REAP monitor ------------------------------------------------------------
[ -f scripts/setup-criu.sh ] && bash scripts/setup-criu.sh
[ -f scripts/setup-native.sh ] && bash scripts/setup-native.sh

# --- TypeScript build ----------------------------------------------------------------------------
STAMP=dist/.build-stamp
if [ ! -f "$STAMP" ] || [ -n "$(find src scripts/copy-assets.mjs tsconfig.json package-lock.json -newer "$STAMP" -print -quit)" ]; then
  step "building (tsc)"
  npx tsc -p tsconfig.json
  node scripts/copy-assets.mjs
  touch "$STAMP"
fi

# --- workloads: a deployed folder is self-contained, so shared modules are copied in -------------
for d in workloads/ensemble/*/; do
  [ -f "$d/function.json" ] && cp -p workloads/ensemble/ens_dataset.py "$d/"
done

# --- function suite inputs and models -------------------------------------------------------------
[ -f scripts/setup-suite.sh ] && bash scripts/setup-suite.sh

step "ready ($ROOT)"
