import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestSchema, type FunctionManifest } from './schema.js';
import { resolveScalingConfig } from '../autoscaler/config.js';
import { policyNames } from '../autoscaler/registry.js';

const MAX_MANIFEST_BYTES = 64 * 1024;

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
  const file = join(dir, 'function.json');
  // Read through a descriptor opened without following a symbolic link: a function.json linked to
  // /etc/shadow must be refused, and nothing of the target may appear in the error.
  let text: string;
  try {
    const st = await lstat(file);
    if (st.isSymbolicLink()) throw new ManifestError(`${file} is a symbolic link; the manifest must be a regular file in the folder`);
    if (!st.isFile()) throw new ManifestError(`${file} is not a regular file`);
    if (st.size > MAX_MANIFEST_BYTES) throw new ManifestError(`${file} is ${st.size} B; a manifest may have at most ${MAX_MANIFEST_BYTES} B`);
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (optional && code === 'ENOENT') return {};
    throw new ManifestError(code === 'ELOOP' ? `${file} is a symbolic link; the manifest must be a regular file in the folder` : `cannot read ${file}: ${code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // the parser's message quotes the text it choked on: give only where it choked
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ManifestError(`function.json is not valid JSON${at ? ` (at byte ${at})` : ''}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError('function.json must be a JSON object');
  return raw as Record<string, unknown>;
}

/** Reads and validates `<dir>/function.json`. */
export async function loadManifest(dir: string): Promise<FunctionManifest> {
  return parseManifest(await readManifestObject(dir));
}
