/**
 * The Node shim is CommonJS (`.cts` → `.cjs`, see shim.cts for why) and tsconfig's `include` only
 * matches `*.ts`: these type-only re-exports pull the `.cts` sources into the program, so the normal
 * build type-checks them and emits dist/runtime/node/{shim,reseed,handler-loader}.cjs.
 */
export type {} from './shim.cjs';
export type {} from './reseed.cjs';
export type { Handler } from './handler-loader.cjs';
export type {} from './lambda-context.cjs';
export type {} from './lambda-callback.cjs';
