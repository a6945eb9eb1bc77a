import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CRIU_VERSION } from '../../src/snapshot/criu.js';
import { decodeResponse, encodeRestoreRequest } from '../../src/snapshot/criu-rpc.js';

/**
 * Our hand-encoded CRIU RPC messages, checked against CRIU's own rpc.proto (from the source
 * scripts/setup-criu.sh unpacks) decoded by a real protobuf library: a wrong field number or wire
 * type shows up here, not as a restore that CRIU silently misreads.
 */

const PROTO = resolve(import.meta.dirname, `../../.cache/criu/criu-${CRIU_VERSION}/images/rpc.proto`);
const noProto = existsSync(PROTO) ? null : `CRIU's rpc.proto not found at ${PROTO} (run scripts/setup-criu.sh)`;
if (noProto) console.warn(`skipping the CRIU RPC codec tests: ${noProto}`);

describe.skipIf(noProto !== null)("CRIU's RPC messages", () => {
  const root = noProto ? null : protobuf.loadSync(PROTO);
  const req = () => root!.lookupType('criu_req');
  const resp = () => root!.lookupType('criu_resp');

  it('encodes a restore request that rpc.proto decodes field for field', () => {
    const bytes = encodeRestoreRequest({
      imagesDirFd: 7,
      workDirFd: 6,
      logFile: 'restore.log',
      logLevel: 4,
      root: '/dev/shm/hivelab-criu/sandbox-root-abc.criu',
      external: ['mnt[run-hivelab]:/state/run/fn-2', 'mnt[usr]:/usr'],
      inheritFds: [
        { key: 'instance-net', fd: 4 },
        { key: 'socket:[1234]', fd: 3 },
        { key: 'pipe:[99]', fd: 1 },
      ],
      lazyPages: true,
    });
    const m = req().toObject(req().decode(bytes), { enums: String, defaults: false });
    expect(m.type).toBe('RESTORE');
    expect(m.opts).toMatchObject({
      imagesDirFd: 7,
      workDirFd: 6,
      logFile: 'restore.log',
      logLevel: 4,
      root: '/dev/shm/hivelab-criu/sandbox-root-abc.criu',
      extUnixSk: true,
      rstSibling: true,
      manageCgroupsMode: 'IGNORE',
      lazyPages: true,
      external: ['mnt[run-hivelab]:/state/run/fn-2', 'mnt[usr]:/usr'],
      inheritFd: [
        { key: 'instance-net', fd: 4 },
        { key: 'socket:[1234]', fd: 3 },
        { key: 'pipe:[99]', fd: 1 },
      ],
    });
    // nothing else is set: a stray field would change what CRIU does
    expect(Object.keys(m.opts).sort()).toEqual(
      ['external', 'extUnixSk', 'imagesDirFd', 'inheritFd', 'lazyPages', 'logFile', 'logLevel', 'manageCgroupsMode', 'root', 'rstSibling', 'workDirFd'].sort(),
    );
  });

  it('leaves lazy pages out of an eager restore', () => {
    const bytes = encodeRestoreRequest({ imagesDirFd: 7, workDirFd: 6, logFile: 'r.log', logLevel: 2, root: '/r', external: [], inheritFds: [], lazyPages: false });
    expect(req().toObject(req().decode(bytes)).opts.lazyPages).toBeUndefined();
  });

  it("decodes CRIU's answers: a restored PID, and a failure with its errno and message", () => {
    const ok = resp().encode(resp().fromObject({ type: 'RESTORE', success: true, restore: { pid: 123456 } })).finish();
    expect(decodeResponse(ok)).toEqual({ type: 2, success: true, pid: 123456 });
    const bad = resp().encode(resp().fromObject({ type: 'RESTORE', success: false, crErrno: 56, crErrmsg: "Can't open images directory", status: 1 })).finish();
    expect(decodeResponse(bad)).toEqual({ type: 2, success: false, errno: 56, errmsg: "Can't open images directory" });
  });

  it('refuses a truncated or malformed answer instead of reading past it', () => {
    const ok = resp().encode(resp().fromObject({ type: 'RESTORE', success: true, restore: { pid: 42 }, crErrmsg: 'x'.repeat(50) })).finish();
    expect(() => decodeResponse(ok.subarray(0, ok.length - 10))).toThrow(/malformed criu_resp/);
    expect(() => decodeResponse(Buffer.from([0x0b]))).toThrow(/malformed criu_resp: wire type 3/);
    expect(() => decodeResponse(Buffer.from([0x08, 0xff]))).toThrow(/truncated varint/);
  });
});
