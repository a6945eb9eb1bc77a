#!/usr/bin/env bash
# Same-run A/B of cold starts between another checkout (built: dist, native, CRIU) and this one:
# rounds of `hivelab coldstart` run alternately in each, so both see the same machine and load.
#   bench/restore-ab.sh BASE_CHECKOUT [ROUNDS] [FUNCTIONS] [MODES]
# Writes OUT/<side>-<round>.json (default OUT=/tmp/restore-ab) and prints the medians per row.
set -euo pipefail
base=${1:?usage: bench/restore-ab.sh BASE_CHECKOUT [ROUNDS] [FUNCTIONS] [MODES]}
rounds=${2:-3}
functions=${3:-helloworld-node,helloworld-python}
modes=${4:-boot,snapshot,reap}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/restore-ab}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for side in base this; do
    dir=$here; [ "$side" = base ] && dir=$base
    (cd "$dir" && timeout 1800 node bin/hivelab.js coldstart --functions "$functions" --modes "$modes" --iterations 10 --cache warm --json >"$out/$side-$round.json" 2>"$out/$side-$round.err")
    echo "round $round, $side: done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done
node -e '
const fs = require("fs"); const [out, rounds] = [process.argv[1], Number(process.argv[2])];
const rows = {};
for (const side of ["base", "this"]) for (let r = 1; r <= rounds; r++)
  for (const x of JSON.parse(fs.readFileSync(`${out}/${side}-${r}.json`)).results)
    ((rows[`${x.function}, ${x.mode}`] ??= {})[side] ??= []).push([x.latencyMs.median, x.breakdownMs.restore, x.breakdownMs.connect]);
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)].toFixed(1);
console.log("| function, mode | cold start base → this | restore part | connect |\n| --- | --- | --- | --- |");
for (const [k, v] of Object.entries(rows)) {
  const f = (i) => `${med(v.base.map((t) => t[i]))} → ${med(v.this.map((t) => t[i]))}`;
  console.log(`| ${k} | ${f(0)} | ${f(1)} | ${f(2)} |`);
}' "$out" "$rounds"
