#!/usr/bin/env node
// Cost of running handlers Lambda-style inside the Node shim (src/runtime/node/lambda-callback.cts,
// lambda-context.cts) against the plain `await handler(event, context)` the shim did before, in the
// same process and run: ns per invocation, median of rounds. Also the gateway's SigV4 check per
// Invoke API request. Usage: node bench/lambda-adapter.mjs [--calls N] [--rounds R]
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } } });
const calls = Number(values.calls);
const rounds = Number(values.rounds);
const { runLambdaStyle } = require('../dist/runtime/node/lambda-callback.cjs');
const { lambdaStatic } = require('../dist/runtime/node/lambda-context.cjs');
const { verifySigV4, parseAuthorization, signingKey, stringToSign, sha256Hex } = await import('../dist/gateway/sigv4.js');

const asyncHandler = async (event) => event;
const callbackHandler = (event, context, callback) => callback(null, event);
const event = { a: 1 };

async function time(fn) {
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

// The context as the shim builds it before (Hivelab's fields) and now (plus Lambda's, one literal).
const lambda = lambdaStatic({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' });
const hivelabContext = () => {
  const deadline = Date.now() + 1000;
  return { invocationId: 'x', functionName: 'f', instanceId: 'i', memoryLimitMB: 128, getRemainingTimeMs: () => Math.max(0, deadline - Date.now()) };
};
const withLambda = () => {
  const deadline = Date.now() + 1000;
  const remaining = () => Math.max(0, deadline - Date.now());
  return {
    invocationId: 'x', functionName: 'f', instanceId: 'i', memoryLimitMB: 128, getRemainingTimeMs: remaining,
    awsRequestId: 'x', getRemainingTimeInMillis: remaining, functionVersion: lambda.functionVersion, memoryLimitInMB: lambda.memoryLimitInMB,
    invokedFunctionArn: lambda.invokedFunctionArn, logGroupName: lambda.logGroupName, logStreamName: lambda.logStreamName,
    identity: undefined, clientContext: undefined, callbackWaitsForEmptyEventLoop: true,
  };
};
const baseline = await time(() => asyncHandler(event, hivelabContext()));
const adapterAsync = await time(() => runLambdaStyle(asyncHandler, event, withLambda()));
const adapterCallback = await time(() => runLambdaStyle(callbackHandler, event, withLambda()));

// SigV4: one signed 1 KB Invoke request, verified against two secrets (invoke, admin).
const body = Buffer.alloc(1024, 'x');
const headers = { host: '127.0.0.1:1', 'x-amz-date': '20260102T030405Z', 'x-amz-content-sha256': sha256Hex(body) };
const req = { method: 'POST', rawPath: '/2015-03-31/functions/f/invocations', rawQuery: '', headers, body };
const parts = { accessKeyId: 'AK', date: '20260102', region: 'us-east-1', service: 'lambda', signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'], signature: '' };
parts.signature = createHmac('sha256', signingKey('tok', parts.date, parts.region, parts.service)).update(stringToSign(req, parts)).digest('hex');
const at = Date.UTC(2026, 0, 2, 3, 4, 5);
const sig = await time(() => verifySigV4(req, parseAuthorization(`AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${parts.signature}`), ['other', 'tok'], at));

const out = {
  calls,
  rounds,
  plainAwaitNs: +baseline.toFixed(1),
  lambdaStyleAsyncNs: +adapterAsync.toFixed(1),
  lambdaStyleCallbackNs: +adapterCallback.toFixed(1),
  asyncRatio: +(adapterAsync / baseline).toFixed(2),
  addedPerInvocationNs: +(adapterAsync - baseline).toFixed(1),
  sigv4VerifyUs: +(sig / 1000).toFixed(2),
};
console.log(JSON.stringify(out, null, 2));
