/**
 * The port bridge's readiness probe: how the worker learns that a restored `command` instance can
 * serve. A CRIU clone's socket accepts whatever became of its program (the relay bound the listener
 * before the restore, and the bridge accepts on behalf of its program), so accepting says nothing.
 * Instead the worker sends PROBE_REQUEST as a connection's first bytes and reads the bridge's answer:
 * READY, or `not ready: <why>\n`; a bridge that exits first (it exits with its program) answers
 * nothing.
 *
 * The bridge checks its program end to end, on the connection it opened to the program's port for
 * this client: the port must accept; the program is then sent end-of-stream (a half-close: a server
 * closes an idle connection on it, and a program that cannot survive a restore notices at this, its
 * first connection since the restore, and dies); once the program closed its side, it must still be
 * running. A program that keeps a half-closed connection open is judged after GRACE_MS instead.
 *
 * Why these bytes: NUL starts no protocol's first message (HTTP/1.x starts with a method, h2c with
 * its preface), and only the worker and the queue-proxy connect to fn.sock, the queue-proxy with
 * HTTP/1.1 or h2c only. node: builtins only (this file runs in the bridge, inside the sandbox).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

export const PROBE_REQUEST = '\0hivelab-bridge-readiness\n';
export const READY = 'ready\n';
const NOT_READY = 'not ready: ';

/** How long a program may keep the probe's half-closed connection open before it is judged anyway. */
const GRACE_MS = 1000;
/** `PF_EXITING` in /proc/PID/stat's flags: set before an exiting task's descriptors are closed. */
const PF_EXITING = 0x4;

export function isProbeRequest(first: Buffer): boolean {
  return first.length === PROBE_REQUEST.length && first.toString('latin1') === PROBE_REQUEST;
}

/**
 * The program runs and is not on its way out. Its exit event comes after its descriptors are closed
 * (SIGCHLD is sent last), so a program whose death closed the probe's connection would still look
 * alive to `exitCode`: PF_EXITING says it is dying from the first step of its exit on.
 */
function running(program: ChildProcess): boolean {
  if (program.exitCode !== null || program.signalCode !== null || program.pid === undefined) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${program.pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // after the command name in parentheses: state, ppid, pgrp, session, tty_nr, tpgid, flags
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && fields[0] !== 'X' && (Number(fields[6]) & PF_EXITING) === 0;
}

/**
 * Answers a probe on `client`, using `upstream`, the connection to the program's port the bridge
 * opened for it (`refused`: its connect already failed).
 */
export function answerProbe(client: Socket, upstream: Socket, refused: Error | undefined, program: ChildProcess, port: number): void {
  let connected = !upstream.connecting && !refused;
  let grace: NodeJS.Timeout | undefined;
  let answered = false;
  const answer = (why?: string) => {
    if (answered) return;
    answered = true;
    clearTimeout(grace);
    upstream.destroy();
    if (!client.destroyed) client.end(why === undefined ? READY : `${NOT_READY}${why}\n`);
  };
  const judge = () => answer(running(program) ? undefined : `the program exited (or is exiting) on the connection to its port ${port}`);
  if (!running(program)) return answer('the program is not running');
  const refusedBy = (err: Error) => answer(`the program's port ${port} refused a connection: ${err.message}`);
  if (refused) return refusedBy(refused);
  if (upstream.destroyed) return judge(); // the program already closed the connection (or died)
  upstream.once('error', (err) => (connected ? judge() : refusedBy(err)));
  upstream.once('close', judge);
  upstream.resume(); // nobody reads what the program says here: drop it, so its end is seen
  const halfClose = () => {
    connected = true;
    upstream.end();
    grace = setTimeout(judge, GRACE_MS);
  };
  if (connected) halfClose();
  else upstream.once('connect', halfClose);
}
