export async function handler(event) {
  return { ok: true, n: event && event.n };
}
