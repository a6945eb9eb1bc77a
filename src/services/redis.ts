/**
 * The embedded Redis for the redis transport: Debian's redis-server on 127.0.0.1, a private port, a
 * random password (secure by default), its directory under `<state>/redis`, no persistence.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { onFreePort } from './free-port.js';
import { startManagedProcess, type ManagedProcess, type ServiceCrashedError, type ServiceStatus } from './managed-process.js';

export interface RedisService {
  host: string;
  port: number;
  password: string;
  readonly crashed: boolean;
  status(): ServiceStatus;
  stop(): Promise<void>;
}

/** One PING over raw RESP: ready means authenticated and answering. */
function ping(host: string, port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write(`AUTH ${password}\r\nPING\r\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('+PONG')) done(true);
      else if (buf.includes('-')) done(false);
    });
  });
}

export async function startRedis(opts: {
  stateDir: string;
  binary?: string;
  maxMemoryBytes?: number;
  onCrash?: (err: ServiceCrashedError) => void;
  onRestart?: (name: string, restarts: number) => void;
}): Promise<RedisService> {
  const dir = path.join(opts.stateDir, 'redis');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const host = '127.0.0.1';
  const password = randomBytes(18).toString('base64url');
  // The password goes in the configuration redis-server reads from stdin (`redis-server -`), not on
  // its command line, where every local user could read it in /proc/<pid>/cmdline.
  const config = `requirepass "${password}"\n`;
  const args = (port: number) => [
    '-',
    '--bind', host,
    '--port', String(port),
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'yes',
    '--daemonize', 'no',
    '--logfile', '',
    // 100 MB objects are legal here; Redis' default bulk limit is 512 MB
    '--proto-max-bulk-len', String(1024 * 1024 * 1024),
    '--client-output-buffer-limit', 'normal 0 0 0',
  ];
  const memory = opts.maxMemoryBytes ? ['--maxmemory', String(opts.maxMemoryBytes), '--maxmemory-policy', 'noeviction'] : [];
  const { port, proc } = await onFreePort(async (port) => {
    const proc: ManagedProcess = await startManagedProcess({
      name: 'redis-server',
      command: opts.binary ?? '/usr/bin/redis-server',
      args: [...args(port), ...memory],
      stdin: config,
      // only our redis knows the password, so a server that took the port never passes
      probe: () => ping(host, port, password),
      onCrash: opts.onCrash,
      onRestart: opts.onRestart,
    });
    return { port, proc };
  }, host);
  return {
    host,
    port,
    password,
    get crashed() {
      return proc.crashed;
    },
    status: () => proc.status(),
    stop: () => proc.stop(),
  };
}
