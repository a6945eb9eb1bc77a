#!/usr/bin/env bash
# Builds the native parts (issue 4): the REAP monitor helper, native/reap-monitor -> build/Release/reap-monitor.
# Idempotent: rebuilds only when a source is newer than the binary. node-gyp builds offline only
# with --nodedir=/usr (the Debian Node headers).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/native/reap-monitor"
BIN="$DIR/build/Release/reap-monitor"
log() { echo "[setup-native] $*"; }

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
