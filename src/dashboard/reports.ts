import { readdir, stat, realpath, readFile } from 'node:fs/promises';
import { join, relative, sep, isAbsolute } from 'node:path';

/** A folder written by `hivelab bench` or `hivelab coldstart` under `<state>/reports/`. */
export interface ReportEntry {
  name: string;
  /** `bench`, `coldstart`, or whatever the folder's report.json says. */
  kind: string;
  /** Epoch ms of the folder's last change. */
  modifiedMs: number;
  /** The page to open, if the report has one (e.g. `report.html`). */
  index?: string;
  /** Plot images, shown as thumbnails. */
  plots: string[];
  files: Array<{ path: string; bytes: number }>;
}

const MAX_FILES = 200;
const REPORT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function walk(root: string, dir: string, out: Array<{ path: string; bytes: number }>, depth: number): Promise<void> {
  if (depth > 3 || out.length >= MAX_FILES) return;
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (out.length >= MAX_FILES || e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(root, full, out, depth + 1);
    else if (e.isFile()) out.push({ path: relative(root, full).split(sep).join('/'), bytes: (await stat(full)).size });
  }
}

async function kindOf(dir: string, name: string): Promise<string> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as { kind?: unknown };
    if (typeof meta.kind === 'string') return meta.kind;
  } catch {
    // No metadata: fall back to the folder's name.
  }
  if (/^cold/i.test(name)) return 'coldstart';
  if (/^bench/i.test(name)) return 'bench';
  return 'report';
}

/** Newest first. A missing reports folder is simply an empty list. */
export async function listReports(reportsDir: string): Promise<ReportEntry[]> {
  let names: string[];
  try {
    names = (await readdir(reportsDir, { withFileTypes: true })).filter((e) => e.isDirectory() && REPORT_NAME.test(e.name)).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: ReportEntry[] = [];
  for (const name of names) {
    const dir = join(reportsDir, name);
    const files: Array<{ path: string; bytes: number }> = [];
    await walk(dir, dir, files, 0);
    const paths = files.map((f) => f.path);
    const index = ['report.html', 'index.html'].find((p) => paths.includes(p)) ?? paths.find((p) => p.endsWith('.html'));
    out.push({
      name,
      kind: await kindOf(dir, name),
      modifiedMs: (await stat(dir)).mtimeMs,
      ...(index ? { index } : {}),
      plots: paths.filter((p) => /\.(svg|png|jpe?g)$/i.test(p)),
      files,
    });
  }
  return out.sort((a, b) => b.modifiedMs - a.modifiedMs || a.name.localeCompare(b.name));
}

/**
 * The real path of `<reportsDir>/<name>/<file>`, or undefined if it does not exist or escapes the
 * report's folder (`..`, absolute paths, symlinks pointing outside).
 */
export async function resolveReportFile(reportsDir: string, name: string, file: string): Promise<string | undefined> {
  if (!REPORT_NAME.test(name) || file.includes('\0') || isAbsolute(file)) return undefined;
  try {
    const base = await realpath(join(reportsDir, name));
    const target = await realpath(join(base, file));
    const rel = relative(base, target);
    if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
    if (!(await stat(target)).isFile()) return undefined;
    return target;
  } catch {
    return undefined;
  }
}
