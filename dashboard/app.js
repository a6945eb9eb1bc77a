import { h, ms, bytes } from './dom.js';
import { scaleChart } from './scale-chart.js';
import { waterfall } from './waterfall.js';

// The page is a pure function of the last `state` the server pushed over /v1/events; it never
// merges deltas, so a reconnect or a missed event cannot leave it inconsistent.

const $ = (id) => document.getElementById(id);

function replace(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter(Boolean));
}

function renderFunctions(state) {
  if (state.functions.length === 0) return replace($('functions'), h('p', { class: 'empty' }, 'No functions deployed.'));
  replace($('functions'), h('table', { class: 'functions' },
    h('thead', null, h('tr', null, ['function', 'mode', 'invocations', 'req/s', 'p50', 'p99', 'queued', 'instances'].map((c) => h('th', null, c)))),
    h('tbody', null, state.functions.map((f) => h('tr', { 'data-function': f.name },
      h('td', null, h('strong', null, f.name), f.version ? h('small', null, ` ${f.version}`) : null),
      h('td', f.coldStartFallback ? { title: f.coldStartFallback, 'data-fallback': f.coldStartFallback } : null, f.coldStartMode ?? '–'),
      h('td', { class: 'num', 'data-metric': 'invocations' }, String(f.invocations)),
      h('td', { class: 'num', 'data-metric': 'rps' }, f.live.rps.toFixed(1)),
      h('td', { class: 'num', 'data-metric': 'p50' }, ms(f.live.p50Ms)),
      h('td', { class: 'num', 'data-metric': 'p99' }, ms(f.live.p99Ms)),
      h('td', { class: 'num' }, String(f.queued ?? 0)),
      h('td', { class: 'instances' }, f.instances.length === 0 ? h('span', { class: 'empty' }, 'scaled to zero') :
        f.instances.map((i) => h('span', {
          class: `instance ${i.state}`, 'data-instance': i.id, 'data-state': i.state,
          title: [i.coldStartMode && `started by ${i.coldStartMode}`, i.startedAt && `started ${new Date(i.startedAt).toLocaleTimeString()}`, i.invocations !== undefined && `${i.invocations} invocations`].filter(Boolean).join(', '),
        }, i.id, h('small', null, ` ${i.state}${i.inFlight ? ` (${i.inFlight})` : ''}`))))))))); 
}

function renderScale(state) {
  replace($('scale'), state.functions.map((f) => {
    const last = f.scale[f.scale.length - 1];
    const caption = last ? ` — desired ${last.desired}, actual ${last.actual}${last.panic ? ', panic' : ''}` : '';
    return h('figure', { 'data-function': f.name }, h('figcaption', null, h('strong', null, f.name), caption), scaleChart(f.scale, { now: state.time }));
  }));
}

function renderSnapshots(state) {
  const withStats = state.functions.filter((f) => f.snapshot);
  const banner = state.snapshots && !state.snapshots.available
    ? h('p', { class: 'problem', 'data-snapshots': 'unavailable' }, `Snapshots are unavailable on this machine: ${state.snapshots.reason}. Functions with a snapshot cold-start mode boot.`)
    : null;
  if (withStats.length === 0) return replace($('snapshots'), banner, h('p', { class: 'empty' }, 'No snapshots yet.'));
  replace($('snapshots'), banner, h('table', null,
    h('thead', null, h('tr', null, ['function', 'snapshot', 'memory', 'working set', 'WS pages', 'prefetched', 'on demand', 'restores', 'last restore'].map((c) => h('th', null, c)))),
    h('tbody', null, withStats.map(({ name, snapshot: s }) => h('tr', { 'data-function': name },
      h('td', null, name), h('td', { class: 'num' }, bytes(s.snapshotBytes)), h('td', { class: 'num' }, bytes(s.memoryBytes)),
      h('td', { class: 'num' }, bytes(s.workingSetBytes)), h('td', { class: 'num' }, s.workingSetPages ?? '–'),
      h('td', { class: 'num', 'data-metric': 'prefetched' }, s.pagesPrefetched ?? '–'), h('td', { class: 'num', 'data-metric': 'on-demand' }, s.pagesOnDemand ?? '–'),
      h('td', { class: 'num' }, s.restores ?? '–'), h('td', { class: 'num' }, ms(s.lastRestoreMs)))))));
}

function renderTraces(state) {
  if (state.traces.length === 0) return replace($('traces'), h('p', { class: 'empty' }, 'No traces yet (is sampling on?).'));
  replace($('traces'), h('table', { class: 'traces' },
    h('thead', null, h('tr', null, ['when', 'function', 'invocation', 'duration', 'spans', ''].map((c) => h('th', null, c)))),
    h('tbody', null, state.traces.map((t) => h('tr', { 'data-trace': t.traceId },
      h('td', null, new Date(t.startMs).toLocaleTimeString()),
      h('td', null, t.functions.join(' → ')),
      h('td', null, h('a', { href: `#trace=${encodeURIComponent(t.invocationIds[0] ?? t.traceId)}`, class: 'open-trace' }, t.invocationIds[0] ?? t.traceId)),
      h('td', { class: 'num' }, ms(t.durationMs)),
      h('td', { class: 'num' }, String(t.spanCount)),
      h('td', null, t.cold ? h('span', { class: 'badge cold' }, 'cold') : null, t.error ? h('span', { class: 'badge error' }, 'error') : null))))));
}

function renderEvents(state) {
  replace($('events'), state.events.slice().reverse().map((e) => h('li', { 'data-type': e.type },
    h('time', null, new Date(e.time).toLocaleTimeString()), ' ', h('strong', null, e.type), ' ',
    [e.function, e.instance, e.message].filter(Boolean).join(' · '))));
}

// Sections are rebuilt only when their data changed, so a row does not vanish under the pointer
// between a mouse-down and a mouse-up (the state arrives every second).
const lastRendered = new Map();
function section(name, data, draw, state) {
  const key = JSON.stringify(data);
  if (lastRendered.get(name) === key) return;
  lastRendered.set(name, key);
  draw(state);
}

function render(state) {
  section('functions', state.functions.map(({ scale, snapshot, ...rest }) => rest), renderFunctions, state);
  // The chart's time axis ends at "now", so it is redrawn on every state.
  renderScale(state);
  section('snapshots', [state.snapshots, state.functions.map((f) => [f.name, f.snapshot])], renderSnapshots, state);
  section('traces', state.traces, renderTraces, state);
  section('events', state.events, renderEvents, state);
  document.body.dataset.updated = String(state.time);
}

async function showTraceFromHash() {
  const m = /^#trace=(.+)$/.exec(location.hash);
  const box = $('waterfall');
  if (!m) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const id = decodeURIComponent(m[1]);
  box.hidden = false;
  replace(box, h('p', { class: 'empty' }, `Loading trace ${id}…`));
  const res = await fetch(`/v1/traces/${encodeURIComponent(id)}`, { credentials: 'same-origin' });
  if (!res.ok) return replace(box, h('p', { class: 'error' }, `Trace ${id}: ${res.status === 404 ? 'not found (not sampled, or no longer kept)' : res.statusText}`));
  replace(box, waterfall(await res.json(), () => (location.hash = '')));
  box.scrollIntoView({ block: 'nearest' });
}

async function loadReports() {
  const res = await fetch('/v1/reports', { credentials: 'same-origin' });
  if (!res.ok) return replace($('reports'), h('p', { class: 'error' }, `Reports: ${res.statusText}`));
  const { reports } = await res.json();
  if (reports.length === 0) return replace($('reports'), h('p', { class: 'empty' }, 'No reports yet: run hivelab bench or hivelab coldstart.'));
  const href = (r, file) => `/v1/reports/${encodeURIComponent(r.name)}/${file.split('/').map(encodeURIComponent).join('/')}`;
  replace($('reports'), h('ul', { class: 'reports' }, reports.map((r) => h('li', { 'data-report': r.name },
    h('div', null,
      r.index ? h('a', { href: href(r, r.index), target: '_blank', rel: 'noopener' }, r.name) : h('strong', null, r.name),
      ' ', h('span', { class: 'badge' }, r.kind), ' ', h('small', null, new Date(r.modifiedMs).toLocaleString()),
      ' ', h('small', null, `${r.files.length} files`)),
    r.plots.length ? h('div', { class: 'plots' }, r.plots.slice(0, 6).map((p) => h('a', { href: href(r, p), target: '_blank', rel: 'noopener' },
      h('img', { src: href(r, p), alt: p, loading: 'lazy' })))) : null))));
}

function connect() {
  const status = $('connection');
  const es = new EventSource('/v1/events');
  es.addEventListener('open', () => {
    status.dataset.state = 'live';
    status.textContent = 'live';
  });
  es.addEventListener('state', (e) => render(JSON.parse(e.data)));
  es.addEventListener('platform', (e) => {
    if (JSON.parse(e.data).type.startsWith('report')) loadReports();
  });
  es.addEventListener('error', () => {
    // EventSource reconnects by itself; a 401 (signed out, token rotated) means back to the form.
    status.dataset.state = 'reconnecting';
    status.textContent = 'reconnecting…';
    fetch('/v1/dashboard/state', { credentials: 'same-origin' }).then((r) => {
      if (r.status === 401 || r.status === 403) location.assign('/');
    }, () => {});
  });
}

window.addEventListener('hashchange', showTraceFromHash);
connect();
loadReports();
setInterval(loadReports, 30_000);
showTraceFromHash();
