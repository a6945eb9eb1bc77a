# vSwarm's auth: an API-gateway authorizer that checks bearer tokens. Here the tokens are JWTs signed
# with HMAC-SHA256 (HS256); the shared secret comes from the manifest's env (a benchmark, not a vault).
import base64
import hashlib
import hmac
import json
import os
import random
import time

from inputmode import pick_input, size_param

SECRET = os.environ.get("AUTH_SECRET", "hivelab-suite-secret").encode()
# Generated tokens cycle through these so every batch of four exercises each verdict.
KINDS = ("valid", "expired", "bad-signature", "malformed")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token, now):
    """Verifies an HS256 JWT: structure, algorithm, signature (constant time), then expiry."""
    parts = token.split(".")
    if len(parts) != 3:
        return {"valid": False, "reason": "malformed"}
    try:
        header = json.loads(unb64url(parts[0]))
        payload = json.loads(unb64url(parts[1]))
        given = unb64url(parts[2])
    except ValueError:
        return {"valid": False, "reason": "malformed"}
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return {"valid": False, "reason": "unsupported-alg"}
    expected = hmac.new(SECRET, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        return {"valid": False, "reason": "bad-signature"}
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if not isinstance(exp, (int, float)) or exp <= now:
        return {"valid": False, "reason": "expired", "sub": payload.get("sub") if isinstance(payload, dict) else None}
    return {"valid": True, "reason": "ok", "sub": payload.get("sub")}


def sign(payload, secret=SECRET):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def make_token(kind, rnd, now):
    sub = f"user-{rnd.randrange(1_000_000)}"
    scope = rnd.choice(["read", "write", "admin"])
    if kind == "valid":
        return sign({"sub": sub, "scope": scope, "iat": now, "exp": now + 3600})
    if kind == "expired":
        return sign({"sub": sub, "scope": scope, "iat": now - 7200, "exp": now - 3600})
    if kind == "bad-signature":
        return sign({"sub": sub, "scope": scope, "iat": now, "exp": now + 3600}, b"not-" + SECRET)
    return b64url(b'{"alg":"HS256"}') + ".not-json!"


def handler(event, context):
    inp = pick_input(event, context)
    n = int(size_param(event, "n", 8, 100_000))
    now = int(time.time())
    tokens = [event["token"]] if isinstance(event, dict) and isinstance(event.get("token"), str) else []
    rnd = random.Random(inp["seed"])
    for i in range(n):
        tokens.append(make_token(KINDS[(i + inp["seed"]) % len(KINDS)], rnd, now))
    results = [{"token": t, **verify(t, now)} for t in tokens]
    first = results[0] if results else None
    return {
        "policy": "Allow" if first and first["valid"] else "Deny",
        "principalId": first.get("sub") if first and first["valid"] else None,
        "checked": len(results),
        "valid": sum(1 for r in results if r["valid"]),
        "results": results,
        "input": inp,
    }
