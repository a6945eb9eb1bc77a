import { svg } from './dom.js';

// Desired vs actual instances over time as stepped lines, with panic periods shaded: the
// picture of fig. 2.x in the thesis, drawn as a small inline SVG (no charting library).
export function scaleChart(points, { width = 560, height = 120, now = Date.now() } = {}) {
  const pad = { left: 28, right: 8, top: 8, bottom: 18 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'scale-chart', role: 'img' });
  if (points.length === 0) {
    root.append(svg('text', { x: pad.left, y: height / 2, class: 'axis' }, 'no autoscaler decisions yet'));
    return root;
  }
  const t0 = points[0].time;
  const t1 = Math.max(now, points[points.length - 1].time, t0 + 1000);
  const max = Math.max(1, ...points.map((p) => Math.max(p.desired, p.actual)));
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * w;
  const y = (v) => pad.top + hgt - (v / max) * hgt;

  // Panic windows first, so the lines draw on top.
  let panicStart = null;
  points.forEach((p, i) => {
    const end = i + 1 < points.length ? points[i + 1].time : t1;
    if (p.panic && panicStart === null) panicStart = p.time;
    const last = i + 1 === points.length || !points[i + 1].panic;
    if (panicStart !== null && (!p.panic || last)) {
      const stop = p.panic ? end : p.time;
      root.append(svg('rect', { x: x(panicStart), y: pad.top, width: Math.max(1, x(stop) - x(panicStart)), height: hgt, class: 'panic' }));
      panicStart = null;
    }
  });

  const stepPath = (key) => {
    let d = `M${x(points[0].time).toFixed(1)},${y(points[0][key]).toFixed(1)}`;
    for (let i = 1; i < points.length; i++) d += `H${x(points[i].time).toFixed(1)}V${y(points[i][key]).toFixed(1)}`;
    return d + `H${x(t1).toFixed(1)}`;
  };
  root.append(svg('path', { d: stepPath('desired'), class: 'desired' }));
  root.append(svg('path', { d: stepPath('actual'), class: 'actual' }));

  root.append(svg('line', { x1: pad.left, x2: pad.left + w, y1: pad.top + hgt, y2: pad.top + hgt, class: 'axis-line' }));
  root.append(svg('text', { x: pad.left - 4, y: pad.top + 8, class: 'axis', 'text-anchor': 'end' }, String(max)));
  root.append(svg('text', { x: pad.left - 4, y: pad.top + hgt, class: 'axis', 'text-anchor': 'end' }, '0'));
  root.append(svg('text', { x: pad.left, y: height - 4, class: 'axis' }, `-${Math.round((t1 - t0) / 1000)}s`));
  root.append(svg('text', { x: pad.left + w, y: height - 4, class: 'axis', 'text-anchor': 'end' }, 'now'));
  return root;
}
