"""Hivelab Python runtime shim (the logic; shim.py is the entry point).

Runs inside the sandbox as the instance's main process: loads the user handler once and serves the
runtime shim protocol (docs/CONTRACTS.md) as HTTP/1.1 with keep-alive over a Unix socket.

Every millisecond before readiness is cold-start time, so the path to "ready" touches only modules
that are built in or already loaded by the interpreter (os, sys, time, _socket, _thread, _signal):
no http.server (email, html, mimetypes, ...), no socket.py (enum, selectors), no json (re),
no traceback (linecache). Those load in a background thread right after readiness, before the
first invocation normally arrives. One thread per connection, so a queue-proxy that opens N
connections gets concurrency N.
"""

import _signal
import _socket
import _thread
import os
import sys
import time

ENV = os.environ
SOCKET_PATH = ENV.get("HIVELAB_SOCKET", "/run/hivelab/fn.sock")
# Knative's runtime contract (an image made by `hivelab build`, docs/BUILD.md): with PORT set and no
# platform socket, serve HTTP/1.1 on every interface at PORT and take `POST /` as an invocation.
KNATIVE_PORT = ENV.get("PORT") if "HIVELAB_SOCKET" not in ENV else None
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


# ---- after readiness: the modules the request path needs, and the SDK ----
_sdk_module = None
_sdk_error = None
_warm = _thread.allocate_lock()
_warm.acquire()  # released once warm-up is done


def _warm_up():
    global _sdk_module, _sdk_error
    try:
        import json  # noqa: F401
        import traceback  # noqa: F401

        try:
            import hivelab_sdk  # lives next to this file (sys.path[0])

            _sdk_module = hivelab_sdk
        except BaseException as exc:  # noqa: BLE001 - reported on use
            _sdk_error = exc
            sys.stderr.write("hivelab python shim: SDK failed to load: %r\n" % (exc,))
    finally:
        _warm.release()


def _wait_warm():
    if _warm.locked():
        with _warm:
            pass


class _UnavailableSdk:
    def _fail(self, *args, **kwargs):
        raise RuntimeError("SDK not available: hivelab_sdk failed to load: %r" % (_sdk_error,))

    invoke = _fail
    put = _fail
    get = _fail


class Context:
    """What the handler gets as `context` (snake_case, with the contract's camelCase aliases)."""

    def __init__(self, invocation_id, traceparent, deadline_ms, client_context=None):
        self.invocation_id = self.invocationId = invocation_id
        self.function_name = self.functionName = FUNCTION_NAME
        self.instance_id = self.instanceId = INSTANCE_ID
        self.memory_limit_mb = self.memoryLimitMB = MEMORY_MB
        self.traceparent = traceparent
        self._deadline_ms = deadline_ms
        sdk = _sdk_module.sdk_for(invocation_id, traceparent, FUNCTION_NAME) if _sdk_module else _UnavailableSdk()
        self.sdk = sdk
        self.invoke = sdk.invoke
        self.put = sdk.put
        self.get = sdk.get

        # AWS Lambda's LambdaContext (developer guide, "Python context object"), from the Lambda
        # variables the platform sets, so Lambda handlers (and STeLLAR's hellopy) run unchanged.
        self.aws_request_id = invocation_id
        self.function_version = ENV.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = ENV.get("HIVELAB_LAMBDA_ARN", "")
        self.memory_limit_in_mb = ENV.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", str(MEMORY_MB))
        self.log_group_name = ENV.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = ENV.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = _CognitoIdentity()
        self.client_context = client_context

    def get_remaining_time_ms(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    getRemainingTimeMs = get_remaining_time_ms
    get_remaining_time_in_millis = get_remaining_time_ms


class _CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class _ClientContext:
    """Lambda's client_context: `client`, `custom`, `env` from the Invoke API's X-Amz-Client-Context."""

    def __init__(self, raw):
        self.client = raw.get("client")
        self.custom = raw.get("custom")
        self.env = raw.get("env")


def _client_context(header):
    if not header:
        return None
    try:
        import base64
        import json

        raw = json.loads(base64.b64decode(header))
        return _ClientContext(raw) if isinstance(raw, dict) else None
    except Exception:  # noqa: BLE001 - an unreadable client context is simply absent, as on Lambda
        return None


# ---- handler ----
def _fatal(message):
    sys.stderr.write("hivelab python shim: " + message + "\n")
    sys.stderr.flush()
    os._exit(1)


def load_handler():
    module_name, dot, func_name = HANDLER_SPEC.rpartition(".")
    if not dot or not module_name or not func_name:
        _fatal('handler "%s" must look like "module.function", e.g. "main.handler"' % HANDLER_SPEC)
    # After the shim's own folder (sys.path[0]) but before the standard library, so packages vendored
    # in the function folder win over system ones.
    sys.path.insert(1, TASK_ROOT)
    dotted = module_name.replace("/", ".")
    try:
        __import__(dotted)
        module = sys.modules[dotted]
    except BaseException:  # noqa: BLE001 - any import failure is a failed start, with its traceback
        import traceback

        _fatal("cannot import %s from %s:\n%s" % (module_name, TASK_ROOT, traceback.format_exc()))
    fn = getattr(module, func_name, None)
    if not callable(fn):
        _fatal('module %s has no function "%s"' % (module_name, func_name))
    return fn


def reseed(seed):
    """After a restore: clones of one snapshot must not share random state."""
    material = seed + os.urandom(32)  # os.urandom asks the kernel, which is not part of the snapshot
    # A module that was never imported before the snapshot seeds itself from the kernel on import.
    random = sys.modules.get("random")
    if random is not None:
        random.seed(material)
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            words = [int.from_bytes(material[i:i + 4], "little") for i in range(0, 32, 4)]
            np.random.seed(words)
        except Exception:  # noqa: BLE001 - numpy missing pieces must not break a restore
            pass


# ---- HTTP/1.1 ----
class Reader:
    """Buffered reads from a raw _socket (socket.makefile lives in socket.py, which we avoid)."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def readline(self, limit):
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0 and i < limit:
                line = bytes(self.buf[: i + 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) >= limit:
                line = bytes(self.buf[:limit])
                del self.buf[:limit]
                return line
            start = len(self.buf)
            data = self.sock.recv(65536)
            if not data:
                line = bytes(self.buf)
                self.buf.clear()
                return line
            self.buf += data

    def read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(max(65536, n - len(self.buf)))
            if not data:
                break
            self.buf += data
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


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
            chunk = rfile.read(size)
            if len(chunk) != size:
                raise BadRequest("connection closed inside a chunked body")
            chunks.append(chunk)
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


def error_body(exc):
    import json
    import traceback

    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    # Typed errors (the SDK's HivelabSdkError carries e.g. type="XdtRefExpired") keep their type,
    # as they do in Node where the SDK sets `name`.
    etype = getattr(exc, "type", None)
    if not isinstance(etype, str) or not etype:
        etype = type(exc).__name__
    return json.dumps({"error": {"type": etype, "message": str(exc), "stack": stack}}, separators=(",", ":")).encode()


def encode_result(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "application/octet-stream", bytes(value)
    if isinstance(value, str):
        return "text/plain; charset=utf-8", value.encode()
    import json

    return "application/json", json.dumps(value, separators=(",", ":")).encode()


def is_json(content_type):
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def handle_invoke(conn, handler, headers, body):
    if is_json(headers.get("content-type", "")):
        import json

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
    _wait_warm()
    context = Context(
        headers.get("x-hivelab-invocation-id", ""),
        headers.get("traceparent"),
        deadline,
        _client_context(headers.get("x-amz-client-context")),
    )
    try:
        # An event passed by reference ({"$xdt": ref} / {"$ref": ref}) becomes the object itself; a
        # failed pull fails the invocation like a handler error (with the SDK's error type).
        resolve = getattr(_sdk_module, "resolve_event_refs", None)
        if resolve is not None and isinstance(event, dict):
            event = resolve(event, context.invocation_id, context.traceparent, FUNCTION_NAME)
        content_type, payload = encode_result(handler(event, context))
    except SystemExit as exc:
        # sys.exit() in a handler ends the instance, as process.exit() does in Node (in a worker
        # thread it would otherwise end only that thread and leave the caller hanging up).
        sys.stderr.write("hivelab python shim: handler called sys.exit(%r)\n" % (exc.code,))
        sys.stderr.flush()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except Exception as exc:  # noqa: BLE001 - any handler failure becomes the contract's 500
        respond(conn, 500, "application/json", error_body(exc), {"x-hivelab-error": "handler"})
        return
    respond(conn, 200, content_type, payload)


def handle_restored(conn, body):
    import json

    try:
        parsed = json.loads(body)
        seed = bytes.fromhex(parsed["seed"])
        if len(seed) < 16:
            raise ValueError("seed must have at least 32 hex digits")
    except Exception as exc:  # noqa: BLE001
        respond(conn, 400, "application/json", error_body(exc), {"x-hivelab-error": "bad-request"})
        return
    reseed(seed)
    # A restored clone keeps the snapshotted environment: adopt this clone's own identity and
    # sidecar path (the SDK reads HIVELAB_SIDECAR at call time).
    global INSTANCE_ID
    if isinstance(parsed.get("instanceId"), str) and parsed["instanceId"]:
        INSTANCE_ID = parsed["instanceId"]
        os.environ["HIVELAB_INSTANCE"] = INSTANCE_ID
    if isinstance(parsed.get("sidecar"), str) and parsed["sidecar"]:
        os.environ["HIVELAB_SIDECAR"] = parsed["sidecar"]
    respond(conn, 200, "application/json", b'{"ok":true}')


def serve_connection(fd, handler):
    conn = _socket.socket(_socket.AF_UNIX if KNATIVE_PORT is None else _socket.AF_INET, _socket.SOCK_STREAM, 0, fd)
    rfile = Reader(conn)
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
            if route == "POST /invoke" or route == "POST /":
                handle_invoke(conn, handler, headers, body)
            elif route == "GET /healthz":
                respond(conn, 200, "text/plain", b"ok")
            elif route == "POST /_hivelab/restored":
                handle_restored(conn, body)
            else:
                respond(conn, 404, "application/json", error_body(LookupError("no route " + route)), {"x-hivelab-error": "not-found"})
            if headers.get("connection", "").lower() == "close":
                return
    except OSError:
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    handler = load_handler()
    if KNATIVE_PORT is None:
        try:
            os.unlink(SOCKET_PATH)
        except FileNotFoundError:
            pass
        server = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        server.bind(SOCKET_PATH)
    else:
        if not KNATIVE_PORT.isdigit() or not 0 < int(KNATIVE_PORT) < 65536:
            sys.stderr.write("hivelab python shim: PORT %r is not a TCP port number\n" % KNATIVE_PORT)
            sys.exit(64)
        server = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        server.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", int(KNATIVE_PORT)))
    server.listen(512)
    # The shim may be PID 1 of its namespace: without a handler SIGTERM would be ignored.
    _signal.signal(_signal.SIGTERM, lambda *_: os._exit(0))

    ready_fd = ENV.get("HIVELAB_READY_FD")
    if ready_fd and ready_fd.isdigit() and int(ready_fd) > 2:
        os.write(int(ready_fd), b"ready\n")
        os.close(int(ready_fd))  # a snapshot of this process must hold no pipe to the host
    _thread.start_new_thread(_warm_up, ())

    while True:
        try:
            fd, _ = server._accept()
        except InterruptedError:
            continue
        except BlockingIOError:
            # A restored clone's listener is grafted in by CRIU (--inherit-fd) as the worker bound
            # it: non-blocking. Make it blocking again; the accept loop relies on that.
            server.setblocking(True)
            continue
        _thread.start_new_thread(serve_connection, (fd, handler))

