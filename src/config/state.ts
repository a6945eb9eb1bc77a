import { resolve, join } from 'node:path';

/** Where everything the platform keeps lives; one folder so a researcher can wipe or copy a run. */
export interface StatePaths {
  root: string;
  tokens: string;
  platform: string;
  deployments: string;
  functions: string;
  logs: string;
  run: string;
  snapshots: string;
  traces: string;
  reports: string;
}

export const DEFAULT_STATE_DIR = '.hivelab';

export function statePaths(dir: string = process.env.HIVELAB_STATE ?? DEFAULT_STATE_DIR): StatePaths {
  const root = resolve(dir);
  return {
    root,
    tokens: join(root, 'tokens.json'),
    platform: join(root, 'platform.json'),
    deployments: join(root, 'deployments.json'),
    functions: join(root, 'functions'),
    logs: join(root, 'logs'),
    // Unix socket paths are limited to 108 bytes: instance folders live under a short path.
    run: join(root, 'run'),
    snapshots: join(root, 'snapshots'),
    traces: join(root, 'traces'),
    reports: join(root, 'reports'),
  };
}
