import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { sha256 } from './digest.js';
import { ImageError, type ResolvedImage } from './image-source.js';
import { readSmallBlob, resolveManifest, type BlobReader } from './manifest-walk.js';
import { INDEX_TYPES, MANIFEST_TYPES } from './oci-types.js';
import { basicHeader, fetchToken, parseChallenge, type RegistryCredentials } from './registry-auth.js';
import type { RegistryRef } from './registry-ref.js';

/**
 * Pulls from a registry through the distribution API v2: `GET /v2/<name>/manifests/<ref>` (asking
 * for OCI and Docker manifests and indexes), then `GET /v2/<name>/blobs/<digest>` for the config and
 * each layer. Every blob is verified against its digest (layers while they are unpacked); a
 * manifest fetched by tag is verified against the `Docker-Content-Digest` the registry names.
 */

const ACCEPT = [...MANIFEST_TYPES, ...INDEX_TYPES].join(', ');
const SMALL_TIMEOUT_MS = 60_000;
/** A layer download may take long, but never forever. */
const BLOB_TIMEOUT_MS = 30 * 60_000;

interface RegistryErrorBody {
  errors?: { code?: string; message?: string }[];
}

export class RegistryClient {
  private auth: string | undefined;
  private readonly base: string;

  constructor(
    readonly ref: RegistryRef,
    private readonly creds?: RegistryCredentials,
  ) {
    this.base = `${ref.scheme}://${ref.host}/v2/${ref.name}`;
  }

  private where(): string {
    return `${this.ref.host}/${this.ref.name}`;
  }

  /** One request, answering a 401 once with what its challenge asks for. */
  async request(path: string, accept?: string, timeoutMs = SMALL_TIMEOUT_MS): Promise<Response> {
    const url = `${this.base}${path}`;
    const send = () =>
      fetch(url, {
        headers: { ...(accept ? { accept } : {}), ...(this.auth ? { authorization: this.auth } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'follow',
      }).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
        throw new ImageError(`registry ${this.ref.scheme}://${this.ref.host}: ${err.cause?.code ?? err.cause?.message ?? err.message}`, 502);
      });
    let res = await send();
    if (res.status !== 401) return res;
    await res.body?.cancel();
    const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
    const hadAuth = this.auth !== undefined;
    if (challenge?.scheme === 'bearer') {
      try {
        this.auth = `Bearer ${await fetchToken(challenge, this.creds, `repository:${this.ref.name}:pull`, timeoutMs)}`;
      } catch (err) {
        throw new ImageError(`registry ${this.ref.host}: 401 Unauthorized: ${(err as Error).message}`, 401);
      }
    } else if (challenge?.scheme === 'basic' && this.creds && !hadAuth) {
      this.auth = basicHeader(this.creds);
    } else {
      throw this.unauthorized();
    }
    res = await send();
    if (res.status === 401) {
      await res.body?.cancel();
      throw this.unauthorized();
    }
    return res;
  }

  private unauthorized(): ImageError {
    return this.creds
      ? new ImageError(`registry ${this.where()}: 401 Unauthorized: the registry refused the credentials of user "${this.creds.username}"`, 401)
      : new ImageError(`registry ${this.where()}: 401 Unauthorized: the registry requires credentials (--registry-user/--registry-password or HIVELAB_REGISTRY_AUTH=user:password)`, 401);
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const body = (await res.json()) as RegistryErrorBody;
      detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    } catch {
      // not the registry's JSON error
    }
    const status = res.status === 404 ? 404 : res.status === 403 ? 403 : 502;
    const lead = res.status === 404 ? `${what} not found in registry ${this.ref.host}` : `registry ${this.ref.host} answered ${what} with ${res.status} ${res.statusText}`;
    throw new ImageError(`${lead} (${res.status}${detail ? ` ${detail}` : ''})`, status);
  }

  async manifest(reference: string): Promise<{ bytes: Buffer; digest: string; mediaType?: string }> {
    const res = await this.request(`/manifests/${reference}`, ACCEPT);
    if (!res.ok) return this.fail(res, `image ${this.ref.name}:${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256(bytes);
    const expected = reference.startsWith('sha256:') ? reference : res.headers.get('docker-content-digest');
    if (expected && expected !== digest) throw new ImageError(`registry ${this.ref.host}: manifest ${this.ref.name}:${reference} does not match its digest ${expected} (got ${digest})`, 502);
    const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim();
    return { bytes, digest, ...(mediaType ? { mediaType } : {}) };
  }

  async blob(digest: string): Promise<Readable> {
    const res = await this.request(`/blobs/${digest}`, undefined, BLOB_TIMEOUT_MS);
    if (!res.ok || !res.body) return this.fail(res, `blob ${digest}`);
    return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  }
}

export async function resolveRegistry(ref: RegistryRef, creds?: RegistryCredentials): Promise<ResolvedImage> {
  const client = new RegistryClient(ref, creds);
  const top = await client.manifest(ref.reference);
  const blobs: BlobReader = {
    bytes: async (digest, what) => readSmallBlob(await client.blob(digest), digest, what),
    open: (digest) => client.blob(digest),
  };
  return resolveManifest(blobs, top.bytes, top.digest, ref.display, undefined, top.mediaType);
}
