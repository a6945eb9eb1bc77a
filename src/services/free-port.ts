/**
 * A free loopback TCP port for a child server that cannot listen on port 0 and report back. The port
 * is released before the child binds it, so another process may take it in between: `onFreePort`
 * retries the start on a fresh port when the child fails with "address in use".
 */
import net from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Node says EADDRINUSE, redis-server "Address already in use". */
const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;

export async function onFreePort<T>(start: (port: number) => Promise<T>, host = '127.0.0.1', attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort(host));
    } catch (err) {
      if (attempt >= attempts || !ADDRESS_IN_USE.test((err as Error).message)) throw err;
    }
  }
}
