// The smallest Node function: the event is the parsed JSON body.
export async function handler(event, context) {
  const name = (event && typeof event === 'object' && event.name) || 'world';
  return { message: `Hello, ${name}!`, runtime: `node ${process.version}`, instance: context.instanceId };
}
