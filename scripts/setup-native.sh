#!/usr/bin/env bash
# Builds the native parts: the sandbox launcher (native/sandbox -> build/hivelab-sandbox, plain cc,
# no library) and the REAP monitor helper (native/reap-monitor -> build/Release/reap-monitor).
# Idempotent: each rebuilds only when a source is newer than its binary. node-gyp builds offline
# only with --nodedir=/usr (the Debian Node headers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "[setup-native] $*"; }

# --- the sandbox launcher (docs/SANDBOX.md) ---
SBX="$ROOT/native/sandbox"
SBX_BIN="$SBX/build/hivelab-sandbox"
if [[ -x "$SBX_BIN" ]] && [[ -z "$(find "$SBX/src" -newer "$SBX_BIN" -print -quit)" ]]; then
  log "hivelab-sandbox up to date: $SBX_BIN"
else
  log "building hivelab-sandbox with cc"
  mkdir -p "$SBX/build"
  # built to a temporary name and renamed: a worker starting an instance meanwhile sees the old
  # binary or the new one, never half of one
  cc -O2 -Wall -Wextra -Werror -std=gnu11 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$SBX_BIN.tmp" "$SBX"/src/*.c
  mv -f "$SBX_BIN.tmp" "$SBX_BIN"
  log "done: $SBX_BIN"
fi

# --- the REAP monitor ---
DIR="$ROOT/native/reap-monitor"
BIN="$DIR/build/Release/reap-monitor"

if [[ -x "$BIN" ]] && [[ -z "$(find "$DIR/src" "$DIR/binding.gyp" -newer "$BIN" -print -quit)" ]]; then
  log "reap-monitor up to date: $BIN"
  exit 0
fi
GYP="/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[[ -f "$GYP" ]] || GYP="$(command -v node-gyp || true)"
[[ -n "$GYP" ]] || { log "node-gyp not found"; exit 1; }
log "building reap-monitor with node-gyp"
(cd "$DIR" && node "$GYP" rebuild --nodedir=/usr --loglevel=warn)
log "done: $BIN"
