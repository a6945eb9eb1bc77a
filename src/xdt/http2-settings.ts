/**
 * HTTP/2 settings of the XDT data plane. Node's defaults (64 KiB windows, 16 KiB frames) stall a
 * single large stream on loopback; large windows and frames let one pull run at memory speed.
 * The http2-raw ceiling of xdt-bench uses the same settings, so XDT is judged against the best
 * bare node:http2 stream, not a handicapped one.
 */
import type { Settings } from 'node:http2';

export const XDT_WINDOW_BYTES = 32 * 1024 * 1024;

export const XDT_HTTP2_SETTINGS: Settings = {
  initialWindowSize: XDT_WINDOW_BYTES,
  maxFrameSize: 1024 * 1024 - 1,
};

/**
 * Session options for both ends. maxSessionMemory (MB) bounds what nghttp2 may buffer per session;
 * Node's default of 10 MB is exceeded by a handful of concurrent pulls with the windows above and the
 * session then resets streams with ENHANCE_YOUR_CALM. The real bound on memory is the buffer pool.
 */
export const XDT_HTTP2_OPTIONS = { settings: XDT_HTTP2_SETTINGS, maxSessionMemory: 1024 };

/** Connection-level window (the SETTINGS frame only sets per-stream windows). */
export function widenSessionWindow(session: { setLocalWindowSize(n: number): void }): void {
  try {
    session.setLocalWindowSize(XDT_WINDOW_BYTES * 4);
  } catch {
    // session already closing
  }
}
