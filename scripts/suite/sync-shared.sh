#!/usr/bin/env bash
# Copies the shared helpers from functions/_shared into the function folders that use them (run by
# scripts/setup-suite.sh; the copies are git-ignored): a deployed
# folder is self-contained (/var/task sees nothing else), so each carries its own copy, and
# test/suite/shared.test.ts fails when a copy drifts from functions/_shared. Run after editing _shared.
set -euo pipefail
cd "$(dirname "$0")/../../functions"
for dir in */; do
  dir=${dir%/}
  [[ $dir == _* || ! -f $dir/function.json ]] && continue
  if grep -q '"runtime": *"python"' "$dir/function.json"; then cp _shared/inputmode.py "$dir/inputmode.py"
  else cp _shared/inputmode.mjs "$dir/inputmode.mjs"; fi
done
for dir in lr-training lr-serving; do cp _shared/reviews.py "$dir/reviews.py"; done
