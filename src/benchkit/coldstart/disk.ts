import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The disk's sequential bandwidth as the working-set fetch sees it: one large O_DIRECT read (dd),
 * measured in the same run as the cold starts so that "WS read bandwidth vs disk" is a same-run ratio.
 */
export async function directReadMBps(scratchFile: string, sizeMB = 256): Promise<number> {
  await run('dd', ['if=/dev/urandom', `of=${scratchFile}`, 'bs=1M', `count=${sizeMB}`, 'conv=fsync'], { maxBuffer: 1 << 20 });
  try {
    const { stderr } = await run('dd', [`if=${scratchFile}`, 'of=/dev/null', `bs=${sizeMB}M`, 'count=1', 'iflag=direct'], { maxBuffer: 1 << 20 });
    // "268435456 bytes (268 MB, 256 MiB) copied, 0.14 s, 1.9 GB/s"
    const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr);
    if (!m) throw new Error(`cannot parse dd output: ${stderr.trim()}`);
    return Number(m[1]) / 1e6 / Number(m[2]);
  } finally {
    await rm(scratchFile, { force: true });
  }
}
