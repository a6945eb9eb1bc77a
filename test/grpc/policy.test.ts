import { describe, it, expect } from 'vitest';
import { functionForCall, hostOf } from '../../src/grpc/route.js';
import { parseGrpcTimeout, formatGrpcTimeout } from '../../src/grpc/timeout.js';
import { grpcStatusFor, encodeGrpcMessage, GrpcStatus } from '../../src/grpc/status.js';
import { parseManifest, ManifestError } from '../../src/manifest/validate.js';

describe('which function a gRPC call is for', () => {
  it("takes the first label of Knative's host forms, without the port", () => {
    expect(functionForCall('fibonacci.default.127.0.0.1.sslip.io:80', undefined)).toEqual({ name: 'fibonacci' });
    expect(functionForCall('aes-go.default.svc.cluster.local', undefined)).toEqual({ name: 'aes-go' });
    expect(functionForCall('Auth.Default:50051', undefined)).toEqual({ name: 'auth' });
    expect(functionForCall('relay', undefined)).toEqual({ name: 'relay' });
  });
  it('refuses addresses and odd names, and lets the header win', () => {
    expect(functionForCall('127.0.0.1:8080', undefined)).toHaveProperty('error');
    expect(functionForCall('[::1]:8080', undefined)).toHaveProperty('error');
    expect(functionForCall('localhost:8080', undefined)).toHaveProperty('error');
    expect(functionForCall('under_score.default', undefined)).toHaveProperty('error');
    expect(functionForCall(undefined, undefined)).toHaveProperty('error');
    expect(functionForCall('127.0.0.1:8080', 'fib')).toEqual({ name: 'fib' });
    expect(functionForCall('a.default', 'b')).toEqual({ name: 'b' });
    expect(functionForCall('a.default', '../etc')).toHaveProperty('error');
    expect(hostOf('[::1]:80')).toBe('[::1]');
  });
});

describe('grpc-timeout', () => {
  it('parses every unit and rounds sub-millisecond values up', () => {
    expect(parseGrpcTimeout('2S')).toBe(2000);
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(2);
    expect(parseGrpcTimeout('10n')).toBe(1);
    expect(parseGrpcTimeout('0m')).toBe(0);
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });
  it('refuses malformed values', () => {
    for (const bad of ['', '5', 'S', '123456789m', '-1m', '1.5S', '10x']) expect(() => parseGrpcTimeout(bad)).toThrow(/malformed grpc-timeout/);
  });
  it('formats what is left for the next hop', () => {
    expect(formatGrpcTimeout(1234.7)).toBe('1234m');
    expect(formatGrpcTimeout(-5)).toBe('0m');
    expect(formatGrpcTimeout(2e8)).toBe('200000S');
  });
});

describe('platform failures as gRPC statuses', () => {
  it("follows gRPC's HTTP mapping with DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED where the platform knows better", () => {
    const s = (status: number, type = 'X') => grpcStatusFor({ status, type });
    expect(s(401)).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(s(403)).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(s(404)).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(s(413)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(s(503, 'Overloaded')).toBe(GrpcStatus.UNAVAILABLE);
    expect(s(502, 'InstanceCrashed')).toBe(GrpcStatus.UNAVAILABLE);
    expect(s(502, 'StreamReset')).toBe(GrpcStatus.INTERNAL);
    expect(s(504)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(s(500)).toBe(GrpcStatus.INTERNAL);
    expect(s(418)).toBe(GrpcStatus.UNKNOWN);
  });
  it('percent-encodes grpc-message', () => {
    expect(encodeGrpcMessage('50% done\nnext: é')).toBe('50%25 done%0Anext: %C3%A9');
  });
});

describe('the manifest of a server-program function', () => {
  const base = { name: 'fib', runtime: 'python' };
  it('takes command, port and protocol, with Knative defaults', () => {
    const m = parseManifest({ ...base, protocol: 'grpc', command: ['python3', 'server.py'] });
    expect(m.port).toBe(8080);
    expect(m.protocol).toBe('grpc');
    expect(parseManifest({ ...base, handler: 'main.handler' }).protocol).toBe('http');
  });
  it('refuses a manifest with neither or both of handler and command, gRPC without command, and PORT in env', () => {
    expect(() => parseManifest(base)).toThrow(/field "handler": required/);
    expect(() => parseManifest({ ...base, handler: 'main.handler', command: ['x'] })).toThrow(/either "handler" or "command"/);
    expect(() => parseManifest({ ...base, handler: 'main.handler', protocol: 'grpc' })).toThrow(/needs "command"/);
    expect(() => parseManifest({ ...base, command: ['x'], env: { PORT: '1' } })).toThrow(ManifestError);
    expect(() => parseManifest({ ...base, command: [] })).toThrow(ManifestError);
    expect(() => parseManifest({ ...base, command: ['x'], port: 70000 })).toThrow(ManifestError);
  });
});
