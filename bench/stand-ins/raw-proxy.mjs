// Stand-in for the platform in bench/warm-path.mjs --stand-in: a byte pipe from TCP to the
// instance's Unix socket, one upstream connection per client connection, no HTTP parsing at all.
// It measures what any third process in the path costs on this machine.
//   node raw-proxy.mjs INSTANCE_SOCKET   (prints {"port": N} once listening)
import net from 'node:net';

const [, , target] = process.argv;
const server = net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect(target);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen({ port: 0, host: '127.0.0.1' }, () => console.log(JSON.stringify({ port: server.address().port })));
