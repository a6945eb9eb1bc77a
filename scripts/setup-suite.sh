#!/usr/bin/env bash
# Generates the function suite's inputs and trains its small models (functions/*/data/, git-ignored),
# deterministically from seed 1. Idempotent: a stamp holds the hash of every generator, so a second
# run returns at once unless a generator changed or a data/ folder is missing. Installs the Debian
# packages the functions need when they are absent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FN="$ROOT/functions"
PY=/usr/bin/python3   # Debian's: the python3 on PATH is a pyenv shim without these packages
STAMP="$FN/.setup-stamp"
# Functions whose handlers need data/ (must match `needsData` in src/suite/catalogue.ts).
DATA_FUNCTIONS=(json-serdes-node json-serdes-python image-rotate-node image-rotate-python video-processing lr-training lr-serving rnn-serving cnn-serving)

# Test files and set-up may call this at the same time: one generator run at a time.
exec 9>"$FN/.setup-lock"
flock 9

log() { printf '[setup-suite %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Shared helpers are kept once in functions/_shared (git) and copied into each folder here, since
# a deployed folder must be self-contained; the copies are git-ignored.
bash "$ROOT/scripts/suite/sync-shared.sh"

hash_generators() {
  (cd "$ROOT" && find scripts/setup-suite.sh scripts/suite functions -type f \
     \( -name 'inputs.*' -o -name 'inputmode.*' -o -name 'shapes.mjs' -o -name 'model.mjs' -o -name 'charrnn.py' -o -name 'reviews.py' -o -name '*.sh' \) \
     -not -path '*/data/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
}

# Byte-code for the Python functions: /var/task is read-only inside a sandbox, so without it every
# cold start would compile the modules again. checked-hash: valid whatever mtime deploy gives the copy.
for d in "$FN"/*/; do
  [[ -f $d/function.json ]] && grep -q '"runtime": *"python"' "$d/function.json" && \
    "$PY" -m compileall -q -l --invalidation-mode checked-hash "$d" >/dev/null
done

want=$(hash_generators)
complete=1
for f in "${DATA_FUNCTIONS[@]}"; do [[ -d $FN/$f/data ]] || complete=0; done
if [[ $complete == 1 && -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
  log "inputs and models up to date ($want)"
  exit 0
fi

# Debian packages (issue 8: each function's dependencies come from npm or Debian).
if ! "$PY" -c 'import numpy, PIL, pyaes, chameleon, sklearn' 2>/dev/null || [[ ! -x /usr/bin/ffmpeg ]]; then
  [[ $(id -u) == 0 ]] || { log "missing Debian packages; as root: apt-get install python3-numpy python3-pil python3-pyaes python3-chameleon python3-sklearn ffmpeg"; exit 1; }
  log "installing Debian packages for the suite"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3-numpy python3-pil python3-pyaes python3-chameleon python3-sklearn ffmpeg >/dev/null
fi

started=$(date +%s)
rm -f "$STAMP"
for f in "${DATA_FUNCTIONS[@]}"; do rm -rf "$FN/$f/data"; done

# The CNN trains in TensorFlow.js' pure-JS backend (the longest step, ~25 s): run it beside the rest.
log "cnn-serving: training the CNN in the background"
(cd "$FN/cnn-serving" && node inputs.mjs 1 2>&1 | grep -v -e '^=*$' -e 'Hi, looks like' -e 'tfjs-node' || true) > "$FN/.cnn-setup.log" &
cnn=$!

for f in json-serdes-node image-rotate-node; do
  log "$f: generating inputs"; (cd "$FN/$f" && node inputs.mjs 1)
done
for f in json-serdes-python image-rotate-python video-processing lr-training lr-serving rnn-serving; do
  log "$f: generating inputs"; (cd "$FN/$f" && PYTHONDONTWRITEBYTECODE=1 "$PY" inputs.py 1)
done

if ! wait "$cnn"; then cat "$FN/.cnn-setup.log"; log "cnn-serving training failed"; exit 1; fi
cat "$FN/.cnn-setup.log"; rm -f "$FN/.cnn-setup.log"
[[ -f $FN/cnn-serving/data/weights.bin ]] || { log "cnn-serving: no weights written"; exit 1; }

echo "$want" > "$STAMP"
log "done in $(( $(date +%s) - started )) s"
