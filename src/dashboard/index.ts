/**
 * The web dashboard: `createDashboard({ view, metrics, traces, reportsDir, checkToken })` returns
 * a `(req, res) => boolean` handler for the gateway's node:http server. `ControlPlaneView`
 * (control-plane-view.ts) implements `PlatformView` over the control plane; `ScaleHistory` is a
 * ready-made store for its autoscaler ticks.
 */
export { createDashboard, type Dashboard, type DashboardOptions, type DashboardState, type FunctionPanel } from './dashboard.js';
export type { PlatformView, FunctionView, InstanceView, InstanceState, ScalePoint, SnapshotStats, PlatformEvent } from './platform-view.js';
export { ScaleHistory } from './scale-history.js';
export { listReports, type ReportEntry } from './reports.js';
