#!/usr/bin/env bash
# Same-run A/B of CRIU's fixed part of a restore (issue 15: ≤ 10 ms for the hello-worlds) between
# another checkout (built: dist, native, CRIU) and this one, in alternating rounds:
#   bench/criu-fixed-ab.sh BASE_CHECKOUT [ROUNDS] [FUNCTIONS]
# Per round and side, two `hivelab coldstart --modes snapshot --cache warm` runs:
#   - with CRIU's -v4 log kept: bench/restore-phases.mjs splits CRIU's run into the restorer's page
#     reading and the rest (the fixed part); -v4 writes ~1300 log lines per restore, which costs
#     time of its own;
#   - at the default log level: CRIU's time from the request to its answer, timed by the relay that
#     keeps it ready (criu_ms), of which the page reading measured above is subtracted: the fixed
#     part without the log's cost.
# Prints the medians over the rounds. Logs and JSON go to OUT (default /tmp/criu-fixed-ab).
set -euo pipefail
base=${1:?usage: bench/criu-fixed-ab.sh BASE_CHECKOUT [ROUNDS] [FUNCTIONS]}
rounds=${2:-3}
functions=${3:-helloworld-node,helloworld-python}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/criu-fixed-ab}
[ -z "${SUMMARY_ONLY:-}" ] && rm -rf "$out"
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  [ -n "${SUMMARY_ONLY:-}" ] && break
  for side in base this; do
    dir=$here; [ "$side" = base ] && dir=$base
    for fn in ${functions//,/ }; do
      logs="$out/$side-$round-$fn"
      (cd "$dir" && HIVELAB_CRIU_LOG_LEVEL=4 HIVELAB_CRIU_KEEP_LOGS="$logs" timeout 900 node bin/hivelab.js coldstart --functions "$fn" --modes snapshot --iterations 8 --cache warm >/dev/null 2>"$logs.err")
      node "$here/bench/restore-phases.mjs" "$logs" --top 0 | awk '/^median/ {n = split($0, f, "|"); print f[n-2] + 0, f[n-1] + 0, f[n] + 0}' >"$logs.v4"
      (cd "$dir" && timeout 900 node bin/hivelab.js coldstart --functions "$fn" --modes snapshot --iterations 8 --cache warm --json >"$logs.json" 2>>"$logs.err")
    done
    echo "round $round, $side: done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done
node -e '
const fs = require("fs"); const [out, rounds, fns] = [process.argv[1], Number(process.argv[2]), process.argv[3].split(",")];
const med = (a) => { const s = [...a].sort((p, q) => p - q); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log("| function | side | CRIU run, -v4 | pages | fixed part, -v4 | CRIU, default log level | fixed part without the log (CRIU − pages) |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const fn of fns) for (const side of ["base", "this"]) {
  const v4 = [], rpc = [];
  for (let r = 1; r <= rounds; r++) {
    const p = `${out}/${side}-${r}-${fn}`;
    v4.push(fs.readFileSync(`${p}.v4`, "utf8").trim().split(/\s+/).map(Number));
    rpc.push(JSON.parse(fs.readFileSync(`${p}.json`, "utf8")).results[0].breakdownMs.criu);
  }
  const [run, pages, fixed] = [0, 1, 2].map((i) => med(v4.map((x) => x[i])));
  // a checkout from before the relay timed CRIU reports no criu_ms
  const req = rpc.includes(undefined) ? null : med(rpc);
  const show = (x) => (x === null ? "–" : x.toFixed(1));
  console.log(`| ${fn} | ${side} | ${run.toFixed(1)} | ${pages.toFixed(1)} | ${fixed.toFixed(1)} | ${show(req)} | ${show(req === null ? null : req - pages)} |`);
}' "$out" "$rounds" "$functions"
