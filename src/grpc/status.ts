import type { HttpError } from '../core/errors.js';

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A status code's name (`3` → `INVALID_ARGUMENT`), or `CODE <n>` for one gRPC does not define. */
export function grpcStatusName(code: number): string {
  for (const [name, value] of Object.entries(GrpcStatus)) if (value === code) return name;
  return `CODE ${code}`;
}

/**
 * The gRPC status a platform-side failure is reported with. It follows gRPC's HTTP-to-gRPC mapping
 * (grpc/doc/http-grpc-status-mapping.md), which is also what Envoy, Knative's usual ingress, sends
 * for the same upstream failure: 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 (unknown
 * function) → UNIMPLEMENTED, 502/503 (crash, failed start, overload) → UNAVAILABLE, so stock clients'
 * retry policies treat them as transient. Two deviations where the platform knows more than a status
 * line says: a missed deadline is DEADLINE_EXCEEDED (as Envoy answers when `grpc-timeout` expires),
 * and a refused oversized message is RESOURCE_EXHAUSTED (what grpc-js itself uses for it).
 */
export function grpcStatusFor(err: Pick<HttpError, 'status' | 'type'>): number {
  if (err.type === 'StreamReset') return GrpcStatus.INTERNAL;
  switch (err.status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 413:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 429:
    case 502:
    case 503:
      return GrpcStatus.UNAVAILABLE;
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 500:
      return GrpcStatus.INTERNAL;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** `grpc-message` is percent-encoded (PROTOCOL-HTTP2.md): printable ASCII except '%' passes as is. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
