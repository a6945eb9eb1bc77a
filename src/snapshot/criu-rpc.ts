/**
 * The few messages of CRIU's RPC protocol (images/rpc.proto in CRIU's source) a restore through a
 * ready CRIU needs (ready-criu.ts): a `criu_req` of type RESTORE with its `criu_opts`, and the
 * `criu_resp`. Hand-encoded: a dozen fields do not justify loading a .proto per worker, and the
 * field numbers below are checked against CRIU's own rpc.proto by test/snapshot/criu-rpc.test.ts.
 */

/** criu_opts fields (rpc.proto). */
const OPT = {
  imagesDirFd: 1,
  extUnixSk: 4,
  logLevel: 9,
  logFile: 10,
  root: 13,
  workDirFd: 17,
  rstSibling: 26,
  inheritFd: 27,
  manageCgroupsMode: 34,
  external: 37,
  lazyPages: 48,
} as const;
const REQ_TYPE_RESTORE = 2;
/** criu_cg_mode IGNORE: the relay put CRIU in the instance's cgroups already; CRIU leaves them be. */
const CG_MODE_IGNORE = 0;

export interface CriuRestoreRequest {
  /**
   * Descriptors of the images and work folders in the process at the other end of the socket
   * (CRIU opens /proc/<peer>/fd/N; 4.1.1 cannot take images_dir as a path: it readlink()s it).
   */
  imagesDirFd: number;
  workDirFd: number;
  logFile: string;
  logLevel: number;
  root: string;
  /** `--external` values (mounts, the network namespace). */
  external: string[];
  /** `--inherit-fd fd[N]:KEY`: descriptors in CRIU's own table. */
  inheritFds: { key: string; fd: number }[];
  lazyPages: boolean;
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n); // int32 -1 is ten bytes, as protobuf sign-extends
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

class Writer {
  private readonly bytes: number[] = [];
  int(field: number, v: number | boolean): this {
    this.bytes.push(...varint(BigInt(field << 3)), ...varint(BigInt(typeof v === 'boolean' ? Number(v) : v)));
    return this;
  }
  raw(field: number, data: Uint8Array): this {
    this.bytes.push(...varint(BigInt((field << 3) | 2)), ...varint(BigInt(data.length)), ...data);
    return this;
  }
  str(field: number, s: string): this {
    return this.raw(field, Buffer.from(s, 'utf8'));
  }
  done(): Buffer {
    return Buffer.from(this.bytes);
  }
}

/** The encoded `criu_req` for one restore. */
export function encodeRestoreRequest(r: CriuRestoreRequest): Buffer {
  const opts = new Writer()
    .int(OPT.imagesDirFd, r.imagesDirFd)
    .int(OPT.workDirFd, r.workDirFd)
    .str(OPT.logFile, r.logFile)
    .int(OPT.logLevel, r.logLevel)
    .str(OPT.root, r.root)
    .int(OPT.extUnixSk, true)
    .int(OPT.rstSibling, true) // the restored tree becomes the relay's child (criu_swrk.c)
    .int(OPT.manageCgroupsMode, CG_MODE_IGNORE);
  for (const e of r.external) opts.str(OPT.external, e);
  for (const i of r.inheritFds) opts.raw(OPT.inheritFd, new Writer().str(1, i.key).int(2, i.fd).done());
  if (r.lazyPages) opts.int(OPT.lazyPages, true);
  return new Writer().int(1, REQ_TYPE_RESTORE).raw(2, opts.done()).done();
}

export interface CriuResponse {
  type: number;
  success: boolean;
  /** criu_restore_resp.pid: the restored root's host PID. */
  pid?: number;
  errno?: number;
  errmsg?: string;
}

/** Decodes a `criu_resp`, skipping fields it does not know. Throws on a malformed message. */
export function decodeResponse(buf: Uint8Array): CriuResponse {
  const fields = readFields(buf);
  const out: CriuResponse = { type: 0, success: false };
  for (const f of fields) {
    if (f.field === 1 && f.value !== undefined) out.type = Number(f.value);
    else if (f.field === 2 && f.value !== undefined) out.success = f.value !== 0n;
    else if (f.field === 4 && f.data) {
      const pid = readFields(f.data).find((x) => x.field === 1 && x.value !== undefined);
      if (pid) out.pid = Number(BigInt.asIntN(32, pid.value!));
    } else if (f.field === 7 && f.value !== undefined) out.errno = Number(BigInt.asIntN(32, f.value));
    else if (f.field === 9 && f.data) out.errmsg = Buffer.from(f.data).toString('utf8');
  }
  return out;
}

function readFields(buf: Uint8Array): { field: number; value?: bigint; data?: Uint8Array }[] {
  const out: { field: number; value?: bigint; data?: Uint8Array }[] = [];
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length || shift > 63n) throw new Error('malformed criu_resp: truncated varint');
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) out.push({ field, value: readVarint() });
    else if (wire === 2) {
      const len = Number(readVarint());
      if (i + len > buf.length) throw new Error('malformed criu_resp: field runs past the end');
      out.push({ field, data: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else throw new Error(`malformed criu_resp: wire type ${wire}`);
  }
  return out;
}
