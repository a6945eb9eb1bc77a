import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SANDBOX_UID_BASE, SANDBOX_UID_END } from './launch.js';

/**
 * One unprivileged uid (= gid) per function, remembered in the state folder so a function keeps
 * its uid across worker restarts and in every snapshot clone (CRIU restores credentials from the
 * image). Two functions never share a uid, so one function's instances cannot signal, ptrace or
 * read the files of another's. The range is [SANDBOX_UID_BASE, SANDBOX_UID_END) — no host account
 * lives there (docs/SANDBOX.md).
 *
 * Storage: `<dir>/<uid>` holds the function's name. A claim is the name written to a private file
 * first and then link()ed to `<uid>`: the link fails if the uid is taken, and a claim is never
 * visible without its name (an O_EXCL create followed by a write let a racing worker read an empty
 * claim, skip it and take a second uid for the same function). So workers sharing the state
 * folder never hand one uid to two functions, and if two race to allocate for the same function,
 * every lower claim was complete before the later link, so both settle on the lowest uid recorded
 * for it (the other stays unused).
 */
export class SandboxUids {
  /** What the folder held at the last read: names only ever gain a lower uid, never lose one. */
  private byName = new Map<string, number>();
  /** Allocations of this process run one at a time; other processes are kept apart by link(). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly base = SANDBOX_UID_BASE,
    private readonly end = SANDBOX_UID_END,
  ) {}

  /** The function's uid, allocating the next free one on first use. */
  async uidFor(functionName: string): Promise<number> {
    if (!functionName) throw new Error('a function needs a name to get a uid');
    const cached = this.byName.get(functionName);
    if (cached !== undefined) return cached;
    const run = this.queue.then(() => this.allocate(functionName));
    this.queue = run.catch(() => {});
    return run;
  }

  private async allocate(functionName: string): Promise<number> {
    const highest = await this.read();
    const known = this.byName.get(functionName);
    if (known !== undefined) return known;
    const claim = join(this.dir, `.claim-${process.pid}-${randomBytes(6).toString('hex')}`);
    await writeFile(claim, functionName, { mode: 0o600 });
    try {
      // claims are never left with a gap below them, so every uid up to `highest` is taken
      for (let uid = highest + 1; uid < this.end; uid++) {
        try {
          await link(claim, join(this.dir, String(uid)));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
          throw err;
        }
        await this.read();
        return this.byName.get(functionName)!;
      }
    } finally {
      await rm(claim, { force: true });
    }
    throw new Error(`no sandbox uid left in [${this.base}, ${this.end}) under ${this.dir}`);
  }

  /** Reads every claim into `byName` (lowest uid per name) and returns the highest uid taken. */
  private async read(): Promise<number> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let highest = this.base - 1;
    const byName = new Map<string, number>();
    for (const f of await readdir(this.dir)) {
      const uid = Number(f);
      if (!Number.isInteger(uid) || uid < this.base || uid >= this.end) continue;
      highest = Math.max(highest, uid);
      const name = await readFile(join(this.dir, f), 'utf8');
      const known = byName.get(name);
      if (known === undefined || uid < known) byName.set(name, uid);
    }
    this.byName = byName;
    return highest;
  }
}
