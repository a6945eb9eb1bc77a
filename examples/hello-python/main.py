import sys


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"message": f"Hello, {name}!", "runtime": f"python {sys.version.split()[0]}", "instance": context.instance_id}
