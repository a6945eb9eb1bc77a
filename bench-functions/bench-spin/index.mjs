// STeLLAR's benchmark function (thesis §3.3–3.4), used by `hivelab bench`.
//
// Event (JSON): {
//   serviceTimeMs: busy-spin this long (a spin, not a sleep: it occupies the CPU like real work),
//   payloadBytes:  size of the payload a chain's producer hands to the next function,
//   payload:       optional string sent by the client (echoed back only as its length),
//   chain:         names of the functions still to call, in order (empty = last hop),
//   transfer:      inline | storage | xdt — how the payload travels to the next hop,
//   ref / data:    the incoming payload (a reference for storage/xdt, the bytes' string inline)
// }
// Returns { hops: [ {function, instance, receivedAtMs, transferStartAtMs?}, ...downstream hops ] }.
// receivedAtMs is taken once the input is in hand (after a storage/XDT get), transferStartAtMs just
// before handing the output on (before put/invoke), both epoch ms with sub-ms precision; the kit
// subtracts them per hop to get the transfer latency (§3.5.3), on one host so clocks agree.
import { performance } from 'node:perf_hooks';

const epochMs = () => performance.timeOrigin + performance.now();

function spin(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x++;
  return x;
}

export async function handler(event, context) {
  const ev = event && typeof event === 'object' && !Buffer.isBuffer(event) ? event : {};
  let payloadLength = typeof ev.payload === 'string' ? ev.payload.length : 0;
  if (typeof ev.ref === 'string') {
    const got = await context.get(ev.ref);
    payloadLength = typeof got === 'string' ? got.length : (got?.length ?? 0);
  } else if (typeof ev.data === 'string') {
    payloadLength = ev.data.length;
  }
  const hop = {
    function: context.functionName,
    instance: context.instanceId,
    receivedAtMs: epochMs(),
    payloadLength,
  };
  if (ev.serviceTimeMs > 0) spin(ev.serviceTimeMs);

  const chain = Array.isArray(ev.chain) ? ev.chain : [];
  if (chain.length === 0) return { hops: [hop] };

  const [next, ...rest] = chain;
  const transfer = ev.transfer ?? 'inline';
  const data = 'x'.repeat(ev.payloadBytes ?? 0);
  const downstream = { serviceTimeMs: ev.nextServiceTimeMs ?? 0, payloadBytes: ev.payloadBytes, chain: rest, transfer };
  hop.transferStartAtMs = epochMs();
  if (transfer === 'inline') downstream.data = data;
  else downstream.ref = await context.put(data, { retrievals: 1, transfer });
  const res = await context.invoke(next, downstream);
  const hops = res && Array.isArray(res.hops) ? res.hops : [];
  return { hops: [hop, ...hops] };
}
