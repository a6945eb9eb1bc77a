#!/usr/bin/env node
// Cold start of an image function in each cold-start mode, through the platform: a busybox image
// (Debian's busybox-static, a shell script serving Knative's contract with `nc -ll`) deployed with
// `hivelab deploy --image` from a docker-archive, one instance stopped before each invocation.
// Prints, per mode, the median of --n runs of: the client's latency of the cold invocation, the
// instance's start (placement → ready), and which mode the start really used.
// Needs a build (npm run build && node scripts/copy-assets.mjs), root and /bin/busybox.
// Usage: node bench/image-coldstart.mjs [--n 5] [--modes boot,snapshot,lazy,reap]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { n: { type: 'string', default: '5' }, modes: { type: 'string', default: 'boot,snapshot,lazy,reap' } } });
const N = Number(values.n);
const MODES = values.modes.split(',');
const REPO = resolve(import.meta.dirname, '..');
const { startPlatform } = await import('../dist/platform.js');
const { percentile } = await import('../dist/core/percentile.js').catch(() => ({ percentile: undefined }));

// --- a docker-archive written by hand (ustar) ---------------------------------------------------
function header(name, size, type = '0', mode = 0o644, link = '') {
  const h = Buffer.alloc(512);
  const oct = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';
  h.write(name, 0, 100);
  h.write(oct(mode, 8), 100);
  h.write(oct(0, 8), 108);
  h.write(oct(0, 8), 116);
  h.write(oct(size, 12), 124);
  h.write(oct(0, 12), 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(link, 157, 100);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(oct(sum, 7) + ' ', 148);
  return h;
}
function tar(items) {
  const parts = [];
  for (const [name, body, type, mode, link] of items) {
    const b = Buffer.from(body ?? '');
    parts.push(header(name, type && type !== '0' ? 0 : b.length, type ?? '0', mode ?? (type === '5' ? 0o755 : 0o644), link));
    if ((!type || type === '0') && b.length) parts.push(b, Buffer.alloc((512 - (b.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
const sha = (b) => createHash('sha256').update(b).digest('hex');
const handler = `#!/bin/sh
len=0
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\\r')
  [ -z "$line" ] && break
  case "$line" in [Cc]ontent-[Ll]ength:*) len=$(printf '%s' "\${line#*:}" | tr -d ' ');; esac
done
head -c "$len" >/dev/null
printf 'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
`;
const layer = tar([
  ['bin/', '', '5'],
  ['bin/busybox', readFileSync('/bin/busybox'), '0', 0o755],
  ...['sh', 'nc', 'head', 'tr'].map((a) => [`bin/${a}`, '', '1', 0o755, 'bin/busybox']),
  ['app/', '', '5'],
  ['app/handler.sh', handler, '0', 0o755],
]);
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['exec nc -ll -p "$PORT" -e /app/handler.sh'], Env: ['PATH=/bin'], ExposedPorts: { '8080/tcp': {} } }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] } }));
const work = mkdtempSync(join(tmpdir(), 'hivelab-image-bench-'));
const archive = join(work, 'bench.tar');
writeFileSync(archive, tar([['manifest.json', JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: ['bench:1'], Layers: ['l/layer.tar'] }])], [`${sha(config)}.json`, config], ['l/', '', '5'], ['l/layer.tar', layer]]));

// --- the runs -------------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return percentile ? percentile(s, 50) : s[Math.floor(s.length / 2)];
};
// no instance the autoscaler keeps or brings back between runs: every measured invocation is cold
const settings = join(work, 'settings.json');
writeFileSync(settings, JSON.stringify({ scaling: { policy: 'fixed-keepalive', keepAliveS: 0 } }));
const platform = await startPlatform({ port: 0, quiet: true, workers: 1, stateDir: join(work, 'state') });
const rows = [];
try {
  for (const mode of MODES) {
    const name = `bench-${mode}`;
    // the CLI talks to this process's gateway: asynchronously, or the two would wait on each other
    await promisify(execFile)(process.execPath, [join(REPO, 'bin/hivelab.js'), 'deploy', '--image', archive, '--name', name, '--cold-start', mode, '--timeout', '120', '--manifest', settings, '--state', platform.paths.root], { timeout: 300_000 });
    const c = () => platform.control.controller(name);
    const stopAll = async () => {
      await Promise.all(c().instances.filter((i) => i.state !== 'dead').map((i) => c().recycle(i, true)));
      const until = Date.now() + 60_000;
      while (c().instances.some((i) => i.state !== 'dead') && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    };
    const lat = [];
    const start = [];
    const used = [];
    // the first start of a snapshot mode boots and dumps: made before the measured runs
    for (let i = 0; i < N + 1; i++) {
      await stopAll();
      const t0 = performance.now();
      const res = await fetch(`${platform.url}/invoke/${name}`, { method: 'POST', headers: { authorization: `Bearer ${platform.tokens.invoke}` }, body: 'x', signal: AbortSignal.timeout(200_000) });
      await res.arrayBuffer();
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
      if (res.headers.get('x-hivelab-cold') !== '1') throw new Error(`${name}: run ${i} was not a cold start`);
      const inst = c().instances.find((x) => x.id === res.headers.get('x-hivelab-instance-id'));
      if (i === 0) continue;
      lat.push(ms);
      start.push(inst.readyAt - inst.createdAt);
      used.push(inst.mode);
    }
    const modes = [...new Set(used)].map((m) => `${m}×${used.filter((u) => u === m).length}`).join(' ');
    rows.push({ mode, n: N, coldInvokeMs: median(lat), startMs: median(start), used: modes });
  }
} finally {
  await platform.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log('mode      n  cold invocation p50 ms  start p50 ms  start used');
for (const r of rows) console.log(`${r.mode.padEnd(9)} ${String(r.n).padStart(2)}  ${r.coldInvokeMs.toFixed(0).padStart(22)}  ${r.startMs.toFixed(0).padStart(12)}  ${r.used}`);
