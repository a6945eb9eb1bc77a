import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestSchema, type FunctionManifest } from './schema.js';
import { resolveScalingConfig } from '../autoscaler/config.js';
import { policyNames } from '../autoscaler/registry.js';

/** Raised for a manifest that cannot be deployed; `field` names the offending path. */
export class ManifestError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Validates an already-parsed manifest and fills in defaults. */
export function parseManifest(raw: unknown): FunctionManifest {
  const result = manifestSchema.safeParse(raw);
  if (result.success) {
    checkScaling(result.data);
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(',') : '(root)');
  const shown = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
  throw new ManifestError(`function.json: ${field === '(root)' || issue.code === 'unrecognized_keys' ? '' : `field "${field}": `}${shown}`, field);
}

/** Scaling settings that are each valid alone but not together, or a policy nobody registered. */
function checkScaling(m: FunctionManifest): void {
  const policy = m.scaling?.policy;
  if (policy !== undefined && !policyNames().includes(policy)) {
    throw new ManifestError(`function.json: field "scaling.policy": unknown policy "${policy}" (known: ${policyNames().join(', ')})`, 'scaling.policy');
  }
  try {
    resolveScalingConfig(m.scaling, m.concurrency);
  } catch (err) {
    throw new ManifestError(`function.json: ${(err as Error).message}`, 'scaling');
  }
}

/** `<dir>/function.json` parsed but not validated; `{}` when absent and `optional`. */
export async function readManifestObject(dir: string, optional = false): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(join(dir, 'function.json'), 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ManifestError(`cannot read ${join(dir, 'function.json')}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`function.json is not valid JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError('function.json must be a JSON object');
  return raw as Record<string, unknown>;
}

/** Reads and validates `<dir>/function.json`. */
export async function loadManifest(dir: string): Promise<FunctionManifest> {
  return parseManifest(await readManifestObject(dir));
}
