# The minimal function: its cold start is pure runtime start-up, the baseline for every other function.
from inputmode import pick_input, size_param

NAMES = ["world", "hivelab", "vhive", "reap"]


def handler(event, context):
    inp = pick_input(event, context)
    n = int(size_param(event, "n", 1, 100_000))
    name = event.get("name") if isinstance(event, dict) and isinstance(event.get("name"), str) else None
    if name is None:
        name = NAMES[inp["index"]] if inp["pooled"] else f"guest-{inp['seed']}"
    message = "\n".join(f"Hello, {name}!" for _ in range(n))
    return {"message": message, "name": name, "n": n, "runtime": "python", "input": inp}
