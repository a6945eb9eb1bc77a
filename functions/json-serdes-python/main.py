# FunctionBench's json_dumps_loads: parses an N MB JSON document, walks it, and re-serialises it.
import hashlib
import json
import os

from inputmode import pick_input, size_param
from inputs import POOLED_MB, make_document, pool_path

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def summarise(doc):
    # Touches every record so the re-serialised copy can be compared with the original.
    score = tags = history = 0
    for r in doc["records"]:
        score += r["score"]
        tags += len(r["tags"])
        history += len(r["history"])
    return {"records": len(doc["records"]), "scoreSum": round(score, 2), "tags": tags, "history": history}


def handler(event, context):
    inp = pick_input(event, context)
    mb = size_param(event, "mb", POOLED_MB, 512)
    # Pooled documents come from disk (like FunctionBench's object-store read); others are built here.
    generated = not (inp["pooled"] and mb == POOLED_MB and (event or {}).get("seed", 1) == 1)
    if generated:
        text = make_document(int(mb * 2**20), inp["seed"])
    else:
        with open(pool_path(DATA, inp["index"]), encoding="utf-8") as f:
            text = f.read()
    doc = json.loads(text)
    stats = summarise(doc)
    out = json.dumps(doc, separators=(",", ":"))
    again = summarise(json.loads(out))
    return {
        "mb": mb,
        "bytesIn": len(text.encode()),
        "bytesOut": len(out.encode()),
        **stats,
        "reparsedEqual": again == stats,
        "outSha256": hashlib.sha256(out.encode()).hexdigest(),
        "sample": doc["records"][0],
        "generated": generated,
        "input": inp,
    }
