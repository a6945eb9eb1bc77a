/**
 * The port bridge is CommonJS (`.cts` → `.cjs`, as the Node shim: no ESM loader on the cold-start
 * path); this type-only re-export pulls it into the program so the build emits
 * dist/runtime/port/bridge.cjs (tsconfig's `include` matches `*.ts` only).
 */
export type {} from './bridge.cjs';
