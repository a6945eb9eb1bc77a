"""The Hivelab SDK for Python handlers: context.invoke / put / get (stdlib only).

Runs inside the sandbox and talks only to the instance's sidecar over the Unix socket named by
HIVELAB_SIDECAR (default /run/hivelab/qp.sock), with the same HTTP/1.1 protocol as the Node SDK
(src/runtime/node/sdk.ts):
  POST /v1/put?retrievals=N[&transfer=T]   body = object  -> 200 {"ref": "<opaque>"}
  POST /v1/get                             body = ref     -> 200 body = object
  POST /v1/invoke/<fn>[?transfer=T]        body = object  -> the callee's response
Objects are bytes (application/octet-stream) or JSON values (application/json).
From 2 MiB, put and invoke send no body but offer the object on a one-shot socket next to the
sidecar's (x-hivelab-upload, x-hivelab-object-length), which the sidecar connects to and reads
straight into its buffers (see src/runtime/node/sdk-upload-offer.ts).
"""
import http.client
import json
import os
import socket
import threading
import urllib.parse

JSON_TYPE = "application/json"
BYTES_TYPE = "application/octet-stream"
# as the Node SDK: below this a pushed body costs no more than the extra socket an offer needs
OFFER_MIN_BYTES = 2 * 1024 * 1024


class HivelabSdkError(Exception):
    """A typed failure reported by the sidecar (XdtRefExpired, XdtRefExhausted, InlineTooLarge, ...)."""

    def __init__(self, type_, message, status=0):
        super().__init__(message)
        self.type = type_
        self.status = status

    def __str__(self):
        return "%s: %s" % (self.type, self.args[0] if self.args else "")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=None):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class _UploadOffer:
    """Serves `body` once, to whoever connects first (the sidecar), from a socket in the run folder."""

    def __init__(self, sidecar_path, body):
        self.name = "up-%s.sock" % os.urandom(12).hex()
        self._path = os.path.join(os.path.dirname(sidecar_path), self.name)
        self._body = body
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(self._path)
            self._server.listen(1)
        except OSError:
            self._server.close()
            raise
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        try:
            conn, _ = self._server.accept()
        except OSError:
            return  # withdrawn before anyone came
        with conn:
            try:
                conn.sendall(self._body)
            except OSError:
                pass  # the sidecar stopped reading an object it refused: its answer says why

    def close(self):
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes an accept() still waiting
        except OSError:
            pass
        self._server.close()
        self._thread.join(timeout=5)
        try:
            os.unlink(self._path)  # still there when the sidecar never claimed it
        except OSError:
            pass


def _sidecar_path():
    return os.environ.get("HIVELAB_SIDECAR", "/run/hivelab/qp.sock")


def encode_object(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), BYTES_TYPE
    return json.dumps(obj).encode("utf-8"), JSON_TYPE


def decode_object(body, content_type):
    ct = (content_type or "").lower()
    if ct.startswith(JSON_TYPE):
        return None if len(body) == 0 else json.loads(body.decode("utf-8"))
    if ct.startswith("text/"):
        return body.decode("utf-8")
    return body


def _query(**params):
    q = {k: str(v) for k, v in params.items() if v is not None}
    return ("?" + urllib.parse.urlencode(q)) if q else ""


class HivelabSdk:
    def __init__(self, invocation_id, traceparent=None, function_name=""):
        self.invocation_id = invocation_id or ""
        self.traceparent = traceparent
        self.function_name = function_name or os.environ.get("HIVELAB_FUNCTION", "")

    def _request(self, path, body, content_type, offer=False):
        path_ = _sidecar_path()
        headers = {
            "content-type": content_type,
            "x-hivelab-invocation-id": self.invocation_id,
            "x-hivelab-function": self.function_name,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        upload = None
        if offer and len(body) >= OFFER_MIN_BYTES:
            try:
                upload = _UploadOffer(path_, body)
                headers["x-hivelab-upload"] = upload.name
                headers["x-hivelab-object-length"] = str(len(body))
                body = b""
            except OSError:
                pass  # a run folder that takes no socket: push it
        headers["content-length"] = str(len(body))
        conn = _UnixConnection(path_)
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
                res = conn.getresponse()
                data = res.read()
            except OSError as e:
                raise HivelabSdkError("SidecarUnavailable", "cannot reach the instance sidecar at %s: %s" % (path_, e))
            status = res.status
            ct = res.getheader("content-type")
        finally:
            conn.close()
            if upload is not None:
                upload.close()
        if status < 200 or status >= 300:
            try:
                err = json.loads(data.decode("utf-8")).get("error") or {}
                if err.get("type"):
                    raise HivelabSdkError(err["type"], err.get("message", err["type"]), status)
            except (ValueError, AttributeError):
                pass
            raise HivelabSdkError("SidecarError", "sidecar answered %d: %s" % (status, data[:500]), status)
        return data, ct

    def invoke(self, fn, obj, transfer=None):
        body, ct = encode_object(obj)
        data, rct = self._request("/v1/invoke/%s%s" % (urllib.parse.quote(fn, safe=""), _query(transfer=transfer)), body, ct, offer=True)
        return decode_object(data, rct)

    def put(self, obj, retrievals=1, transfer=None):
        if not isinstance(retrievals, int) or retrievals < 1:
            raise HivelabSdkError("InvalidArgument", "retrievals must be a positive integer, got %r" % (retrievals,))
        body, ct = encode_object(obj)
        data, _ = self._request("/v1/put%s" % _query(retrievals=retrievals, transfer=transfer), body, ct, offer=True)
        return json.loads(data.decode("utf-8"))["ref"]

    def get(self, ref):
        if not isinstance(ref, str) or not ref:
            raise HivelabSdkError("XdtRefInvalid", "reference must be a non-empty string")
        data, ct = self._request("/v1/get", ref.encode("utf-8"), "text/plain; charset=utf-8")
        return decode_object(data, ct)


def sdk_for(invocation_id, traceparent=None, function_name=""):
    return HivelabSdk(invocation_id, traceparent, function_name)


def event_ref(event):
    """The reference when the event is exactly {"$xdt": ref} or {"$ref": ref}, else None."""
    if isinstance(event, dict) and len(event) == 1:
        (k, v), = event.items()
        if k in ("$xdt", "$ref") and isinstance(v, str):
            return v
    return None


def resolve_event_refs(event, invocation_id="", traceparent=None, function_name=""):
    """Called by the runtime shim before the handler: a reference event becomes the object itself."""
    ref = event_ref(event)
    if ref is None:
        return event
    return sdk_for(invocation_id, traceparent, function_name).get(ref)
