import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SANDBOX_UID_BASE, SANDBOX_UID_END } from './launch.js';

/**
 * One unprivileged uid (= gid) per function, remembered in the state folder so a function keeps
 * its uid across worker restarts and in every snapshot clone (CRIU restores credentials from the
 * image). Two functions never share a uid, so one function's instances cannot signal, ptrace or
 * read the files of another's. The range is [SANDBOX_UID_BASE, SANDBOX_UID_END) — no host account
 * lives there (docs/SANDBOX.md).
 *
 * Storage: `<dir>/<uid>` holds the function's name, created with O_EXCL, so workers sharing the
 * state folder never hand one uid to two functions; if two workers race to allocate for the same
 * function, both settle on the lowest uid recorded for it (the other stays unused).
 */
export class SandboxUids {
  private readonly byName = new Map<string, number>();
  private loaded = false;

  constructor(
    private readonly dir: string,
    private readonly base = SANDBOX_UID_BASE,
    private readonly end = SANDBOX_UID_END,
  ) {}

  private async load(): Promise<number> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let highest = this.base - 1;
    this.byName.clear();
    for (const f of await readdir(this.dir)) {
      const uid = Number(f);
      if (!Number.isInteger(uid) || uid < this.base || uid >= this.end) continue;
      highest = Math.max(highest, uid);
      const name = await readFile(join(this.dir, f), 'utf8').catch(() => '');
      if (!name) continue; // being written by another worker
      const known = this.byName.get(name);
      if (known === undefined || uid < known) this.byName.set(name, uid);
    }
    this.loaded = true;
    return highest;
  }

  /** The function's uid, allocating the next free one on first use. */
  async uidFor(functionName: string): Promise<number> {
    if (!functionName) throw new Error('a function needs a name to get a uid');
    const cached = this.loaded ? this.byName.get(functionName) : undefined;
    if (cached !== undefined) return cached;
    let highest = await this.load();
    const known = this.byName.get(functionName);
    if (known !== undefined) return known;
    for (let uid = highest + 1; uid < this.end; uid++) {
      try {
        const fh = await open(join(this.dir, String(uid)), 'wx', 0o600);
        await fh.writeFile(functionName);
        await fh.close();
        await this.load();
        return this.byName.get(functionName)!;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        highest = uid;
      }
    }
    throw new Error(`no sandbox uid left in [${this.base}, ${this.end}) under ${this.dir}`);
  }
}
