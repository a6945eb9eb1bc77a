# Input variation (functions/README.md, "Input control"). A copy of this file lives in every Python
# function folder because a deployed folder is self-contained (/var/task sees nothing else);
# test/suite/shared.test.ts keeps the copies identical to functions/_shared/inputmode.py.
import hashlib
import random
import uuid

INPUT_MODES = ("same", "unique", "linear", "random")
# How many input variants set-up pre-generates per function (indexes 0..POOL_SIZE-1).
POOL_SIZE = 4

# Per instance: "linear" walks the pool in invocation order, so a warm instance sees every variant.
_invocations = 0


def variant_seed(base, index):
    """32-bit seed of variant `index` under base seed `base`; same formula in inputmode.mjs."""
    return int.from_bytes(hashlib.sha256(f"{base}:{index}".encode()).digest()[:4], "big")


def _invocation_id(context):
    # The shim's context is an object; test harnesses may pass a dict. Either spelling is accepted.
    for key in ("invocationId", "invocation_id"):
        value = context.get(key) if isinstance(context, dict) else getattr(context, key, None)
        if value:
            return str(value)
    return None


def pick_input(event, context=None):
    """Which input this invocation works on: index < POOL_SIZE is pooled (pre-generated), larger is fresh."""
    global _invocations
    event = event if isinstance(event, dict) else {}
    mode = event.get("inputMode", "same")
    if mode not in INPUT_MODES:
        raise ValueError(f"inputMode must be one of {', '.join(INPUT_MODES)}, got {mode!r}")
    base = event.get("seed", 1)
    if not isinstance(base, int) or isinstance(base, bool):
        base = 1
    n = _invocations
    _invocations += 1
    forced = event.get("index")
    if isinstance(forced, int) and not isinstance(forced, bool) and forced >= 0:
        index = forced
    elif mode == "same":
        index = 0
    elif mode == "linear":
        index = n % POOL_SIZE
    elif mode == "random":
        index = random.randrange(POOL_SIZE)
    else:
        # Unique across instances and snapshot clones: the invocation id differs even where random would not.
        inv = _invocation_id(context) or str(uuid.uuid4())
        index = POOL_SIZE + int.from_bytes(hashlib.sha256(f"{inv}:{n}".encode()).digest()[:6], "big")
    return {"mode": mode, "index": index, "seed": variant_seed(base, index), "pooled": index < POOL_SIZE}


def size_param(event, key, default, maximum):
    """Reads a positive number from the event, with a default and an upper bound (refuses nonsense early)."""
    v = (event or {}).get(key, default) if isinstance(event, dict) else default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 or v > maximum:
        raise ValueError(f"{key} must be a number in (0, {maximum}], got {v!r}")
    return v
