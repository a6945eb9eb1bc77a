import { join } from 'node:path';
import type { SandboxBackend } from '../sandbox/backend.js';
import type { WorkerConfig } from './protocol.js';
import { ProcessBackend } from '../sandbox/process-backend.js';

/** Builds the worker's sandbox backend. */
export async function createSandboxBackend(config: WorkerConfig): Promise<SandboxBackend> {
  return new ProcessBackend({
    runtimeDir: join(config.rootDir, 'dist', 'runtime'),
    nodeModulesDir: join(config.rootDir, 'node_modules'),
  });
}
