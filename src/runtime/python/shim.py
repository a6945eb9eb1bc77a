"""Hivelab Python runtime shim.

Runs inside the sandbox as the instance's main process: loads the user handler once and serves the
runtime shim protocol (docs/CONTRACTS.md) as HTTP/1.1 with keep-alive over a Unix socket. A small
hand-written HTTP loop instead of http.server: importing http.server (email, html, mimetypes, ...)
costs more than this whole file, and every millisecond here is cold-start time. One thread per
connection, so a queue-proxy that opens N connections gets concurrency N.
"""

import importlib
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback

ENV = os.environ
SOCKET_PATH = ENV.get("HIVELAB_SOCKET", "/run/hivelab/fn.sock")
TASK_ROOT = ENV.get("HIVELAB_TASK_ROOT", "/var/task")
HANDLER_SPEC = ENV.get("HIVELAB_HANDLER", "main.handler")
FUNCTION_NAME = ENV.get("HIVELAB_FUNCTION", "")
INSTANCE_ID = ENV.get("HIVELAB_INSTANCE", "")
MEMORY_MB = int(ENV.get("HIVELAB_MEMORY_MB", "0") or 0)
TIMEOUT_MS = int(ENV.get("HIVELAB_TIMEOUT_MS", "30000") or 30000)

MAX_HEADER_BYTES = 64 * 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


class BadRequest(Exception):
    pass


# ---- SDK: imported after readiness, off the cold-start path ----
_sdk_module = None
_sdk_error = None
_sdk_loaded = threading.Event()


def _load_sdk():
    global _sdk_module, _sdk_error
    try:
        import hivelab_sdk  # lives next to this file (sys.path[0])

        _sdk_module = hivelab_sdk
    except BaseException as exc:  # noqa: BLE001 - reported on use
        _sdk_error = exc
        sys.stderr.write("hivelab python shim: SDK failed to load: %r\n" % (exc,))
    finally:
        _sdk_loaded.set()


class _UnavailableSdk:
    def _fail(self, *args, **kwargs):
        raise RuntimeError("SDK not available: hivelab_sdk failed to load: %r" % (_sdk_error,))

    invoke = _fail
    put = _fail
    get = _fail


class Context:
    """What the handler gets as `context` (snake_case, with the contract's camelCase aliases)."""

    def __init__(self, invocation_id, traceparent, deadline_ms):
        self.invocation_id = self.invocationId = invocation_id
        self.function_name = self.functionName = FUNCTION_NAME
        self.instance_id = self.instanceId = INSTANCE_ID
        self.memory_limit_mb = self.memoryLimitMB = MEMORY_MB
        self.traceparent = traceparent
        self._deadline_ms = deadline_ms
        _sdk_loaded.wait()
        sdk = _sdk_module.sdk_for(invocation_id, traceparent, FUNCTION_NAME) if _sdk_module else _UnavailableSdk()
        self.sdk = sdk
        self.invoke = sdk.invoke
        self.put = sdk.put
        self.get = sdk.get

    def get_remaining_time_ms(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    getRemainingTimeMs = get_remaining_time_ms


# ---- handler ----
def load_handler():
    module_name, dot, func_name = HANDLER_SPEC.rpartition(".")
    if not dot or not module_name or not func_name:
        raise SystemExit('hivelab python shim: handler "%s" must look like "module.function", e.g. "main.handler"' % HANDLER_SPEC)
    # After the shim's own folder (sys.path[0]) but before the standard library, so packages vendored
    # in the function folder win over system ones.
    sys.path.insert(1, TASK_ROOT)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception:
        raise SystemExit("hivelab python shim: cannot import %s from %s:\n%s" % (module_name, TASK_ROOT, traceback.format_exc()))
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise SystemExit('hivelab python shim: module %s has no function "%s"' % (module_name, func_name))
    return fn


def reseed(seed):
    """After a restore: clones of one snapshot must not share random state."""
    material = seed + os.urandom(32)  # os.urandom asks the kernel, which is not part of the snapshot
    random.seed(material)
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            words = [int.from_bytes(material[i:i + 4], "little") for i in range(0, 32, 4)]
            np.random.seed(words)
        except Exception:  # noqa: BLE001 - numpy missing pieces must not break a restore
            pass


# ---- HTTP/1.1 ----
def read_request(rfile):
    """Returns (method, path, headers) or None on a cleanly closed connection."""
    line = rfile.readline(MAX_HEADER_BYTES)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 2.2)
        line = rfile.readline(MAX_HEADER_BYTES)
    if not line:
        return None
    parts = line.split()
    if len(parts) != 3:
        raise BadRequest("malformed request line %r" % line[:100])
    headers = {}
    total = len(line)
    while True:
        h = rfile.readline(MAX_HEADER_BYTES)
        total += len(h)
        if total > MAX_HEADER_BYTES:
            raise BadRequest("request headers too large")
        if h in (b"\r\n", b"\n", b""):
            break
        name, sep, value = h.partition(b":")
        if not sep:
            raise BadRequest("malformed header line")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return parts[0].decode("ascii"), parts[1].decode("latin-1"), headers


def read_body(rfile, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = rfile.readline(1024)
            if not size_line:
                raise BadRequest("connection closed inside a chunked body")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while rfile.readline(MAX_HEADER_BYTES) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(rfile.read(size))
            rfile.readline(1024)
    length = int(headers.get("content-length", "0") or 0)
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise BadRequest("connection closed inside the body")
    return body


def respond(conn, status, content_type, body, extra=None):
    head = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")), "content-type: " + content_type, "content-length: %d" % len(body)]
    if extra:
        head.extend("%s: %s" % kv for kv in extra.items())
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def error_body(exc, tb=None):
    stack = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    return json.dumps({"error": {"type": type(exc).__name__, "message": str(exc), "stack": stack}}).encode()


def encode_result(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "application/octet-stream", bytes(value)
    if isinstance(value, str):
        return "text/plain; charset=utf-8", value.encode()
    return "application/json", json.dumps(value, separators=(",", ":")).encode()


def is_json(content_type):
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def handle_invoke(conn, handler, headers, body):
    if is_json(headers.get("content-type", "")):
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            respond(conn, 400, "application/json", error_body(exc), {"x-hivelab-error": "bad-request"})
            return
    else:
        event = body
    try:
        deadline = float(headers.get("x-hivelab-deadline", ""))
    except ValueError:
        deadline = time.time() * 1000 + TIMEOUT_MS
    context = Context(headers.get("x-hivelab-invocation-id", ""), headers.get("traceparent"), deadline)
    try:
        content_type, payload = encode_result(handler(event, context))
    except Exception as exc:  # noqa: BLE001 - any handler failure becomes the contract's 500
        respond(conn, 500, "application/json", error_body(exc), {"x-hivelab-error": "handler"})
        return
    respond(conn, 200, content_type, payload)


def handle_restored(conn, body):
    try:
        seed_hex = json.loads(body)["seed"]
        seed = bytes.fromhex(seed_hex)
        if len(seed) < 16:
            raise ValueError("seed must have at least 32 hex digits")
    except Exception as exc:  # noqa: BLE001
        respond(conn, 400, "application/json", error_body(exc), {"x-hivelab-error": "bad-request"})
        return
    reseed(seed)
    respond(conn, 200, "application/json", b'{"ok":true}')


def serve_connection(conn, handler):
    rfile = conn.makefile("rb", 65536)
    try:
        while True:
            try:
                request = read_request(rfile)
                if request is None:
                    return
                method, path, headers = request
                body = read_body(rfile, headers)
            except (BadRequest, ValueError) as exc:
                respond(conn, 400, "application/json", error_body(exc), {"x-hivelab-error": "bad-request", "connection": "close"})
                return
            route = method + " " + path
            if route == "POST /invoke":
                handle_invoke(conn, handler, headers, body)
            elif route == "GET /healthz":
                respond(conn, 200, "text/plain", b"ok")
            elif route == "POST /_hivelab/restored":
                handle_restored(conn, body)
            else:
                respond(conn, 404, "application/json", error_body(LookupError("no route " + route)), {"x-hivelab-error": "not-found"})
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, OSError):
        return
    finally:
        try:
            rfile.close()
            conn.close()
        except OSError:
            pass


def main():
    handler = load_handler()
    try:
        os.unlink(SOCKET_PATH)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET_PATH)
    server.listen(512)
    # The shim may be PID 1 of its namespace: without a handler SIGTERM would be ignored.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    ready_fd = ENV.get("HIVELAB_READY_FD")
    if ready_fd and ready_fd.isdigit() and int(ready_fd) > 2:
        os.write(int(ready_fd), b"ready\n")
        os.close(int(ready_fd))  # a snapshot of this process must hold no pipe to the host
    threading.Thread(target=_load_sdk, name="hivelab-sdk-load", daemon=True).start()

    while True:
        try:
            conn, _ = server.accept()
        except InterruptedError:
            continue
        threading.Thread(target=serve_connection, args=(conn, handler), daemon=True).start()


if __name__ == "__main__":
    main()
