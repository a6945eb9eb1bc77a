#!/usr/bin/env bash
# Copies functions/_shared/inputmode.{mjs,py} into every function folder of the matching runtime:
# a deployed folder is self-contained, so each one carries its own copy (a test keeps them equal).
set -euo pipefail
cd "$(dirname "$0")/../../functions"
for dir in */; do
  dir=${dir%/}
  [[ $dir == _* || ! -f $dir/function.json ]] && continue
  if grep -q '"runtime": *"python"' "$dir/function.json"; then cp _shared/inputmode.py "$dir/inputmode.py"
  else cp _shared/inputmode.mjs "$dir/inputmode.mjs"; fi
done
